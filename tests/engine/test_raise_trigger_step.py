"""The raise-a-trigger step: a journey raises a custom trigger for its contact, and the
event takes the API's path (stored, then processed by the engine) so that other journeys
start, exit, meet goals and take Yes paths on it."""

import json

import pytest
from django.core import mail

from journeys.bundles import export_bundle, import_bundle, version_to_spec
from journeys.definition import BundleError, parse_bundle
from journeys.designer.canvas import Names, build_canvas
from journeys.models import Journey, JourneyVersion, Participant, ParticipantState
from journeys.publishing import PublishError, publish
from journeys.simulation import parse_event, simulate
from journeys.steps import leaving_outcomes
from journeys.steps.raise_trigger import MAX_HOPS
from triggers.models import Event

ANA = {"id": "ana", "email": "ana@example.com"}

VIP = {
    "key": "vip_flagged",
    "name": "VIP flagged",
    "status": "ready",
    "attributes": [
        {"name": "total", "type": "number", "required": True},
        {"name": "big", "type": "boolean"},
        {"name": "note", "type": "text"},
    ],
}
BROWSED = {"key": "browsed", "name": "Browsed", "status": "ready", "attributes": []}
RAISE = {
    "id": "flag-vip",
    "type": "raise_trigger",
    "trigger": "vip_flagged",
    "attributes": {
        "total": "{{ trigger.cart_total }}",
        "big": "{% if trigger.cart_total > 100 %}yes{% else %}no{% endif %}",
    },
}


def flagging(steps=None, key="flag-vips", start="abandoned_cart", **extra) -> dict:
    return {
        "key": key,
        "name": key.replace("-", " ").title(),
        "start": {"trigger": start, "repeat": "immediately"},
        "steps": steps or [RAISE],
        **extra,
    }


def welcoming() -> dict:
    return {
        "key": "welcome-vips",
        "name": "Welcome VIPs",
        "start": {"trigger": "vip_flagged", "conditions": [{"attribute": "total", "operator": ">", "value": 50}]},
        "steps": [{"id": "welcome", "type": "email", "content": "initial-email-reminder"}],
    }


@pytest.fixture
def bundle(seed_bundle) -> dict:
    seed_bundle["triggers"] += [VIP, BROWSED]
    seed_bundle["journeys"] = [flagging(), welcoming()]
    return seed_bundle


@pytest.fixture
def live(db, clock, bundle):
    import_bundle(bundle, publish_journeys=True)


def test_a_raised_trigger_starts_another_journey_that_sends_its_email(live, raise_event):
    raise_event("abandoned_cart", ANA, {"cart_total": 180})

    raised = Event.objects.get(trigger__key="vip_flagged")
    assert (raised.source, raised.event_id, raised.contact_key, raised.hops) == (
        "journey:flag-vips",
        f"p{Participant.objects.get(journey__key='flag-vips').pk}:flag-vip",
        "ana",
        1,
    )
    assert raised.attributes == {"total": 180, "big": True}
    assert raised.processed_at is not None
    flagger = Participant.objects.get(journey__key="flag-vips")
    row = flagger.history.get(step_key="flag-vip", outcome="raised")
    assert (row.outcome, row.detail["event"], row.detail["hops"]) == ("raised", raised.pk, 1)
    welcomed = Participant.objects.get(journey__key="welcome-vips")
    assert welcomed.entry_event_id == raised.pk
    assert [m.to for m in mail.outbox] == [["ana@example.com"]]


def test_raising_satisfies_a_goal_an_exit_and_a_wait_for_of_other_journeys(db, clock, bundle, raise_event):
    bundle["journeys"] = [
        flagging(),
        {
            "key": "waiting",
            "name": "Waiting",
            "start": {"trigger": "browsed"},
            "goal": {"trigger": "vip_flagged", "target_percent": 10},
            "steps": [
                {
                    "id": "wait-vip",
                    "type": "wait_for",
                    "trigger": "vip_flagged",
                    "within": "1d",
                    "yes": [{"id": "yes-note", "type": "log", "message": "a VIP"}],
                    "no": [],
                }
            ],
        },
        {
            "key": "leaving",
            "name": "Leaving",
            "start": {"trigger": "browsed"},
            "exit": {"triggers": ["vip_flagged"]},
            "steps": [{"id": "pause", "type": "wait", "duration": "1d"}],
        },
    ]
    import_bundle(bundle, publish_journeys=True)
    raise_event("browsed", ANA)
    clock.shift(60)

    raise_event("abandoned_cart", ANA, {"cart_total": 80})

    waiting = Participant.objects.get(journey__key="waiting")
    assert waiting.goal_met_at is not None
    assert list(waiting.history.values_list("outcome", flat=True)) == [
        "entered",
        "waiting",
        "goal_met",
        "yes",
        "logged",
        "completed",
    ]
    leaving = Participant.objects.get(journey__key="leaving")
    assert (leaving.state, leaving.exit_reason) == (ParticipantState.EXITED, "exit_trigger")


