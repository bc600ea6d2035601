"""One-click unsubscribe: a confirm page, its button, and RFC 8058's List-Unsubscribe-Post."""

from datetime import UTC, datetime

import time_machine
from django.core import mail

from journeys.consent import unsubscribe
from journeys.models import Consent, DeliveryStatus
from journeys.sending import dispatch_delivery
from journeys.tracking import unsubscribe_url


def _path(delivery, contact, channel="email") -> str:
    return unsubscribe_url(delivery.pk, contact.pk, channel).removeprefix("http://testserver")


def test_the_unsubscribe_page_asks_first_and_changes_nothing_on_get(make_delivery, email, contact, client):
    delivery = make_delivery(email)

    response = client.get(_path(delivery, contact))

    assert response.status_code == 200
    assert b"Stop receiving marketing email messages from us?" in response.content
    assert b'<button type="submit">Unsubscribe</button>' in response.content
    assert Consent.objects.count() == 0


def test_pressing_the_button_unsubscribes_the_contact_from_that_channel(make_delivery, email, contact, client):
    delivery = make_delivery(email)

    with time_machine.travel(datetime(2026, 5, 4, 10, 30, tzinfo=UTC), tick=False):
        response = client.post(_path(delivery, contact))

    assert response.status_code == 200
    assert b"You are unsubscribed" in response.content
    consent = Consent.objects.get()
    assert (consent.contact_id, consent.channel, consent.status, consent.source, consent.changed_at) == (
        contact.pk,
        "email",
        "unsubscribed",
        f"unsubscribe link (delivery {delivery.pk})",
        datetime(2026, 5, 4, 10, 30, tzinfo=UTC),
    )


def test_a_one_click_post_from_a_mail_client_unsubscribes(make_delivery, email, contact, client):
    delivery = make_delivery(email)
    client.handler.enforce_csrf_checks = True

    response = client.post(_path(delivery, contact), data={"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    assert Consent.objects.get().source == f"list-unsubscribe (delivery {delivery.pk})"


def test_unsubscribing_twice_keeps_one_row_per_contact_and_channel(make_delivery, email, contact, client):
    delivery = make_delivery(email)
    unsubscribe(contact, "text", source="admin")

    client.post(_path(delivery, contact))
    client.post(_path(delivery, contact), data={"List-Unsubscribe": "One-Click"})

    assert sorted(Consent.objects.values_list("channel", "status")) == [
        ("email", "unsubscribed"),
        ("text", "unsubscribed"),
    ]


def test_a_tampered_unsubscribe_link_answers_404_and_records_nothing(make_delivery, email, contact, client):
    delivery = make_delivery(email)
    path = _path(delivery, contact)

    assert client.post(path[:-3] + "abc").status_code == 404
    assert client.get("/u/not-a-token").status_code == 404
    assert Consent.objects.count() == 0


def test_after_unsubscribing_the_next_commercial_email_is_not_sent(make_delivery, email, text, contact, client):
    first = make_delivery(email)
    client.post(_path(first, contact))
    queued_text = make_delivery(text)

    dispatch_delivery(queued_text.pk)  # another channel: still sent

    assert mail.outbox == []
    queued_text.refresh_from_db()
    assert queued_text.status == DeliveryStatus.SENT
