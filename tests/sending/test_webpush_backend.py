"""The Web Push backend (pywebpush, VAPID) against a fake push service on loopback."""

import base64
import json
import os

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import override_settings
from py_vapid import Vapid

from content.backends import PushPayload
from content.backends.webpush import WebPushBackend
from content.errors import PermanentSendError, TransientSendError
from journeys.models import DeliveryStatus
from journeys.sending import dispatch_delivery

from .fake_providers import FakePushService, serve


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def vapid_key():
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return _b64(key.private_numbers().private_value.to_bytes(32, "big")), _b64(public)


@pytest.fixture
def browser():
    """A browser's subscription keys: the push service cannot read the payload, the browser can."""
    key = ec.generate_private_key(ec.SECP256R1())
    auth = os.urandom(16)
    public = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return key, auth, public


@pytest.fixture
def push_service(vapid_key):
    service = FakePushService()
    with (
        serve(service) as base_url,
        override_settings(
            PUSH_BACKEND="content.backends.webpush.WebPushBackend",
            WEBPUSH_VAPID_PRIVATE_KEY=vapid_key[0],
            WEBPUSH_VAPID_SUBJECT="mailto:ops@example.com",
        ),
    ):
        service.base_url = base_url
        yield service


def _subscription(push_service, browser) -> str:
    _, auth, public = browser
    return json.dumps(
        {"endpoint": f"{push_service.base_url}/push/abc", "keys": {"p256dh": _b64(public), "auth": _b64(auth)}}
    )


def test_a_push_is_encrypted_for_the_browser_signed_with_vapid_and_topic_keyed_by_the_delivery(
    push_service, browser, vapid_key
):
    message_id = WebPushBackend().send(
        PushPayload(
            to=_subscription(push_service, browser),
            title="Still thinking?",
            body="59.9 in your cart",
            link_url="https://shop.example.com/cart",
            idempotency_key="12",
        )
    )

    assert message_id == "/push/abc/messages/1"
    [request] = push_service.requests
    assert request.path == "/push/abc"
    assert request.headers["Topic"] == "delivery-12"
    assert request.headers["Content-Encoding"] == "aes128gcm"
    assert request.headers["Authorization"].endswith(f",k={vapid_key[1]}")
    assert Vapid.verify(request.headers["Authorization"])
    private_key, auth, _ = browser
    payload = json.loads(http_ece.decrypt(request.body, private_key=private_key, auth_secret=auth, version="aes128gcm"))
    assert payload == {
        "title": "Still thinking?",
        "body": "59.9 in your cart",
        "url": "https://shop.example.com/cart",
        "image": "",
    }


def test_a_gone_subscription_is_a_permanent_error(push_service, browser):
    push_service.answers = [410]

    with pytest.raises(PermanentSendError, match="410"):
        WebPushBackend().send(PushPayload(to=_subscription(push_service, browser), title="t", body="b"))


def test_a_busy_push_service_is_a_transient_error(push_service, browser):
    push_service.answers = [429]

    with pytest.raises(TransientSendError, match="429"):
        WebPushBackend().send(PushPayload(to=_subscription(push_service, browser), title="t", body="b"))


def test_a_push_token_that_is_not_a_subscription_is_refused_without_a_request(push_service):
    with pytest.raises(PermanentSendError, match="not a Web Push subscription"):
        WebPushBackend().send(PushPayload(to="device-token-123", title="t", body="b"))

    assert push_service.requests == []


def test_a_journey_push_is_delivered_through_web_push(push_service, browser, make_delivery, push, contact):
    contact.push_token = _subscription(push_service, browser)
    contact.save()
    delivery = make_delivery(push)

    dispatch_delivery(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.provider_message_id == "/push/abc/messages/1"
    private_key, auth, _ = browser
    payload = json.loads(
        http_ece.decrypt(push_service.requests[0].body, private_key=private_key, auth_secret=auth, version="aes128gcm")
    )
    assert payload["title"] == "Still thinking, Ana?"
    assert payload["delivery_id"] == str(delivery.pk)
