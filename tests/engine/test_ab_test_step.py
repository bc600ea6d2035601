"""The A/B test step (journeys/steps/ab_test.py, journeys/abtest.py): the format with its
errors, stable assignment, the z-test, the decision on a real engine with time moving, and
the round trip through export."""

import math
from datetime import timedelta
from importlib import import_module

import pytest
from django.apps import apps as django_apps
from django.test import Client

from journeys.abtest import (
    ALPHA,
    VariantCount,
    ab_test_summary,
    check_due_tests,
    check_test,
    decide,
    two_proportion_z,
    two_sided_p,
)
from journeys.bundles import export_bundle, import_bundle
from journeys.definition import BundleError, parse_bundle
from journeys.models import ABTestResult, ABTestState, Journey, Participant, ParticipantHistory, Step
from journeys.steps.paths import split_bucket
from triggers.keys import create_api_key

from .conftest import START

AB_TEST = {
    "id": "subject-test",
    "type": "ab_test",
    "variants": [
        {"name": "A", "percent": 50, "steps": [{"id": "note-a", "type": "log", "message": "variant A"}]},
        {"name": "B", "percent": 50, "steps": [{"id": "note-b", "type": "log", "message": "variant B"}]},
    ],
    "winner": {"metric": "goal", "decide_after": "3d", "min_per_variant": 5},
}
AFTER = {"id": "wait-a-week", "type": "wait", "duration": "7d"}


def with_test(bundle: dict, test: dict) -> dict:
    bundle["journeys"][0]["steps"] = [test, AFTER]
    return bundle


@pytest.fixture
def ab_journey(db, clock, seed_bundle) -> Journey:
    import_bundle(with_test(seed_bundle, AB_TEST), publish_journeys=True)
    return Journey.objects.get(key="abandoned-cart")


@pytest.fixture
def enter(raise_event):
    def _enter(n: int, start: int = 0) -> list[Participant]:
        for i in range(start, start + n):
            raise_event("abandoned_cart", {"id": f"c{i}", "email": f"c{i}@example.com"}, {"cart_total": 80})
        return list(Participant.objects.filter(contact__external_id__in=[f"c{i}" for i in range(start, start + n)]))

    return _enter


def variant_of(participant: Participant) -> str:
    return participant.history.get(step_key="subject-test").detail["variant"]


def errors_of(bundle: dict) -> list[str]:
    with pytest.raises(BundleError) as caught:
        parse_bundle(bundle)
    return [str(p) for p in caught.value.problems]


# --- The format ---------------------------------------------------------------------------


def test_an_ab_test_round_trips_through_export(ab_journey):
    exported = export_bundle(["abandoned-cart"])

    assert exported["journeys"][0]["steps"][0] == AB_TEST


