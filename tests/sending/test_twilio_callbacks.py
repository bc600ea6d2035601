"""Twilio talks back: its signed StatusCallback updates the text's delivery, a STOP reply (or
Twilio's own refusal, error 21610) unsubscribes the number, and START subscribes it again."""

import urllib.parse

from django.test import override_settings
from django.utils import timezone

from content.backends.twilio import request_signature
from journeys.models import Consent, Delivery, DeliveryStatus
from journeys.policy import Decision, decide
from journeys.sending import dispatch_delivery
from triggers.models import Event

STATUS_URL = "http://testserver/webhooks/twilio/status"
INBOUND_URL = "http://testserver/webhooks/twilio/inbound"
INTERNAL = Event.objects.filter(source="internal")


def _twilio_post(client, url, params, *, token="secret-token"):
    """A request as Twilio makes it: a form, signed over the URL and the sorted parameters."""
    return client.post(
        url.removeprefix("http://testserver"),
        params,
        HTTP_X_TWILIO_SIGNATURE=request_signature(url, params, token),
    )


def _sent_text(twilio, make_delivery, text) -> Delivery:
    delivery = make_delivery(text)
    dispatch_delivery(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    return delivery


def test_the_signature_matches_twilios_published_example():
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675310",
        "Digits": "1234",
        "From": "+14158675310",
        "To": "+18005551212",
    }

    assert request_signature("https://mycompany.com/myapp.php?foo=1&bar=2", params, "12345") == (
        "GvWf1cFY/Q7PnoempGyD5oXAezc="
    )


def test_a_sent_text_asks_twilio_for_status_callbacks_and_delivered_raises_text_delivered_once(
    twilio, make_delivery, text, client
):
    delivery = _sent_text(twilio, make_delivery, text)
    form = urllib.parse.parse_qs(twilio.requests[0].body.decode())
    assert form["StatusCallback"] == [STATUS_URL]

    params = {"MessageSid": delivery.provider_message_id, "MessageStatus": "sent", "AccountSid": "AC123"}
    assert _twilio_post(client, STATUS_URL, params).status_code == 200
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SENT  # "sent" is no news

    for _ in range(2):  # Twilio may call twice
        response = _twilio_post(client, STATUS_URL, {**params, "MessageStatus": "delivered"})
        assert response.json() == {"delivery_id": delivery.pk, "status": "accepted"}

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    [event] = INTERNAL.all()
    assert (event.trigger.key, event.attributes["delivery_id"]) == ("text_delivered", str(delivery.pk))


def test_an_undelivered_text_is_failed_with_twilios_error_code(twilio, make_delivery, text, client):
    delivery = _sent_text(twilio, make_delivery, text)

    _twilio_post(
        client,
        STATUS_URL,
        {"MessageSid": delivery.provider_message_id, "MessageStatus": "undelivered", "ErrorCode": "30003"},
    )

    delivery.refresh_from_db()
    assert (delivery.status, delivery.reason) == (DeliveryStatus.FAILED, "Twilio: undelivered (error 30003)")
    assert delivery.failed_at is not None


def test_a_status_callback_with_a_wrong_signature_is_refused_and_changes_nothing(twilio, make_delivery, text, client):
    delivery = _sent_text(twilio, make_delivery, text)
    params = {"MessageSid": delivery.provider_message_id, "MessageStatus": "delivered"}

    forged = _twilio_post(client, STATUS_URL, params, token="not-the-token")
    unsigned = client.post("/webhooks/twilio/status", params)
    # Signed for the other endpoint: the URL is part of what is signed.
    replayed = client.post(
        "/webhooks/twilio/status",
        params,
        HTTP_X_TWILIO_SIGNATURE=request_signature(INBOUND_URL, params, "secret-token"),
    )

    assert [forged.status_code, unsigned.status_code, replayed.status_code] == [403, 403, 403]
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SENT
    assert not INTERNAL.exists()


def test_without_an_auth_token_every_callback_is_refused(make_delivery, text, client):
    delivery = make_delivery(text)
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.SENT, provider_message_id="SM1")

    with override_settings(TWILIO_AUTH_TOKEN=""):
        response = _twilio_post(client, STATUS_URL, {"MessageSid": "SM1", "MessageStatus": "delivered"}, token="")

    assert response.status_code == 403
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SENT


def test_a_callback_for_an_unknown_message_answers_404_and_one_without_a_sid_names_the_field(twilio, client, db):
    unknown = _twilio_post(client, STATUS_URL, {"MessageSid": "SM404", "MessageStatus": "delivered"})
    without = _twilio_post(client, STATUS_URL, {"MessageStatus": "delivered"})

    assert (unknown.status_code, unknown.json()) == (404, {"MessageSid": ["No such message."]})
    assert (without.status_code, without.json()) == (400, {"MessageSid": ["This field is required."]})


def test_a_stop_reply_unsubscribes_the_number_from_commercial_texts_and_start_undoes_it(twilio, contact, text, client):
    inbound = {"From": contact.phone, "To": "+15550000000", "Body": " stop ", "MessageSid": "SMin1"}

    response = _twilio_post(client, INBOUND_URL, inbound)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml"
    assert response.content == b'<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
    consent = Consent.objects.get(contact=contact, channel="text")
    assert (consent.status, consent.source) == ("unsubscribed", "text reply (STOP)")
    assert decide(
        contact=contact, content=text, address=contact.phone, journey_time_zone="", now=timezone.now()
    ) == Decision("block", "unsubscribed")
    assert not Consent.objects.filter(channel="email").exists()

    _twilio_post(client, INBOUND_URL, {**inbound, "Body": "START"})

    consent.refresh_from_db()
    assert (consent.status, consent.source) == ("subscribed", "text reply (START)")


def test_other_replies_change_no_consent(twilio, contact, client):
    for body in ("Stop sending me this", "yes please", "Thanks!"):
        assert _twilio_post(client, INBOUND_URL, {"From": contact.phone, "Body": body}).status_code == 200

    assert not Consent.objects.exists()


def test_twilios_advanced_opt_out_type_is_trusted_over_the_body(twilio, contact, client):
    _twilio_post(client, INBOUND_URL, {"From": contact.phone, "Body": "ARRET", "OptOutType": "STOP"})

    assert Consent.objects.get(contact=contact, channel="text").status == "unsubscribed"


def test_a_stop_reply_without_a_sender_unsubscribes_no_one(twilio, contact, client):
    from journeys.models import Contact

    Contact.objects.create(external_id="no-phone", email="np@example.com", phone="")
    assert _twilio_post(client, INBOUND_URL, {"From": "", "Body": "STOP"}).status_code == 200

    assert not Consent.objects.exists()


def test_a_forged_stop_reply_is_refused(twilio, contact, client):
    response = client.post("/webhooks/twilio/inbound", {"From": contact.phone, "Body": "STOP"})

    assert response.status_code == 403
    assert not Consent.objects.exists()


def test_a_number_that_opted_out_with_twilio_is_blocked_and_recorded_as_unsubscribed(
    twilio, make_delivery, text, contact
):
    twilio.opted_out.add(contact.phone)
    delivery = make_delivery(text)

    dispatch_delivery(delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.reason, delivery.next_attempt_at) == (
        DeliveryStatus.BLOCKED,
        "unsubscribed",
        None,
    )
    consent = Consent.objects.get(contact=contact, channel="text")
    assert (consent.status, consent.source) == ("unsubscribed", f"provider opt-out (delivery {delivery.pk})")
    assert len(twilio.requests) == 1 and twilio.messages == {}
