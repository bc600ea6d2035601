"""The Twilio-shaped SMS backend against a fake provider on loopback."""

import base64
import socket
import urllib.parse
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import override_settings

from content.backends import TextPayload
from content.backends.twilio import TwilioTextBackend
from content.errors import PermanentSendError, TransientSendError
from journeys.models import Delivery, DeliveryStatus
from journeys.sending import dispatch_delivery, retry_due_deliveries

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def test_a_text_is_posted_as_a_form_with_basic_auth_and_the_idempotency_token(twilio):
    sid = TwilioTextBackend().send(TextPayload(to="+15551234567", body="Hi Ana", idempotency_key="42"))

    assert sid == "SM" + "1".zfill(32)
    [request] = twilio.requests
    assert request.path == "/2010-04-01/Accounts/AC123/Messages.json"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"AC123:secret-token").decode()
    assert request.headers["I-Twilio-Idempotency-Token"] == "42"
    assert urllib.parse.parse_qs(request.body.decode()) == {
        "To": ["+15551234567"],
        "Body": ["Hi Ana"],
        "From": ["+15550000000"],
    }


def test_a_messaging_service_sender_is_sent_as_messaging_service_sid(twilio):
    TwilioTextBackend().send(TextPayload(to="+15551234567", body="Hi", sender="MG999"))

    assert urllib.parse.parse_qs(twilio.requests[0].body.decode())["MessagingServiceSid"] == ["MG999"]


def test_a_503_then_200_retry_gives_exactly_one_accepted_message(twilio):
    twilio.answers = [503]
    backend = TwilioTextBackend()
    message = TextPayload(to="+15551234567", body="Hi Ana", idempotency_key="7")

    with pytest.raises(TransientSendError, match="503"):
        backend.send(message)
    sid = backend.send(message)

    assert len(twilio.requests) == 2
    assert list(twilio.messages) == [sid]


def test_a_refused_number_is_a_permanent_error_with_the_providers_message(twilio):
    with pytest.raises(PermanentSendError) as error:
        TwilioTextBackend().send(TextPayload(to="+1555INVALID", body="Hi"))

    assert str(error.value) == (
        "SMS provider answered 400: The 'To' number +1555INVALID is not a valid phone number. (code 21211)"
    )
    assert twilio.messages == {}


def test_an_unreachable_provider_is_a_transient_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    with (
        override_settings(TWILIO_BASE_URL=f"http://127.0.0.1:{port}", TWILIO_ACCOUNT_SID="AC1", TWILIO_AUTH_TOKEN="t"),
        pytest.raises(TransientSendError, match="unreachable"),
    ):
        TwilioTextBackend().send(TextPayload(to="+15551234567", body="Hi"))


def test_a_delivery_retried_after_a_503_is_sent_once_and_recorded_with_the_providers_id(
    twilio, make_delivery, text, django_capture_on_commit_callbacks
):
    twilio.answers = [503]
    with time_machine.travel(T0, tick=False):
        delivery = make_delivery(text)
        dispatch_delivery(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.QUEUED, 1)
    assert delivery.reason == "SMS provider answered 503: Service unavailable (code 20503)"

    with time_machine.travel(T0 + timedelta(minutes=1), tick=False), django_capture_on_commit_callbacks(execute=True):
        assert retry_due_deliveries() == 1

    delivery = Delivery.objects.get(pk=delivery.pk)
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.attempts == 2
    assert delivery.reason == ""
    assert [r.headers["I-Twilio-Idempotency-Token"] for r in twilio.requests] == [str(delivery.pk)] * 2
    assert list(twilio.messages) == [delivery.provider_message_id]
    assert twilio.messages[delivery.provider_message_id]["Body"] == "Ana, your cart of 59.9 is waiting."