def test_decide_after_is_written_in_its_shortest_form(seed_bundle):
    test = {**AB_TEST, "winner": {"metric": "goal", "decide_after": "PT72H", "min_per_variant": 5}}
    bundle = parse_bundle(with_test(seed_bundle, test))

    assert bundle.journeys[0].steps[0].settings == {"metric": "goal", "decide_after": "3d", "min_per_variant": 5}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"variants": [{"name": "A", "percent": 100, "steps": []}]},
            "journeys[0].steps[0].variants: an A/B test has 2 to 4 variants",
        ),
        (
            {"variants": [{"name": "A", "percent": 50, "steps": []}, {"name": "B", "percent": 40, "steps": []}]},
            "journeys[0].steps[0].variants: percentages must add up to 100",
        ),
        (
            {"variants": [{"name": "A", "percent": 50, "steps": []}, {"name": "A", "percent": 50, "steps": []}]},
            "journeys[0].steps[0].variants[1].name: 'A' names another variant: variant names must be unique",
        ),
        (
            {"variants": [{"name": "A", "percent": 0, "steps": []}, {"name": "B", "percent": 100, "steps": []}]},
            "journeys[0].steps[0].variants[0].percent: must be a whole number from 1 to 100",
        ),
        (
            {"variants": [{"percent": 50, "steps": []}, {"name": "B", "percent": 50, "steps": []}]},
            "journeys[0].steps[0].variants[0].name: is required",
        ),
        (
            {"variants": [{"name": f"V{i}", "percent": 20, "steps": []} for i in range(5)]},
            "journeys[0].steps[0].variants: an A/B test has 2 to 4 variants",
        ),
        (
            {"winner": {"metric": "revenue", "decide_after": "3d", "min_per_variant": 5}},
            "journeys[0].steps[0].winner.metric: must be one of goal, open_rate, click_rate",
        ),
        (
            {"winner": {"metric": "goal", "decide_after": "soon", "min_per_variant": 5}},
            "journeys[0].steps[0].winner.decide_after: 'soon' is not a duration: use 30s, 15m, 2h, 1d, 2w or ISO 8601 like P1D",
        ),
        (
            {"winner": {"metric": "goal", "decide_after": "3d", "min_per_variant": 0}},
            "journeys[0].steps[0].winner.min_per_variant: must be a whole number of at least 1",
        ),
        (
            {"winner": {"metric": "goal", "min_per_variant": 5}},
            "journeys[0].steps[0].winner.decide_after: is required: a duration such as 3d",
        ),
        (
            {"winner": {"metric": "open_rate", "decide_after": "3d", "min_per_variant": 5}},
            "journeys[0].steps[0].variants[0].steps: winner.metric open_rate needs an email step in every variant; A has none",
        ),
        ({"winner": None}, "journeys[0].steps[0].winner: is required: the metric, decide_after and min_per_variant"),
        ({"paths": []}, "journeys[0].steps[0].paths: is not a field of a ab_test step"),
    ],
)
def test_an_ab_test_names_the_field_and_the_rule_of_each_mistake(seed_bundle, change, expected):
    test = {**AB_TEST, **change}
    if change.get("winner", 1) is None:
        del test["winner"]

    assert expected in errors_of(with_test(seed_bundle, test))


def test_the_email_rule_is_met_by_an_email_at_any_depth_of_each_variant(seed_bundle):
    email = {"id": "email-a", "type": "email", "content": "initial-email-reminder", "to": "contact.email"}
    nested = {
        "id": "inner",
        "type": "split",
        "paths": [
            {"name": "x", "percent": 50, "steps": [{**email, "id": "email-b"}]},
            {"name": "y", "percent": 50, "steps": []},
        ],
    }
    test = {
        **AB_TEST,
        "variants": [
            {"name": "A", "percent": 50, "steps": [email]},
            {"name": "B", "percent": 50, "steps": [nested]},
        ],
        "winner": {"metric": "click_rate", "decide_after": "1d", "min_per_variant": 10},
    }

    assert parse_bundle(with_test(seed_bundle, test)).journeys[0].steps[0].paths[1].steps[0].id == "inner"


def test_publishing_a_goal_test_needs_the_journeys_goal(db, seed_bundle):
    bundle = with_test(seed_bundle, AB_TEST)
    del bundle["journeys"][0]["goal"]
    from journeys.publishing import publish_problems

    import_bundle(bundle)
    version = Journey.objects.get(key="abandoned-cart").versions.get()

    assert [str(p) for p in publish_problems(version)] == [
        "step subject-test: winner.metric goal needs the journey's goal: choose a goal trigger"
    ]


# --- The statistics (pure) -------------------------------------------------------------


def test_the_p_value_matches_the_normal_table():
    assert two_sided_p(0) == 1.0
    assert two_sided_p(1.959964) == pytest.approx(0.05, abs=1e-6)
    assert two_sided_p(-1.959964) == pytest.approx(0.05, abs=1e-6)
    assert two_sided_p(2.575829) == pytest.approx(0.01, abs=1e-6)
    assert two_sided_p(1.644854) == pytest.approx(0.10, abs=1e-6)
    assert two_sided_p(3.290527) == pytest.approx(0.001, abs=1e-7)


def test_the_two_proportion_z_test_matches_textbook_examples():
    # 120/200 against 100/200: pooled 0.55, SE = sqrt(0.55 * 0.45 * (1/200 + 1/200)) = 0.049749.
    z, p = two_proportion_z(120, 200, 100, 200)
    assert z == pytest.approx(0.1 / math.sqrt(0.55 * 0.45 * 0.01), rel=1e-12)
    assert (round(z, 4), round(p, 4)) == (2.0101, 0.0444)
    # Devore's example: 63/300 against 75/180 (surveyed rates of 0.21 and 0.4167): z = -4.8.
    z, p = two_proportion_z(63, 300, 75, 180)
    assert round(z, 2) == -4.84
    assert p < 1e-5
    # A and B swapped: the sign turns, the p-value stays.
    assert two_proportion_z(100, 200, 120, 200)[0] == pytest.approx(-2.0101, abs=1e-4)