def test_a_step_run_twice_stores_one_event(live, raise_event):
    from journeys.runtime import Run, plan_for
    from journeys.steps import kind_of
    from journeys.transitions import Writes

    raise_event("abandoned_cart", ANA, {"cart_total": 80})
    participant = Participant.objects.select_related("journey", "contact", "entry_event").get(journey__key="flag-vips")
    plan = plan_for(participant.version)
    step = plan.first_step
    writes = Writes()

    kind_of("raise_trigger").execute(Run(participant, step, plan, participant.entered_at, False, writes))
    writes.flush()

    assert Event.objects.filter(trigger__key="vip_flagged").count() == 1
    rows = participant.history.filter(step_key="flag-vip", outcome="raised")
    assert [r.outcome for r in rows] == ["raised", "raised"]
    assert rows[0].detail["event"] == rows[1].detail["event"]


def test_a_value_that_does_not_fit_the_schema_is_a_failure_and_the_participant_goes_on(db, clock, bundle, raise_event):
    bad = {**RAISE, "attributes": {"total": "{{ trigger.cart_url }}"}}
    bundle["journeys"] = [flagging([bad, {"id": "after", "type": "log", "message": "went on"}])]
    import_bundle(bundle, publish_journeys=True)

    raise_event("abandoned_cart", ANA, {"cart_total": 80, "cart_url": "https://shop.example/cart"})

    participant = Participant.objects.get()
    failed = participant.history.get(step_key="flag-vip", outcome="failed")
    assert failed.outcome == "failed"
    assert failed.detail["errors"] == [
        {
            "field": "attributes.total",
            "code": "wrong_type",
            "message": "Expected number, got 'https://shop.example/cart'.",
        }
    ]
    assert participant.history.filter(step_key="after", outcome="logged").exists()
    assert participant.state == ParticipantState.COMPLETED
    assert not Event.objects.filter(trigger__key="vip_flagged").exists()


def test_a_missing_required_attribute_is_a_failure_naming_the_field(db, clock, bundle, raise_event):
    bundle["journeys"] = [flagging([{**RAISE, "attributes": {"note": "hi"}}])]
    import_bundle(bundle, publish_journeys=True)

    raise_event("abandoned_cart", ANA, {"cart_total": 80})

    failed = Participant.objects.get().history.get(step_key="flag-vip", outcome="failed")
    assert [(e["field"], e["code"]) for e in failed.detail["errors"]] == [("attributes.total", "required")]


def test_a_loop_between_two_journeys_is_cut_after_five_hops(db, clock, bundle, raise_event):
    bundle["triggers"] += [
        {"key": "ping", "name": "Ping", "status": "ready", "attributes": []},
        {"key": "pong", "name": "Pong", "status": "ready", "attributes": []},
    ]
    bundle["journeys"] = [
        flagging([{"id": "send-pong", "type": "raise_trigger", "trigger": "pong", "attributes": {}}], "pinger", "ping"),
        flagging([{"id": "send-ping", "type": "raise_trigger", "trigger": "ping", "attributes": {}}], "ponger", "pong"),
    ]
    import_bundle(bundle, publish_journeys=True)

    raise_event("ping", ANA)

    assert sorted(Event.objects.values_list("hops", flat=True)) == [0, 1, 2, 3, 4, 5]
    assert Participant.objects.count() == MAX_HOPS + 1
    cut = Participant.objects.filter(history__outcome="cut").get()
    row = cut.history.get(outcome="cut")
    assert row.detail == {
        "trigger": "ping",
        "hops": 6,
        "reason": "a chain of triggers raised by journeys is cut after 5 hops",
    }
    assert cut.state == ParticipantState.COMPLETED


def test_a_journey_cannot_raise_its_own_start_trigger(db, clock, bundle):
    bundle["journeys"] = [flagging([{**RAISE, "trigger": "abandoned_cart", "attributes": {}}])]

    with pytest.raises(BundleError) as caught:
        parse_bundle(bundle)

    problem = next(p for p in caught.value.problems if p.path.step == "flag-vip")
    assert (problem.code, problem.field, problem.message) == (
        "conflict",
        "trigger",
        "a journey cannot raise its own start trigger (it would loop)",
    )


