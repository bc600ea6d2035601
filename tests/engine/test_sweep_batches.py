"""The sweep advances due participants in batches: one transaction per batch, and a
broken participant neither holds back the others nor loses its place."""

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from journeys.models import Delivery, Participant, ParticipantHistory
from journeys.steps import kind_of

ANA = {"id": "ana", "email": "ana@example.com", "phone": "+15550000001", "push_token": "tok-ana"}
BEN = {"id": "ben", "email": "ben@example.com", "phone": "+15550000002", "push_token": "tok-ben"}


def _both_waiting_for_the_open(raise_event, clock):
    raise_event("abandoned_cart", ANA, {"cart_total": 80})
    raise_event("abandoned_cart", BEN, {"cart_total": 90})
    clock.shift(timedelta(hours=25))
    participants = Participant.objects.order_by("pk")
    return participants.filter(contact__external_id="ana")[0], participants.filter(contact__external_id="ben")[0]


def test_a_batch_advances_every_due_participant_with_writes_that_do_not_grow_per_step(
    seed_journey, raise_event, run_sweep, clock
):
    _both_waiting_for_the_open(raise_event, clock)

    with CaptureQueriesContext(connection) as queries:
        report = run_sweep()

    assert report.participants_due == 2
    for contact in ("ana", "ben"):
        participant = Participant.objects.get(contact__external_id=contact)
        assert participant.current_step.key == "wait-a-day"
        assert Delivery.objects.get(participant=participant, step__key="second-text").status == "sent"
        outcomes = list(
            ParticipantHistory.objects.filter(participant=participant).order_by("pk").values_list("outcome", flat=True)
        )
        assert outcomes == ["entered", "sent", "waiting", "no", "sent", "waiting"]
    # Each participant's row and history are written once for the whole batch, not per step.
    participant_updates = [q for q in queries.captured_queries if q["sql"].startswith('UPDATE "journeys_participant"')]
    history_inserts = [q for q in queries.captured_queries if 'INTO "journeys_participanthistory"' in q["sql"]]
    delivery_inserts = [q for q in queries.captured_queries if 'INTO "journeys_delivery"' in q["sql"]]
    assert len(participant_updates) == 1
    assert len(history_inserts) == 1
    assert len(delivery_inserts) == 1
    # Each history row names its participant's own text message.
    for delivery in Delivery.objects.filter(step__key="second-text"):
        sent = ParticipantHistory.objects.get(participant=delivery.participant, step__key="second-text")
        assert sent.detail == {"channel": "text", "delivery": delivery.pk}


def test_a_participant_that_fails_is_retried_later_and_the_rest_of_its_batch_goes_on(
    seed_journey, raise_event, run_sweep, clock, monkeypatch
):
    ana, ben = _both_waiting_for_the_open(raise_event, clock)
    wait_for = kind_of("wait_for")
    real_wait_for = wait_for.execute

    def broken_for_ana(run):
        if run.participant.pk == ana.pk:
            raise ValueError("a broken row")
        return real_wait_for(run)

    monkeypatch.setattr(wait_for, "execute", broken_for_ana)
    run_sweep()

    ben.refresh_from_db()
    assert ben.current_step.key == "wait-a-day"
    ana.refresh_from_db()
    assert ana.current_step.key == "opened"  # kept where it was
    assert ana.attempts == 1
    assert "ValueError: a broken row" in ana.last_error
    assert ana.wake_at == timezone.now() + timedelta(seconds=30)  # the first back-off
    assert not Delivery.objects.filter(participant=ana, step__key="second-text").exists()
    assert ParticipantHistory.objects.filter(participant=ana, outcome="error").count() == 1

    # Once the cause is gone, the next sweep after the back-off moves it on.
    monkeypatch.setattr(wait_for, "execute", real_wait_for)
    clock.shift(timedelta(minutes=1))
    run_sweep()
    ana.refresh_from_db()
    assert ana.current_step.key == "wait-a-day"
    assert Delivery.objects.get(participant=ana, step__key="second-text").status == "sent"


def test_consent_and_the_frequency_cap_hold_inside_one_batch(seed_bundle, db, clock, raise_event, run_sweep):
    """Two copies of the seed journey: each contact is in both, so one batch of the sweep
    decides two texts per contact. The cap counts the first text of the batch."""
    from journeys.bundles import import_bundle
    from journeys.models import Consent, SendingPolicy

    second = {**seed_bundle["journeys"][0], "key": "abandoned-cart-again", "name": "Again"}
    import_bundle({**seed_bundle, "journeys": [*seed_bundle["journeys"], second]}, publish_journeys=True)
    SendingPolicy.objects.create(channel="text", cap_count=1, cap_window=timedelta(days=1))
    ana, ben = _both_waiting_for_the_open(raise_event, clock)
    Consent.objects.create(contact=ana.contact, channel="text", status="unsubscribed", source="test")

    report = run_sweep()

    assert report.participants_due == 4
    texts = Delivery.objects.filter(step__key="second-text")
    assert sorted(texts.filter(contact=ana.contact).values_list("status", "reason")) == [
        ("blocked", "unsubscribed"),
        ("blocked", "unsubscribed"),
    ]
    assert sorted(texts.filter(contact=ben.contact).values_list("status", "reason")) == [
        ("blocked", "frequency_cap"),
        ("sent", ""),
    ]
    # Blocked or not, every participant went on to the next wait.
    assert set(Participant.objects.values_list("current_step__key", flat=True)) == {"wait-a-day"}
