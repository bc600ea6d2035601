"""Message expiration: a message step's `expires_after`, counted from the participant's
entry. What cannot go out by then (held for quiet hours past it, retried past it, re-driven
after a crash after it) is recorded as `expired` with its reason, and never sent late."""

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.core import mail
from django.test import override_settings

from content.backends import common
from content.errors import TransientSendError
from journeys import deliveries
from journeys.bundles import export_bundle, import_bundle
from journeys.definition import BundleError, parse_bundle
from journeys.models import Delivery, DeliveryStatus, Participant, SendingPolicy
from journeys.sending import claim, dispatch_delivery, retry_due_deliveries
from tests.engine.conftest import START

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
ANA = {"id": "ana", "email": "ana@example.com", "time_zone": "UTC"}
S = DeliveryStatus


class UnavailableBackend:
    calls = 0

    def send(self, message):
        UnavailableBackend.calls += 1
        raise TransientSendError("SMS provider answered 503: Service Unavailable")


# --- The table of status changes -------------------------------------------------------------


def test_only_held_and_queued_messages_may_expire_and_an_expired_one_stays_so():
    may_expire = {status for status in S.values if deliveries.allowed(status, S.EXPIRED)}

    assert may_expire == {S.HELD, S.QUEUED}
    assert deliveries.TRANSITIONS[S.EXPIRED] == frozenset()


def test_a_sent_message_cannot_be_expired(make_delivery, email):
    delivery = make_delivery(email, status=S.SENT)

    with pytest.raises(deliveries.ForbiddenTransition, match="cannot go from sent to expired"):
        deliveries._move(Delivery.objects.filter(pk=delivery.pk), [S.SENT], S.EXPIRED)
    assert Delivery.objects.get(pk=delivery.pk).status == S.SENT


# --- At send time (journeys.sending) -----------------------------------------------------------


def expiring(delivery: Delivery, after: str, entered_at: datetime) -> Delivery:
    delivery.step.settings = {"expires_after": after}
    delivery.step.save(update_fields=["settings"])
    Participant.objects.filter(pk=delivery.participant_id).update(entered_at=entered_at)
    return delivery


def test_a_queued_message_past_its_expiry_is_expired_not_sent(make_delivery, text):
    delivery = expiring(make_delivery(text), "1h", T0)

    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        dispatch_delivery(delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.reason) == (
        S.EXPIRED,
        "expired after 1h: not sent by 2026-05-04 11:00 UTC (attempt 1 at 2026-05-04 12:00 UTC)",
    )
    assert (delivery.sent_at, delivery.next_attempt_at, common.text_outbox) == (None, None, [])


def test_a_message_within_its_expiry_is_sent(make_delivery, text):
    delivery = expiring(make_delivery(text), "1h", T0)

    with time_machine.travel(T0 + timedelta(minutes=59), tick=False):
        dispatch_delivery(delivery.pk)

    assert Delivery.objects.get(pk=delivery.pk).status == S.SENT
    assert len(common.text_outbox) == 1


@override_settings(TEXT_BACKEND="tests.sending.test_message_expiry.UnavailableBackend", DELIVERY_MAX_ATTEMPTS=5)
def test_a_retry_that_would_come_after_the_expiry_expires_the_message(make_delivery, text):
    UnavailableBackend.calls = 0
    delivery = expiring(make_delivery(text), "2m", T0)

    with time_machine.travel(T0, tick=False):
        dispatch_delivery(delivery.pk)  # next attempt at +1m: within the expiry
    assert Delivery.objects.get(pk=delivery.pk).status == S.QUEUED
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        dispatch_delivery(delivery.pk)  # next attempt would be at +3m: past it

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, UnavailableBackend.calls) == (S.EXPIRED, 2, 2)
    assert delivery.reason == (
        "expired after 2m: the next attempt (2026-05-04 10:03 UTC) would come after 2026-05-04 10:02 UTC; "
        "last error: SMS provider answered 503: Service Unavailable"
    )