def test_publishing_refuses_the_own_start_trigger_and_a_draft_trigger(live):
    version = JourneyVersion.objects.get(journey__key="flag-vips")
    from journeys.publishing import open_draft

    draft = open_draft(version.journey)
    step = draft.steps.get(key="flag-vip")
    step.trigger = draft.start_trigger
    step.save()
    with pytest.raises(PublishError) as caught:
        publish(draft)
    assert [str(p) for p in caught.value.problems] == [
        "step flag-vip: the journey cannot raise its own start trigger 'Abandoned cart'",
        "step flag-vip: attribute big: the trigger 'abandoned_cart' has no attribute 'big' (it has: "
        "cart, cart.currency, cart.items, cart_total, cart_url)",
        "step flag-vip: attribute total: the trigger 'abandoned_cart' has no attribute 'total' (it has: "
        "cart, cart.currency, cart.items, cart_total, cart_url)",
    ]

    step.trigger = Event.objects.none().model._meta.get_field("trigger").related_model.objects.get(key="vip_flagged")
    step.save()
    step.trigger.status = "draft"
    step.trigger.save()
    with pytest.raises(PublishError) as caught:
        publish(draft)
    [problem] = caught.value.problems
    assert (problem.where, problem.message, problem.fix) == (
        "step flag-vip",
        "trigger 'VIP flagged' is not Ready to use",
        ("trigger", "vip_flagged"),
    )


def test_unknown_attributes_and_bad_templates_are_refused_by_the_format(bundle):
    bundle["journeys"] = [flagging([{**RAISE, "attributes": {"nope": "1", "total": "{% if %}"}}])]

    with pytest.raises(BundleError) as caught:
        parse_bundle(bundle)

    assert sorted((p.field, p.code) for p in caught.value.problems) == [
        ("attributes.nope", "unknown"),
        ("attributes.total", "invalid"),
    ]


def test_the_step_round_trips_through_export_with_its_trigger(live):
    exported = export_bundle(["flag-vips"])

    assert exported["journeys"][0]["steps"] == [RAISE]
    assert "vip_flagged" in [t["key"] for t in exported["triggers"]]
    again = parse_bundle(json.loads(json.dumps(exported)))
    assert again.journeys[0].steps[0].settings == {"attributes": RAISE["attributes"]}


def test_the_canvas_and_the_funnel_know_the_step(live):
    spec = version_to_spec(JourneyVersion.objects.get(journey__key="flag-vips"))
    tile = build_canvas(spec, Names(triggers={"vip_flagged": "VIP flagged"})).items[1]

    assert (tile.kind, tile.summary) == ("raise_trigger", "Raise VIP flagged with big, total")
    assert {"raised", "cut", "failed", "held_out"} <= set(leaving_outcomes())


def test_the_simulator_shows_the_raised_event(live):
    timeline = simulate("flag-vips", {"id": "sim"}, [parse_event('0 abandoned_cart {"cart_total": 70}')])

    raised = next(e for e in timeline if e.step == "flag-vip")
    assert (raised.outcome, raised.detail) == ("raised", 'trigger vip_flagged {"big": false, "total": 70} (hop 1)')
    assert not Event.objects.filter(trigger__key="vip_flagged").exists()  # rolled back
    assert Journey.objects.get(key="flag-vips").participants.count() == 0


def test_the_funnel_counts_raised_cut_failed_and_held_out(db, clock, bundle, raise_event):
    from datetime import timedelta

    from django.utils import timezone

    from analytics.figures import Cohort, journey_report
    from journeys.holdout import in_holdout

    bundle["journeys"] = [flagging(holdout_percent=50)]
    import_bundle(bundle, publish_journeys=True)
    people = [f"cust-{n}" for n in range(20)]
    for key in people:
        raise_event("abandoned_cart", {"id": key}, {"cart_total": 80})
    journey = Journey.objects.get(key="flag-vips")

    now = timezone.now()
    report = journey_report(Cohort(journey, now - timedelta(days=1), now + timedelta(days=1)), now)

    step = next(s for s in report.steps if s.key == "flag-vip")
    held = sum(in_holdout("flag-vips", k, 50) for k in people)
    assert 0 < held < len(people)
    assert step.processed == len(people)
    assert {p.key: p.count for p in step.paths} == {
        "raised": len(people) - held,
        "cut": 0,
        "failed": 0,
        "held_out": held,
    }
    assert [p.label for p in step.paths] == ["Raised", "Cut (too many hops)", "Failed", "Held out"]
