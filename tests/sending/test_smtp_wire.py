"""In a chunk's SMTP session the email goes out written directly (content.mail's common case):
the server receives, byte for byte and with the same envelope, what Django's SMTP backend
sends for the same message."""

import random

import pytest
import time_machine
from django.core import mail

from content.mail import RenderedEmail, build_message, one_connection, send_message

from .test_smtp_journey_email import Inbox, smtp_server  # noqa: F401 (a fixture)


class SenderInbox(Inbox):
    """Records each envelope's sender too."""

    async def handle_DATA(self, server, session, envelope):
        self.senders.append(envelope.mail_from)
        return await super().handle_DATA(server, session, envelope)


def _journey_email(to: str, from_email: str):
    rendered = RenderedEmail(
        subject="Zoë, you left 2 items behind",
        html='<html><body><p>Hi <a href="https://shop.example.com/cart">cart</a></p>\n.\n..</body></html>',
        text="Hi Zoë\n.\nA line with a dot alone above (SMTP dot-stuffing).\n",
        from_email=from_email,
        reply_to="",
        preheader="Still there?",
    )
    return build_message(
        rendered,
        to=to,
        headers={
            "Message-ID": "<delivery-7@journeys.example.com>",
            "X-Delivery-Id": "7",
            "List-Unsubscribe": "<https://journeys.example.com/u/7>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        pixel_url="https://journeys.example.com/o/7.gif",
        track_link=lambda url: "https://journeys.example.com/c/7?u=" + url,
    )


@pytest.mark.parametrize(
    ("to", "from_email"),
    [("zoe@example.com", "Shop <shop@example.com>"), ("Zoë <zoe@exämple.com>", "Müller <shop@example.com>")],
)
def test_the_server_receives_djangos_bytes_and_envelope(smtp_server, to, from_email):  # noqa: F811
    smtp_server.__class__, smtp_server.senders = SenderInbox, []
    with time_machine.travel("2026-12-07 10:00:00Z", tick=False):
        random.seed(7)
        with one_connection():
            send_message(_journey_email(to, from_email))
        random.seed(7)
        mail.get_connection().send_messages([_journey_email(to, from_email)])  # Django's own _send

    (direct_to, direct), (django_to, django) = smtp_server.messages
    assert direct_to == django_to
    assert smtp_server.senders[0] == smtp_server.senders[1]
    assert direct == django
    assert b"Content-Transfer-Encoding: 8bit" in direct
