"""Delivery status from providers: django-anymail's tracking signal for email, and a signed
webhook for text and push."""

import json
import time
from datetime import UTC, datetime

import pytest
from anymail.signals import AnymailTrackingEvent, tracking

from journeys.models import Delivery, DeliveryStatus
from journeys.tracking import sign_body
from triggers.models import Event

INTERNAL = Event.objects.filter(source="internal")  # interaction triggers, not the cart event

WEBHOOK = "/webhooks/messages/status"


def _sent(make_delivery, content, provider_id="prov-1"):
    delivery = make_delivery(content)
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.SENT, provider_message_id=provider_id)
    return Delivery.objects.get(pk=delivery.pk)


def _post(client, payload, *, signature=None, raw: bytes | None = None, sent_at: int | None = None):
    body = raw if raw is not None else json.dumps(payload).encode()
    timestamp = int(time.time()) if sent_at is None else sent_at
    return client.post(
        WEBHOOK,
        data=body,
        content_type="application/json",
        HTTP_X_JOURNEYS_SIGNATURE=signature if signature is not None else sign_body(body, timestamp),
        HTTP_X_JOURNEYS_TIMESTAMP=str(timestamp),
    )


def test_a_delivered_text_raises_text_delivered_once(make_delivery, text, client):
    delivery = _sent(make_delivery, text, "SM1")

    assert _post(client, {"message_id": "SM1", "event": "delivered"}).json() == {
        "delivery_id": delivery.pk,
        "status": "accepted",
    }
    assert _post(client, {"delivery_id": str(delivery.pk), "event": "delivered"}).status_code == 200

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    [event] = INTERNAL.all()
    assert (event.trigger.key, event.attributes["delivery_id"], event.contact_key) == (
        "text_delivered",
        str(delivery.pk),
        "cust-42",
    )


def test_an_opened_push_raises_push_opened(make_delivery, push, client):
    delivery = _sent(make_delivery, push)

    assert _post(client, {"delivery_id": delivery.pk, "event": "opened"}).status_code == 200

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.OPENED
    assert delivery.opened_at is not None
    assert list(INTERNAL.values_list("trigger__key", flat=True)) == ["push_opened"]


def test_an_undelivered_text_is_failed_with_the_providers_reason(make_delivery, text, client):
    delivery = _sent(make_delivery, text, "SM2")

    _post(client, {"message_id": "SM2", "event": "undelivered", "reason": "30003 Unreachable handset"})

    delivery.refresh_from_db()
    assert (delivery.status, delivery.reason) == (DeliveryStatus.FAILED, "30003 Unreachable handset")
    assert INTERNAL.count() == 0


@pytest.mark.parametrize("signature", ["", "sha256=0000", sign_body(b"{}", 0, "another-secret")])
def test_a_callback_with_a_wrong_signature_is_refused_and_changes_nothing(make_delivery, text, client, signature):
    delivery = _sent(make_delivery, text, "SM1")

    response = _post(client, {"message_id": "SM1", "event": "delivered"}, signature=signature)

    assert response.status_code == 403
    assert response.json() == {
        "X-Journeys-Signature": ["Missing or wrong signature, or a timestamp older than 5 minutes."]
    }
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SENT
    assert INTERNAL.count() == 0


def test_a_callback_with_an_unknown_event_names_the_field(make_delivery, text, client):
    _sent(make_delivery, text, "SM1")

    response = _post(client, {"message_id": "SM1", "event": "read"})

    assert response.status_code == 400
    assert response.json() == {"event": ["Must be one of: delivered, opened, failed, undelivered, bounced."]}


def test_a_callback_for_an_unknown_message_answers_404(db, client):
    response = _post(client, {"message_id": "SM404", "event": "delivered"})

    assert response.status_code == 404
    assert response.json() == {"delivery_id": ["No such delivery."]}


def test_a_callback_with_a_bad_delivery_id_names_the_field(db, client):
    response = _post(client, {"delivery_id": "twelve", "event": "delivered"})

    assert response.status_code == 400
    assert response.json() == {"delivery_id": ["Must be a delivery id (a whole number)."]}


def _esp_event(event_type, **fields):
    return AnymailTrackingEvent(event_type=event_type, timestamp=datetime(2026, 5, 4, 10, tzinfo=UTC), **fields)


def test_an_esp_delivered_event_raises_email_delivered(make_delivery, email):
    delivery = _sent(make_delivery, email, "esp-123")

    tracking.send(sender=object, event=_esp_event("delivered", message_id="esp-123"), esp_name="Postmark")

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.delivered_at == datetime(2026, 5, 4, 10, tzinfo=UTC)
    assert list(INTERNAL.values_list("trigger__key", flat=True)) == ["email_delivered"]


def test_an_esp_bounce_found_by_metadata_marks_the_delivery_bounced(make_delivery, email):
    delivery = _sent(make_delivery, email, "")

    tracking.send(
        sender=object,
        event=_esp_event("bounced", metadata={"delivery_id": str(delivery.pk)}, reject_reason="bounced"),
        esp_name="Mailgun",
    )

    delivery.refresh_from_db()
    assert (delivery.status, delivery.reason) == (DeliveryStatus.BOUNCED, "bounced")
    [event] = INTERNAL.all()
    assert (event.trigger.key, event.attributes["delivery_id"]) == ("email_bounced", str(delivery.pk))


def test_an_esp_event_for_an_unknown_message_changes_nothing(make_delivery, email):
    delivery = _sent(make_delivery, email, "esp-1")

    tracking.send(sender=object, event=_esp_event("delivered", message_id="esp-unknown"), esp_name="Postmark")

    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SENT
    assert INTERNAL.count() == 0


@pytest.mark.parametrize("age", [301, -301, 86_400])
def test_a_captured_callback_cannot_be_replayed_later(make_delivery, text, client, age):
    delivery = _sent(make_delivery, text, "SM1")

    response = _post(client, {"message_id": "SM1", "event": "delivered"}, sent_at=int(time.time()) - age)

    assert response.status_code == 403
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SENT


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"delivery_id": Infinity, "event": "delivered"}', "delivery_id"),
        (b'{"delivery_id": 1e400, "event": "delivered"}', "delivery_id"),
        (b'{"delivery_id": 99999999999999999999999, "event": "delivered"}', "delivery_id"),
        (b'{"delivery_id": "-1", "event": "delivered"}', "delivery_id"),
        (b'{"message_id": "SM1\\u0000", "event": "delivered"}', "message_id"),
        (b'{"message_id": "SM1", "event": "failed", "reason": "\\ud800"}', "reason"),
    ],
)
def test_a_signed_callback_with_hostile_values_is_a_400_naming_the_field(make_delivery, text, client, raw, field):
    delivery = _sent(make_delivery, text, "SM1")

    response = _post(client, None, raw=raw)

    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SENT


def test_a_signed_callback_nested_thousands_deep_is_a_400(db, client):
    assert _post(client, None, raw=b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}").status_code == 400