def test_no_evidence_without_trials_or_variance():
    assert two_proportion_z(0, 0, 5, 10) == (0.0, 1.0)
    assert two_proportion_z(0, 10, 0, 10) == (0.0, 1.0)
    assert two_proportion_z(10, 10, 20, 20) == (0.0, 1.0)


def test_decide_waits_then_picks_the_best_against_the_runner_up():
    due_at = START
    counts = [VariantCount("A", 200, 100, 200), VariantCount("B", 200, 120, 200), VariantCount("C", 200, 60, 200)]

    assert decide(counts, 100, due=False, due_at=due_at).message == "collecting until 2026-11-02 09:00 UTC"
    short = decide(counts, 201, due=True, due_at=due_at)
    assert (short.state, short.message) == (
        "collecting",
        "collecting: waiting for 201 participants per variant (A: 200, B: 200, C: 200)",
    )
    verdict = decide(counts, 100, due=True, due_at=due_at)
    assert (verdict.state, verdict.winner, round(verdict.z or 0, 4), round(verdict.p_value or 0, 4)) == (
        "decided",
        1,
        2.0101,
        0.0444,
    )
    assert verdict.message == "B wins against A: p = 0.0444"


def test_decide_goes_on_when_the_difference_may_be_chance():
    verdict = decide([VariantCount("A", 100, 30, 100), VariantCount("B", 100, 36, 100)], 100, due=True, due_at=START)

    assert verdict.state == "undecided"
    assert verdict.p_value is not None and verdict.p_value > ALPHA
    assert verdict.message == "undecided: p = 0.37, checking again every 5 minutes"


# --- Assignment --------------------------------------------------------------------------


def test_assignment_is_stable_and_follows_the_shares(ab_journey, enter):
    participants = enter(40)
    step = Step.objects.get(key="subject-test")

    for participant in participants:
        expected = "A" if split_bucket(participant.pk, "subject-test") < 50 else "B"
        assert variant_of(participant) == expected
        assert participant.history.get(step_key=f"note-{expected.lower()}").outcome == "logged"
    # The shares over many participants (the same function): close to 30/70.
    buckets = [split_bucket(pk, "subject-test") for pk in range(10_000)]
    assert sum(b < 30 for b in buckets) / 10_000 == pytest.approx(0.30, abs=0.02)
    assert sum(1 for p in participants if variant_of(p) == "A") == (
        ParticipantHistory.objects.filter(step=step, detail__path=0).count()
    )


# --- The decision on the real engine ----------------------------------------------------


def goals_for(participants: list[Participant], raise_event, share: dict[str, float]) -> None:
    """Raise purchases for the given share of each variant's participants."""
    by_variant: dict[str, list[Participant]] = {}
    for participant in participants:
        by_variant.setdefault(variant_of(participant), []).append(participant)
    for variant, members in by_variant.items():
        for participant in members[: round(len(members) * share[variant])]:
            raise_event("purchase_completed", {"id": participant.contact.external_id}, {"order_total": 10})


def test_a_significant_winner_takes_every_new_participant(ab_journey, enter, raise_event, clock, run_sweep):
    first = enter(40)
    goals_for(first, raise_event, {"A": 0.9, "B": 0.1})
    step = Step.objects.get(key="subject-test")

    clock.shift(timedelta(days=2))
    assert check_due_tests(START + timedelta(days=2)) == 0
    assert not ABTestResult.objects.exists()  # not due: nothing to check
    clock.shift(timedelta(days=1))
    from journeys.tasks import check_ab_tests

    assert check_ab_tests() == "1 A/B tests decided"

    result = ABTestResult.objects.get(step=step)
    assert (result.state, result.winner, result.winner_path) == ("decided", "A", 0)
    assert result.decided_at == START + timedelta(days=3)
    assert result.p_value is not None and result.p_value < 0.001
    assert [c["variant"] for c in result.counts] == ["A", "B"]
    a, b = result.counts
    assert a["successes"] == round(a["participants"] * 0.9) and b["successes"] == round(b["participants"] * 0.1)
    assert a["trials"] == a["participants"] and a["rate"] == pytest.approx(a["successes"] / a["trials"], abs=1e-6)
    # Those already assigned keep theirs; every new participant takes A.
    before = {p.pk: variant_of(p) for p in first}
    newcomers = enter(10, start=100)
    assert {variant_of(p) for p in newcomers} == {"A"}
    assert {p.history.get(step_key="subject-test").detail["assigned"] for p in newcomers} == {"winner"}
    assert {p.pk: variant_of(p) for p in Participant.objects.filter(pk__in=before)} == before
    # A later check changes nothing.
    clock.shift(timedelta(hours=1))
    assert check_test(step, START + timedelta(days=3, hours=1)).decided_at == START + timedelta(days=3)


