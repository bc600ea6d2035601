"""The issue's 'done when': a journey-shaped email through a real SMTP server, read back,
then its pixel and its link raise email_opened and email_clicked for that delivery."""

import email as email_lib
import re
import socket
from email import policy

import pytest
from aiosmtpd.controller import Controller
from django.test import override_settings

from journeys.models import Delivery, DeliveryStatus, Interaction
from journeys.sending import dispatch_delivery
from triggers.models import Event


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=controller.port,
            EMAIL_USE_TLS=False,
            EMAIL_USE_SSL=False,
            EMAIL_HOST_USER="",
            EMAIL_HOST_PASSWORD="",
        ):
            yield inbox
    finally:
        controller.stop()


def _html_part(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def test_a_journey_email_arrives_personalised_with_pixel_and_unsubscribe_link_and_its_pixel_and_link_raise_triggers(
    smtp_server, make_delivery, email, contact, client
):
    delivery = make_delivery(email)

    dispatch_delivery(delivery.pk)

    assert len(smtp_server.messages) == 1
    recipients, raw = smtp_server.messages[0]
    assert recipients == ["ana@example.com"]
    message = email_lib.message_from_bytes(raw, policy=policy.default)
    assert message["Subject"] == "Ana, you left 2 items behind"
    assert message["From"] == "Shop <shop@example.com>"
    assert message["X-Delivery-Id"] == str(delivery.pk)
    assert message["Message-ID"] == f"<delivery-{delivery.pk}@testserver>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = re.fullmatch(r"<(http://testserver/u/[^>]+)>", message["List-Unsubscribe"].strip()).group(1)

    html = _html_part(message)
    assert "Hi Ana," in html
    assert "<li>Blue mug</li><li>Tea</li>" in html
    pixel = re.search(r'<img src="(http://testserver/t/o/[^"]+\.gif)"', html).group(1)
    links = re.findall(r'<a href="([^"]+)"', html)
    assert links[1] == unsubscribe  # the unsubscribe link is not tracked
    assert links[0].startswith("http://testserver/t/c/")
    assert "shop.example.com" not in links[0]  # the target is inside the signed token
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert f"Unsubscribe: {unsubscribe}" in text

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.sent_at is not None
    assert delivery.provider_message_id == f"<delivery-{delivery.pk}@testserver>"
    assert delivery.attempts == 1

    response = client.get(pixel.removeprefix("http://testserver"))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    opened = Event.objects.get(trigger__key="email_opened")
    assert opened.contact_key == "cust-42"
    assert opened.binding_id == "cart-1"
    assert opened.attributes == {
        "delivery_id": str(delivery.pk),
        "journey": "abandoned-cart",
        "step": "initial-email-step",
        "content": "initial-email",
    }

    response = client.get(links[0].removeprefix("http://testserver"))
    assert response.status_code == 302
    assert response["Location"] == "https://shop.example.com/cart?id=7&utm=mail"
    clicked = Event.objects.get(trigger__key="email_clicked")
    assert clicked.attributes["delivery_id"] == str(delivery.pk)
    assert clicked.attributes["url"] == "https://shop.example.com/cart?id=7&utm=mail"

    delivery = Delivery.objects.get(pk=delivery.pk)
    assert delivery.status == DeliveryStatus.CLICKED
    assert delivery.opened_at is not None and delivery.clicked_at is not None
    assert list(Interaction.objects.filter(delivery=delivery).order_by("at", "id").values_list("kind", flat=True)) == [
        "open",
        "click",
    ]


def test_a_refused_recipient_fails_the_delivery_with_the_servers_reason(smtp_server, make_delivery, email):
    class Refusing(Inbox):
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            return "550 5.1.1 No such user"

    smtp_server.__class__ = Refusing
    delivery = make_delivery(email)

    dispatch_delivery(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.reason.startswith("Recipient refused: ana@example.com (550 5.1.1 No such user)")
    assert smtp_server.messages == []


def test_a_temporary_smtp_refusal_is_retried_later_and_the_email_arrives_once(
    smtp_server, make_delivery, email, django_capture_on_commit_callbacks
):
    from datetime import UTC, datetime, timedelta

    import time_machine

    from journeys.sending import retry_due_deliveries

    class BusyOnce(Inbox):
        busy = True

        async def handle_DATA(self, server, session, envelope):
            if BusyOnce.busy:
                BusyOnce.busy = False
                return "451 4.3.0 Try again later"
            return await super().handle_DATA(server, session, envelope)

    smtp_server.__class__ = BusyOnce
    t0 = datetime(2026, 5, 4, 10, tzinfo=UTC)
    with time_machine.travel(t0, tick=False):
        delivery = make_delivery(email)
        dispatch_delivery(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.reason) == (DeliveryStatus.QUEUED, "SMTP 451: 4.3.0 Try again later")
    assert delivery.next_attempt_at == t0 + timedelta(minutes=1)
    assert smtp_server.messages == []

    with time_machine.travel(t0 + timedelta(minutes=1), tick=False), django_capture_on_commit_callbacks(execute=True):
        retry_due_deliveries()
        retry_due_deliveries()  # a second sweep finds nothing left to send

    assert len(smtp_server.messages) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 2)