def test_a_claim_abandoned_by_a_dead_worker_is_not_sent_after_the_expiry(
    make_delivery, text, django_capture_on_commit_callbacks
):
    delivery = expiring(make_delivery(text), "5m", T0)
    with time_machine.travel(T0, tick=False):
        assert claim(delivery.pk, T0)  # the worker died here, before calling the provider

    with (
        time_machine.travel(T0 + timedelta(minutes=6), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert retry_due_deliveries() == 1

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (S.EXPIRED, 2)
    assert delivery.reason.startswith("expired after 5m: not sent by 2026-05-04 10:05 UTC")
    assert common.text_outbox == []


# --- In the journey: quiet hours -------------------------------------------------------------------


@pytest.fixture
def expiring_email(db, clock, seed_bundle):
    """The seed journey with expires_after on its first email, and quiet hours for email from
    08:00 to 12:00 UTC (the clock stands at 09:00)."""

    def _import(after: str) -> None:
        seed_bundle["journeys"][0]["steps"][0]["expires_after"] = after
        import_bundle(seed_bundle, publish_journeys=True)
        SendingPolicy.objects.create(channel="email", quiet_hours_start=time(8), quiet_hours_end=time(12))

    return _import


def the_email() -> Delivery:
    return Delivery.objects.get(step__key="initial-email")


def test_a_message_held_past_its_expiry_expires_at_once_and_the_participant_goes_on(expiring_email, raise_event):
    expiring_email("2h")

    raise_event("abandoned_cart", ANA, {"cart_total": 80})

    email = the_email()
    assert (email.status, email.reason) == (S.EXPIRED, "expired after 2h: quiet hours until 2026-11-02 12:00 UTC")
    participant = Participant.objects.get()
    row = participant.history.get(step_key="initial-email")
    assert (row.outcome, row.detail["reason"]) == ("expired", email.reason)
    assert participant.current_step.key == "opened"
    assert mail.outbox == []


def test_a_held_message_released_after_its_expiry_is_expired(expiring_email, raise_event, run_sweep, clock):
    expiring_email("4h")
    raise_event("abandoned_cart", ANA, {"cart_total": 80})
    assert the_email().status == S.HELD

    clock.move_to(START.replace(hour=13, minute=30))  # the sweep came late
    run_sweep()

    email = the_email()
    assert (email.status, email.reason) == (
        S.EXPIRED,
        "expired after 4h: held for quiet hours, released at 2026-11-02 13:30 UTC, past 2026-11-02 13:00 UTC",
    )
    assert mail.outbox == []
    assert Participant.objects.get().current_step.key == "opened"


def test_a_held_message_released_in_time_is_sent(expiring_email, raise_event, run_sweep, clock):
    expiring_email("4h")
    raise_event("abandoned_cart", ANA, {"cart_total": 80})

    clock.move_to(START.replace(hour=12, minute=1))
    run_sweep()

    assert the_email().status == S.SENT
    assert len(mail.outbox) == 1


# --- The format ------------------------------------------------------------------------------------


def test_expires_after_round_trips_through_export(expiring_email):
    expiring_email("P2D")

    step = export_bundle(["abandoned-cart"])["journeys"][0]["steps"][0]

    assert step == {
        "id": "initial-email",
        "type": "email",
        "content": "initial-email-reminder",
        "to": "contact.email",
        "expires_after": "2d",
    }


def test_a_step_without_expires_after_exports_without_it(db, clock, seed_bundle):
    import_bundle(seed_bundle, publish_journeys=True)

    assert "expires_after" not in export_bundle(["abandoned-cart"])["journeys"][0]["steps"][0]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("soon", "'soon' is not a duration: use 30s, 15m, 2h, 1d, 2w or ISO 8601 like P1D"),
        ("0s", "must be longer than zero"),
        ("100d", "100d is longer than the 90-day limit"),
        (3, "must be a duration such as 2d, 12h or P2D"),
    ],
)
def test_a_bad_expires_after_is_an_error_on_its_field(seed_bundle, value, message):
    seed_bundle["journeys"][0]["steps"][0]["expires_after"] = value

    with pytest.raises(BundleError) as caught:
        parse_bundle(seed_bundle)

    (problem,) = [p for p in caught.value.problems if p.path.step == "initial-email"]
    assert (problem.field, problem.code, problem.message) == ("expires_after", "invalid", message)


def test_the_simulator_shows_the_expired_message(db, clock, seed_bundle):
    from journeys.simulation import SimulatedEvent, simulate

    seed_bundle["journeys"][0]["steps"][0]["expires_after"] = "2h"
    import_bundle(seed_bundle)
    SendingPolicy.objects.create(channel="email", quiet_hours_start=time(8), quiet_hours_end=time(12))

    timeline = simulate(
        "abandoned-cart",
        {"id": "sim-1", "email": "s@example.com", "time_zone": "UTC"},
        [SimulatedEvent(timedelta(0), "abandoned_cart", {"cart_total": 80})],
    )

    entry = next(e for e in timeline if e.step == "initial-email")
    assert entry.outcome == "expired"
    assert entry.detail.endswith("(expired after 2h: quiet hours until 2026-11-02 12:00 UTC)")