def test_an_undecided_test_goes_on_and_says_so(ab_journey, enter, raise_event, clock):
    first = enter(40)
    goals_for(first, raise_event, {"A": 0.5, "B": 0.45})
    step = Step.objects.get(key="subject-test")

    clock.shift(timedelta(days=3))
    assert check_due_tests(START + timedelta(days=3)) == 0

    result = ABTestResult.objects.get(step=step)
    assert result.state == "undecided"
    assert result.winner == "" and result.p_value is not None and result.p_value > ALPHA
    assert result.message == f"undecided: p = {result.p_value:.2g}, checking again every 5 minutes"
    assert result.last_checked_at == START + timedelta(days=3)
    # New participants are still assigned at random.
    assert {p.history.get(step_key="subject-test").detail["assigned"] for p in enter(4, start=100)} == {"random"}


def test_the_test_waits_for_min_per_variant_and_a_later_arrival_decides_it(db, clock, seed_bundle, enter, raise_event):
    test = {**AB_TEST, "winner": {"metric": "goal", "decide_after": "1d", "min_per_variant": 15}}
    import_bundle(with_test(seed_bundle, test), publish_journeys=True)
    step = Step.objects.get(key="subject-test")
    first = enter(12)
    goals_for(first, raise_event, {"A": 1.0, "B": 0.0})

    clock.shift(timedelta(days=1, minutes=1))
    check_due_tests(START + timedelta(days=1, minutes=1))
    result = ABTestResult.objects.get(step=step)
    assert result.state == "collecting"
    assert result.message.startswith("collecting: waiting for 15 participants per variant (A: ")

    # More people arrive; after the lazy-check interval, an arrival checks the test itself.
    second = enter(30, start=100)
    goals_for(second, raise_event, {"A": 1.0, "B": 0.0})
    clock.shift(timedelta(minutes=2))
    latecomer = enter(1, start=500)[0]
    result.refresh_from_db()
    assert (result.state, result.winner) == ("decided", "A")
    assert result.decided_at == START + timedelta(days=1, minutes=3)
    assert latecomer.history.get(step_key="subject-test").detail == {
        "path": 0,
        "name": "A",
        "variant": "A",
        "assigned": "winner",
    }


def test_a_decision_is_never_overwritten_by_a_second_checker(ab_journey, enter, raise_event, clock):
    goals_for(enter(40), raise_event, {"A": 0.9, "B": 0.1})
    step = Step.objects.get(key="subject-test")
    clock.shift(timedelta(days=3))
    decided = check_test(step, START + timedelta(days=3))
    # A checker that read the row before the decision and writes after it writes nothing.
    ABTestResult.objects.filter(pk=decided.pk).update(state=ABTestState.DECIDED)
    again = check_test(step, START + timedelta(days=4))

    assert (again.decided_at, again.last_checked_at) == (START + timedelta(days=3), START + timedelta(days=3))


