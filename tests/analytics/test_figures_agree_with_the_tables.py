"""Every figure computed twice: naively, row by row in Python over the ORM, and by the
aggregate queries the pages use. They must agree exactly, for every period and version,
counted from the raw tables alone (no rollup built) and from the rollup (analytics.rollup)
with the period's edges counted live."""

from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.exports import report_json
from analytics.figures import journey_report
from analytics.filters import AnalyticsFilter
from analytics.rollup import refresh
from journeys.models import Participant

# The definitions of analytics.figures, restated from the tables' point of view: a
# participant reached a step when it has any history row there, went on from it when it is
# not there now, and is counted at its current step by its state.


def _naive(participants: list[Participant]) -> dict:
    totals = Counter()
    steps: dict[str, dict] = defaultdict(
        lambda: {
            "inflow": 0,
            "processing": 0,
            "processed": 0,
            "exited": 0,
            "exit_reasons": Counter(),
            "completed": 0,
            "paths": Counter(),
            "messages": Counter(),
            "blocked": Counter(),
        }
    )
    for participant in participants:
        totals["entered"] += 1
        state = participant.state
        totals[{"active": "active", "completed": "completed"}.get(state, "exited")] += 1
        totals["goal_met"] += participant.goal_met_at is not None
        here = participant.current_step.key if participant.current_step else None
        ran = {row.step.key for row in participant.history.all() if row.step is not None}
        for key in ran:
            step = steps[key]
            step["inflow"] += 1
            if key == here and state == "active":
                step["processing"] += 1
            elif key == here and state in ("exited", "stopped"):
                step["exited"] += 1
                step["exit_reasons"][participant.exit_reason] += 1
            else:
                step["processed"] += 1
        if state == "completed":
            steps[here]["completed"] += 1
        for row in participant.history.all():
            if row.outcome in ("yes", "no"):
                steps[row.step.key]["paths"][row.outcome] += 1
            elif row.outcome == "path":
                steps[row.step.key]["paths"][str(row.detail["path"])] += 1
        for delivery in participant.deliveries.all():
            messages = steps[delivery.step.key]["messages"]
            for stage in ("sent", "delivered", "opened", "clicked", "bounced"):
                messages[stage] += getattr(delivery, f"{stage}_at") is not None
            messages["failed"] += delivery.failed_at is not None or delivery.status == "failed"
            messages["queued"] += delivery.status == "queued"
            messages["held"] += delivery.status == "held"
            if delivery.status == "blocked":
                steps[delivery.step.key]["blocked"][delivery.reason] += 1
    return {"totals": dict(totals), "steps": steps}


def _both_ways(journey, params: dict, *, rolled_up: bool = False) -> tuple[dict, dict]:
    filters = AnalyticsFilter(params, journey=journey)
    assert filters.is_valid(), filters.errors
    # The naive side counts the FilterSet's own queryset, the report its aggregate queries.
    participants = list(filters.qs.select_related("current_step").prefetch_related("history__step", "deliveries__step"))
    naive = _naive(participants)
    journey_figures = journey_report(filters.cohort(), timezone.now())
    if rolled_up:  # whole hours came from the rollup, and only the period's edges live
        sources = journey_figures.sources
        assert sources.rolled is not None and sources.skipped == []
        assert all(end - start < timedelta(hours=1) for start, end in sources.live), sources.live
    report = report_json(journey_figures, params.get("period", "7d"))
    return naive, report


def _nonzero(counts: dict) -> dict:
    return {k: v for k, v in counts.items() if v}


PERIODS = [
    {"period": "24h"},
    {"period": "7d"},
    {"period": "30d"},
    {"period": "7d", "version": "1"},
    {"period": "30d", "version": "2"},
    {"period": "custom", "since": "2026-10-01", "until": "2026-11-21"},
]


@pytest.mark.parametrize("counted_from", ["tables", "rollup"])
@pytest.mark.parametrize("params", PERIODS, ids=lambda p: "-".join(p.values()))
def test_every_figure_agrees_with_a_row_by_row_count(scenario, params, counted_from):
    if counted_from == "rollup":
        refresh(rebuild=True)
    naive, report = _both_ways(scenario, params, rolled_up=counted_from == "rollup")
    assert_agree(naive, report)


