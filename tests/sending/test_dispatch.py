"""dispatch_delivery sends a queued delivery at most once, records the outcome, and retries
transient provider errors with backoff; retry_due_deliveries re-drives what is due."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from content.backends import common
from content.errors import PermanentSendError, TransientSendError
from journeys.consent import unsubscribe
from journeys.models import Delivery, DeliveryStatus, ParticipantState
from journeys.sending import claim, dispatch_delivery, render_context, retry_due_deliveries
from journeys.tracking import read_click_token

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


class UnavailableBackend:
    """A provider that answers 503 every time."""

    calls = 0

    def send(self, message):
        UnavailableBackend.calls += 1
        raise TransientSendError("SMS provider answered 503: Service Unavailable")


class RefusingBackend:
    def send(self, message):
        raise PermanentSendError("SMS provider answered 400: The 'To' number is not a valid phone number. (code 21211)")


@pytest.fixture(autouse=True)
def _reset_calls():
    UnavailableBackend.calls = 0


def test_dispatching_twice_sends_once(make_delivery, text):
    delivery = make_delivery(text)

    dispatch_delivery(delivery.pk)
    dispatch_delivery(delivery.pk)

    assert len(common.text_outbox) == 1
    sent = common.text_outbox[0]
    assert (sent.to, sent.body, sent.sender, sent.idempotency_key) == (
        "+15551234567",
        "Ana, your cart of 59.9 is waiting.",
        "+15550000000",
        str(delivery.pk),
    )
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.provider_message_id == "locmem-text-1"
    assert delivery.attempts == 1
    assert delivery.next_attempt_at is None


def test_a_second_claim_of_a_claimed_delivery_loses(make_delivery, text):
    delivery = make_delivery(text)
    now = timezone.now()

    assert [claim(delivery.pk, now), claim(delivery.pk, now)] == [True, False]
    delivery.refresh_from_db()
    assert delivery.attempts == 1
    assert delivery.next_attempt_at == now + timedelta(minutes=5)


def test_a_claimed_delivery_is_not_sent_by_another_worker_while_its_lease_runs(make_delivery, text):
    delivery = make_delivery(text)
    claim(delivery.pk, timezone.now())  # another worker is sending it right now

    dispatch_delivery(delivery.pk)

    assert common.text_outbox == []
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.QUEUED


def test_a_held_or_blocked_delivery_is_never_dispatched(make_delivery, text, email):
    held = make_delivery(text, status=DeliveryStatus.HELD)
    blocked = make_delivery(email, status=DeliveryStatus.BLOCKED, reason="frequency_cap")

    dispatch_delivery(held.pk)
    dispatch_delivery(blocked.pk)

    assert common.text_outbox == [] and mail.outbox == []
    assert Delivery.objects.get(pk=held.pk).status == DeliveryStatus.HELD
    assert Delivery.objects.get(pk=blocked.pk).attempts == 0


def test_a_participant_who_exited_before_the_send_gets_nothing(make_delivery, text, participant):
    delivery = make_delivery(text)
    participant.state = ParticipantState.EXITED
    participant.save()

    dispatch_delivery(delivery.pk)

    assert common.text_outbox == []
    delivery.refresh_from_db()
    assert (delivery.status, delivery.reason) == (DeliveryStatus.BLOCKED, "participant_left")


def test_a_participant_who_completed_the_journey_still_gets_its_last_message(make_delivery, text, participant):
    delivery = make_delivery(text)
    participant.state = ParticipantState.COMPLETED
    participant.save()

    dispatch_delivery(delivery.pk)

    assert len(common.text_outbox) == 1
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SENT


def test_a_contact_who_unsubscribed_after_the_message_was_queued_gets_nothing(make_delivery, email, contact):
    delivery = make_delivery(email)
    unsubscribe(contact, "email", source="unsubscribe link")

    dispatch_delivery(delivery.pk)

    assert mail.outbox == []
    delivery.refresh_from_db()
    assert (delivery.status, delivery.reason) == (DeliveryStatus.BLOCKED, "unsubscribed")


def test_a_message_moved_back_to_draft_after_it_was_queued_is_not_sent(make_delivery, email):
    delivery = make_delivery(email)
    email.status = "draft"
    email.subject = "half-written"
    email.save()

    dispatch_delivery(delivery.pk)

    assert mail.outbox == []
    delivery.refresh_from_db()
    assert (delivery.status, delivery.reason) == (DeliveryStatus.BLOCKED, "content_not_ready")


@override_settings(TEXT_BACKEND="tests.sending.test_dispatch.RefusingBackend")
def test_a_permanent_provider_error_fails_the_delivery_with_the_reason(make_delivery, text):
    delivery = make_delivery(text)

    dispatch_delivery(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.reason == "SMS provider answered 400: The 'To' number is not a valid phone number. (code 21211)"
    assert delivery.failed_at is not None
    assert delivery.next_attempt_at is None


@override_settings(TEXT_BACKEND="tests.sending.test_dispatch.UnavailableBackend", DELIVERY_MAX_ATTEMPTS=3)
def test_transient_errors_back_off_exponentially_then_give_up(make_delivery, text):
    with time_machine.travel(T0, tick=False):
        delivery = make_delivery(text)
        dispatch_delivery(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.QUEUED, 1)
    assert delivery.next_attempt_at == T0 + timedelta(minutes=1)
    assert delivery.reason == "SMS provider answered 503: Service Unavailable"

    # Not due yet: nothing happens.
    with time_machine.travel(T0 + timedelta(seconds=59), tick=False):
        dispatch_delivery(delivery.pk)
    assert UnavailableBackend.calls == 1

    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        dispatch_delivery(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.next_attempt_at) == (2, T0 + timedelta(minutes=3))

    with time_machine.travel(T0 + timedelta(minutes=3), tick=False):
        dispatch_delivery(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.reason == "Gave up after 3 attempts: SMS provider answered 503: Service Unavailable"
    assert UnavailableBackend.calls == 3


def test_the_sweep_redispatches_due_deliveries_and_ones_whose_task_was_lost(
    make_delivery, text, email, push, django_capture_on_commit_callbacks
):
    with time_machine.travel(T0, tick=False):
        due = make_delivery(text, next_attempt_at=T0 - timedelta(seconds=1))
        lost = make_delivery(email, created_at=T0 - timedelta(minutes=10))
        not_due = make_delivery(push, address="sub", next_attempt_at=T0 + timedelta(minutes=5))

        with django_capture_on_commit_callbacks(execute=True):
            enqueued = retry_due_deliveries(T0, limit=100)

    assert enqueued == 2
    assert Delivery.objects.get(pk=due.pk).status == DeliveryStatus.SENT
    assert Delivery.objects.get(pk=lost.pk).status == DeliveryStatus.SENT
    assert Delivery.objects.get(pk=not_due.pk).status == DeliveryStatus.QUEUED
    assert len(common.text_outbox) == 1 and len(mail.outbox) == 1 and common.push_outbox == []


def test_a_template_that_fails_at_render_time_fails_the_delivery(make_delivery, text):
    text.body = "{{ trigger.cart_total|divisibleby:0 }}"
    text.save()
    delivery = make_delivery(text)

    dispatch_delivery(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.reason.startswith("The message could not be rendered: ZeroDivisionError")
    assert common.text_outbox == []


def test_the_render_context_is_plain_data_about_the_contact_trigger_and_journey(make_delivery, text):
    delivery = make_delivery(text)

    context = render_context(delivery)

    assert context["contact"] == {
        "tier": "gold",
        "id": "cust-42",
        "email": "ana@example.com",
        "phone": "+15551234567",
        "first_name": "Ana",
        "last_name": "Silva",
        "time_zone": "Europe/Lisbon",
    }
    assert context["trigger"] == {
        "cart_total": 59.9,
        "currency": "EUR",
        "cart": {"items": [{"name": "Blue mug"}, {"name": "Tea"}]},
    }
    assert context["journey"] == {"key": "abandoned-cart", "name": "Abandoned cart"}
    assert context["unsubscribe_url"].startswith("http://testserver/u/")


def test_a_participant_without_an_entry_event_renders_with_an_empty_trigger(make_delivery, push, participant, contact):
    participant.entry_event = None
    participant.save()
    delivery = make_delivery(push, address='{"endpoint": "x"}')

    dispatch_delivery(delivery.pk)

    assert render_context(delivery)["trigger"] == {}
    sent = common.push_outbox[0]
    assert (sent.title, sent.body, sent.idempotency_key) == ("Still thinking, Ana?", " in your cart", str(delivery.pk))
    assert read_click_token(sent.link_url.removeprefix("http://testserver/t/c/")) == (
        delivery.pk,
        "https://shop.example.com/cart",
    )


def test_a_sent_email_is_personalised_and_tracked(make_delivery, email):
    delivery = make_delivery(email)

    dispatch_delivery(delivery.pk)

    message = mail.outbox[0]
    assert message.subject == "Ana, you left 2 items behind"
    assert message.to == ["ana@example.com"]
    assert message.extra_headers["X-Delivery-Id"] == str(delivery.pk)
    html = message.alternatives[0][0]
    assert "/t/o/" in html and "/t/c/" in html
    assert "Your cart: 59.9 EUR" in html


def test_a_transactional_email_has_no_list_unsubscribe_header(make_delivery, email):
    email.purpose = "transactional"
    email.save()
    delivery = make_delivery(email)

    dispatch_delivery(delivery.pk)

    assert "List-Unsubscribe" not in mail.outbox[0].extra_headers


class SlowBackend:
    """Takes a while, so a second worker arrives while the first is still sending."""

    sent: list = []

    def send(self, message):
        import time

        time.sleep(0.2)
        SlowBackend.sent.append(message)
        return f"slow-{len(SlowBackend.sent)}"


@pytest.mark.django_db(transaction=True)
@override_settings(TEXT_BACKEND="tests.sending.test_dispatch.SlowBackend")
def test_two_workers_dispatching_the_same_delivery_at_once_send_it_once(make_delivery, text):
    import threading

    from django.db import connection, connections

    if connection.vendor == "sqlite":
        pytest.skip("SQLite's in-memory test database is not shared between threads")
    SlowBackend.sent = []
    delivery = make_delivery(text)
    start = threading.Barrier(2)

    def worker():
        try:
            start.wait()
            dispatch_delivery(delivery.pk)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(SlowBackend.sent) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.provider_message_id) == (DeliveryStatus.SENT, 1, "slow-1")