def test_the_summary_and_the_participants_api_show_the_variant(ab_journey, enter, raise_event, clock):
    participant = enter(1)[0]
    step = Step.objects.get(key="subject-test")
    summary = ab_test_summary(step, START)

    assert (summary["state"], summary["message"], summary["metric_label"]) == (
        "collecting",
        "collecting until 2026-11-05 09:00 UTC",
        "Goal reached",
    )
    assert [(v["variant"], v["participants"], v["percent"]) for v in summary["variants"]] == [
        ("A", int(variant_of(participant) == "A"), 50),
        ("B", int(variant_of(participant) == "B"), 50),
    ]
    _, key = create_api_key("reports", scope="read", source="shop")
    answer = Client().get("/api/v1/participants/?journey=abandoned-cart", HTTP_AUTHORIZATION=f"Bearer {key}").json()
    history = answer["results"][0]["history"]
    assert [(h["step"], h["variant"]) for h in history][:2] == [
        ("", None),
        ("subject-test", variant_of(participant)),
    ]


def test_the_simulator_shows_the_variant_taken(ab_journey):
    from journeys.simulation import SimulatedEvent, simulate

    timeline = simulate(
        "abandoned-cart",
        {"id": "t1", "email": "t1@example.com"},
        [SimulatedEvent(timedelta(0), "abandoned_cart", {"cart_total": 80})],
    )

    row = next(e for e in timeline if e.step == "subject-test")
    assert (row.outcome, row.detail in ("variant A (random)", "variant B (random)")) == ("path", True)
    note = next(e for e in timeline if e.step.startswith("note-"))
    assert note.step == f"note-{row.detail[8].lower()}"
    assert not Participant.objects.exists() and not ABTestResult.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_workers_checking_at_once_decide_once(seed_bundle, raise_event, clock):
    """Two threads, two database connections, one result row: one decision, written once."""
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite has one writer)")
    import_module("triggers.migrations.0002_builtin_triggers").create_builtin_triggers(django_apps, None)
    import_bundle(with_test(seed_bundle, AB_TEST), publish_journeys=True)
    for i in range(40):
        raise_event("abandoned_cart", {"id": f"c{i}", "email": f"c{i}@example.com"}, {"cart_total": 80})
    goals_for(list(Participant.objects.all()), raise_event, {"A": 0.9, "B": 0.1})
    step = Step.objects.get(key="subject-test")
    barrier, results, at = threading.Barrier(2), [], START + timedelta(days=3)

    def worker(offset: int) -> None:
        try:
            barrier.wait()
            results.append(
                check_test(Step.objects.select_related("version").get(pk=step.pk), at + timedelta(seconds=offset))
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    stored = ABTestResult.objects.get()
    assert stored.state == "decided" and stored.winner == "A"
    assert {(r.winner, r.decided_at) for r in results} == {("A", stored.decided_at)}
    assert ABTestResult.objects.count() == 1


def test_the_check_runs_every_five_minutes_as_a_django_q2_schedule(db):
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="Check A/B tests")

    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "journeys.tasks.check_ab_tests",
        Schedule.MINUTES,
        5,
        -1,
    )


def test_a_failing_check_on_arrival_lets_the_participant_go_on_at_random(ab_journey, enter, clock, monkeypatch):
    import journeys.abtest

    def broken(step, now, wait=True):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(journeys.abtest, "check_test", broken)
    clock.shift(timedelta(days=3))

    (participant,) = enter(1)
    assert participant.history.get(step_key="subject-test").detail["assigned"] == "random"
    assert participant.current_step.key == "wait-a-week"


@pytest.mark.django_db(transaction=True)
def test_an_arrival_does_not_wait_for_a_check_in_progress(seed_bundle, raise_event, clock):
    """While the schedule's check holds the result row, a participant arriving skips the
    lazy check (SKIP LOCKED) and takes a variant at random instead of waiting."""
    import threading

    from django.db import connection, connections, transaction

    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    import_module("triggers.migrations.0002_builtin_triggers").create_builtin_triggers(django_apps, None)
    import_bundle(with_test(seed_bundle, AB_TEST), publish_journeys=True)
    step = Step.objects.select_related("version").get(key="subject-test")
    ABTestResult.objects.create(step=step)
    held, release = threading.Event(), threading.Event()

    def checker() -> None:
        try:
            with transaction.atomic():
                ABTestResult.objects.select_for_update().get(step=step)
                held.set()
                release.wait(30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=checker)
    thread.start()
    try:
        assert held.wait(30)
        clock.shift(timedelta(days=3))
        result = check_test(step, START + timedelta(days=3), wait=False)
        assert (result.state, result.last_checked_at) == ("collecting", None)
    finally:
        release.set()
        thread.join()