def assert_agree(naive: dict, report: dict) -> None:

    totals = naive["totals"]
    assert {k: report[k] for k in ("entered", "active", "completed", "exited", "goal_met")} == {
        k: totals.get(k, 0) for k in ("entered", "active", "completed", "exited", "goal_met")
    }
    assert sum(b["entered"] for b in report["entries_over_time"]) == report["entered"]
    assert sum(b["goal_met"] for b in report["entries_over_time"]) == report["goal_met"]
    for step in report["steps"]:
        expected = naive["steps"].get(step["id"])
        if expected is None:  # a step nobody of the cohort reached
            assert (step["inflow"], step["processing"], step["processed"], step["exited"]) == (0, 0, 0, 0)
            continue
        assert {
            "inflow": step["inflow"],
            "processing": step["processing"],
            "processed": step["processed"],
            "exited": step["exited"],
            "exit_reasons": step["exit_reasons"],
            "completed": step["completed"],
            "paths": _nonzero(step["paths"]),
        } == {
            "inflow": expected["inflow"],
            "processing": expected["processing"],
            "processed": expected["processed"],
            "exited": expected["exited"],
            "exit_reasons": dict(expected["exit_reasons"]),
            "completed": expected["completed"],
            "paths": dict(expected["paths"]),
        }, step["id"]
        if step["messages"] is not None:
            messages = dict(step["messages"])
            blocked = _nonzero(messages.pop("blocked"))
            messages.pop("channel")
            assert _nonzero(messages) == _nonzero(expected["messages"]), step["id"]
            assert blocked == dict(expected["blocked"]), step["id"]
    assert {s["id"] for s in report["steps"]} >= set(naive["steps"])


def test_the_scenario_gives_the_figures_an_analyst_expects(scenario):
    """The 7-day period of the seed scenario, figure by figure (the contacts' stories)."""
    _, report = _both_ways(scenario, {"period": "7d"})
    steps = {s["id"]: s for s in report["steps"]}

    # ana bo cy ed fay gil (v1), hal ivy (v2), jo; "old" entered 20 days ago, di never.
    assert (report["entered"], report["active"], report["completed"], report["exited"]) == (9, 3, 4, 2)
    assert (report["goal_met"], report["goal_percent"], report["goal_target_percent"]) == (2, 22.2, 50)
    email = steps["initial-email"]
    assert (email["inflow"], email["processing"], email["processed"], email["exited"]) == (9, 0, 9, 0)
    assert email["messages"]["sent"] == 8
    assert (email["messages"]["opened"], email["messages"]["clicked"], email["messages"]["bounced"]) == (2, 1, 1)
    assert email["messages"]["blocked"]["no_address"] == 1
    opened = steps["opened"]
    assert (opened["inflow"], opened["processing"], opened["exited"], opened["exit_reasons"]) == (
        9,
        1,
        1,
        {"exit_trigger": 1},
    )
    assert (opened["paths"]["yes"], opened["paths"]["no"]) == (2, 5)
    assert opened["completed"] == 2  # bo and fay went down Yes, which is empty
    assert (steps["big-cart"]["paths"]["0"], steps["big-cart"]["paths"]["otherwise"]) == (1, 2)
    assert steps["wait-a-day"]["exit_reasons"] == {"exit_trigger": 1}
    assert (steps["wait-a-day"]["processing"], steps["final-push"]["completed"]) == (2, 2)


def test_a_journey_stopped_midway_counts_its_participants_as_stopped_where_they_were(scenario):
    from journeys.publishing import stop

    stop(scenario)
    _, report = _both_ways(scenario, {"period": "7d"})
    steps = {s["id"]: s for s in report["steps"]}

    assert (report["active"], report["exited"]) == (0, 5)
    assert steps["opened"]["exit_reasons"] == {"exit_trigger": 1, "stopped": 1}
    assert steps["wait-a-day"]["exit_reasons"] == {"exit_trigger": 1, "stopped": 2}
    assert steps["opened"]["processing"] == steps["wait-a-day"]["processing"] == 0


def test_a_custom_period_counts_whole_days_with_the_last_one_included(scenario):
    _, report = _both_ways(scenario, {"period": "custom", "since": "2026-11-02", "until": "2026-11-02"})

    assert report["entered"] == 1  # "old", 20 days before the others
    assert report["period"]["since"] == "2026-11-02T00:00:00+00:00"
    assert report["period"]["until"] == "2026-11-03T00:00:00+00:00"
    assert len(report["entries_over_time"]) == 24  # one day, hourly


def test_entries_are_counted_per_hour_up_to_two_days_and_per_day_beyond(scenario):
    _, day = _both_ways(scenario, {"period": "24h"})
    _, week = _both_ways(scenario, {"period": "7d"})

    assert (day["period"]["bucket"], len(day["entries_over_time"])) == ("hour", 24)
    assert (week["period"]["bucket"], len(week["entries_over_time"])) == ("day", 8)
    assert [b["entered"] for b in week["entries_over_time"] if b["entered"]] == [8, 1]
