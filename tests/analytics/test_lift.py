"""The lift of a journey over its holdout group, against published values."""

import pytest

from analytics.lift import Lift, newcombe, wald, wilson


def test_wilson_interval_matches_newcombes_table():
    # Newcombe 1998 (single proportion paper, method 3): 81/263 -> 0.2553 to 0.3662.
    low, high = wilson(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)


def test_newcombe_hybrid_score_interval_for_a_difference_matches_the_paper():
    # Newcombe 1998, difference example (a): 56/70 - 48/80.
    difference, low, high = newcombe(56, 70, 48, 80)
    assert (round(difference, 4), round(low, 4), round(high, 4)) == (0.2, 0.0524, 0.3339)


def test_the_wald_interval_for_reference():
    _, low, high = wald(56, 70, 48, 80)
    assert (round(low, 4), round(high, 4)) == (0.0575, 0.3425)


def test_newcombe_stays_within_bounds_where_wald_does_not():
    _, low, high = newcombe(10, 10, 0, 10)
    assert -1 <= low <= high <= 1
    _, wald_low, wald_high = wald(10, 10, 0, 10)
    assert (wald_low, wald_high) == (1.0, 1.0)  # Wald's degenerate interval


def test_lift_of_treatment_over_holdout():
    lift = Lift(treatment_entered=70, treatment_goal_met=56, holdout_entered=80, holdout_goal_met=48)

    assert lift.treatment_rate == 0.8 and lift.holdout_rate == 0.6
    assert lift.difference == pytest.approx(0.2)
    assert lift.relative == pytest.approx(1 / 3)
    assert lift.significant
    data = lift.as_dict()
    assert (data["lift_points"], data["lift_relative_percent"], data["confidence_interval_points"]) == (
        20.0,
        33.33,
        [5.24, 33.39],
    )


def test_no_lift_without_both_groups():
    lift = Lift(treatment_entered=10, treatment_goal_met=3, holdout_entered=0, holdout_goal_met=0)

    assert (lift.difference, lift.interval, lift.relative, lift.significant) == (None, None, None, False)
    assert lift.as_dict()["confidence_interval_points"] is None


def test_a_holdout_that_never_meets_the_goal_has_no_relative_lift():
    lift = Lift(treatment_entered=20, treatment_goal_met=5, holdout_entered=5, holdout_goal_met=0)

    assert lift.difference == 0.25 and lift.relative is None
