"""An ESP through django-anymail: its API errors become a retry (429, 5xx, no answer) or a
failed delivery (a refused message or recipient), like SMTP's 4xx and 5xx."""

from datetime import UTC, datetime, timedelta

import pytest
import requests
import time_machine
from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.test import override_settings

from journeys.models import DeliveryStatus
from journeys.sending import dispatch_delivery

T0 = datetime(2026, 5, 4, 10, tzinfo=UTC)


class FlakyEsp(LocmemBackend):
    """Answers with the queued errors first, then accepts (into mail.outbox) as an ESP would."""

    errors: list[Exception] = []

    def send_messages(self, messages):
        if FlakyEsp.errors:
            raise FlakyEsp.errors.pop(0)
        return super().send_messages(messages)


def _api_error(message: str, status: int | None) -> AnymailAPIError:
    """What anymail raises for an ESP's error answer (or for no answer at all)."""
    if status is None:
        return AnymailAPIError(message)
    response = requests.Response()
    response.status_code, response.reason, response._content = status, "Error", b'{"message": "busy"}'
    return AnymailAPIError(message, status_code=status, response=response)


@pytest.fixture
def esp():
    FlakyEsp.errors = []
    with override_settings(EMAIL_BACKEND="tests.sending.test_esp_errors.FlakyEsp"):
        yield FlakyEsp


@pytest.mark.parametrize("status", [429, 500, 503, None])
def test_a_busy_or_unreachable_esp_is_retried_and_the_email_sent_once(esp, make_delivery, email, status):
    esp.errors = [_api_error("ESP says no", status)]
    with time_machine.travel(T0, tick=False):
        delivery = make_delivery(email)
        dispatch_delivery(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.QUEUED
    assert delivery.reason.startswith("Email provider error: ESP says no")
    assert delivery.next_attempt_at == T0 + timedelta(minutes=1)

    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        dispatch_delivery(delivery.pk)
        dispatch_delivery(delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 2)
    assert len(mail.outbox) == 1


def test_a_message_the_esp_refuses_fails_at_once(esp, make_delivery, email):
    esp.errors = [_api_error("Invalid from address", 400)]
    delivery = make_delivery(email)

    dispatch_delivery(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.reason.startswith("Email provider refused the message: Invalid from address")
    assert (delivery.next_attempt_at, mail.outbox) == (None, [])


def test_a_recipient_the_esp_refuses_fails_at_once(esp, make_delivery, email):
    esp.errors = [AnymailRecipientsRefused("ana@example.com is on the suppression list")]
    delivery = make_delivery(email)

    dispatch_delivery(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.reason.startswith("Recipient refused: ana@example.com is on the suppression list")
