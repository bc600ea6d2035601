"""A journey email on a server that offers PIPELINING (RFC 2920) goes in two round trips, and
every refusal ends as smtplib's sendmail ends it: the same exception, and the session in step
for the next message. Against a real SMTP server (aiosmtpd, with PIPELINING added to its EHLO
answer; it reads pipelined commands one after the other)."""

import random
import smtplib

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.core import mail
from django.test import override_settings

from content.mail import one_connection, send_message
from content.smtp_pipelining import sendmail

from .test_smtp_journey_email import _free_port
from .test_smtp_wire import _journey_email

MESSAGE = b"Subject: Hi\r\n\r\nHello\r\n.starts with a dot\r\n"


class Server:
    """Refuses what it is told to; records what it received."""

    def __init__(self, *, pipelining: bool = True) -> None:
        self.pipelining = pipelining
        self.refuse_mail = self.refuse_data = False
        self.refuse_rcpt: set[str] = set()
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server, session, envelope, address, options):
        if self.refuse_mail:
            return "550 5.7.1 sender refused"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        if address in self.refuse_rcpt:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.refuse_data:
            return "554 5.6.0 message refused"
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


@pytest.fixture
def server():
    handler = Server()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    handler.port = controller.port
    try:
        yield handler
    finally:
        controller.stop()


class CountingSMTP(smtplib.SMTP):
    """Counts the writes to the server: a round trip each here."""

    writes = 0

    def send(self, s):
        self.writes += 1
        return super().send(s)


@pytest.fixture
def session(server):
    smtp = CountingSMTP("127.0.0.1", server.port)
    smtp.ehlo()
    smtp.writes = 0
    yield smtp
    smtp.close()


def test_a_message_goes_in_two_writes_and_arrives_dot_stuffing_undone(server, session):
    assert sendmail(session, "shop@example.com", ["ana@example.com", "ben@example.com"], MESSAGE) == {}

    assert session.writes == 2  # MAIL + RCPT + RCPT + DATA, then the data: smtplib writes 5
    assert server.messages == [("shop@example.com", ["ana@example.com", "ben@example.com"], MESSAGE)]


def test_without_pipelining_it_is_smtplibs_sendmail(server, session):
    server.pipelining = False
    session.ehlo()  # the server's answer without PIPELINING
    session.writes = 0

    sendmail(session, "shop@example.com", ["ana@example.com"], MESSAGE)

    assert session.writes == 4  # MAIL, RCPT, DATA, the data
    assert server.messages == [("shop@example.com", ["ana@example.com"], MESSAGE)]


def test_an_address_outside_ascii_goes_through_smtplib(session, monkeypatch):
    calls = []
    monkeypatch.setattr(session, "sendmail", lambda *args: calls.append(args) or {})

    sendmail(session, "shop@example.com", ["zoë@example.com"], MESSAGE)

    assert calls == [("shop@example.com", ["zoë@example.com"], MESSAGE)]


def test_a_refused_recipient_is_returned_and_the_others_get_it(server, session):
    server.refuse_rcpt = {"ben@example.com"}

    refused = sendmail(session, "shop@example.com", ["ana@example.com", "ben@example.com"], MESSAGE)

    assert list(refused) == ["ben@example.com"] and refused["ben@example.com"][0] == 550
    assert server.messages == [("shop@example.com", ["ana@example.com"], MESSAGE)]


@pytest.mark.parametrize(
    ("refuse", "error"),
    [
        ("mail", smtplib.SMTPSenderRefused),
        ("rcpt", smtplib.SMTPRecipientsRefused),
        ("data", smtplib.SMTPDataError),
    ],
)
def test_a_refusal_raises_what_smtplib_raises_and_the_session_stays_in_step(server, session, refuse, error):
    server.refuse_mail, server.refuse_data = refuse == "mail", refuse == "data"
    server.refuse_rcpt = {"ana@example.com"} if refuse == "rcpt" else set()

    with pytest.raises(error) as raised:
        sendmail(session, "shop@example.com", ["ana@example.com"], MESSAGE)
    with pytest.raises(error) as by_smtplib:
        session.sendmail("shop@example.com", ["ana@example.com"], MESSAGE)
    assert type(raised.value) is type(by_smtplib.value)
    assert str(raised.value) == str(by_smtplib.value)

    server.refuse_mail = server.refuse_data = False
    server.refuse_rcpt = set()
    sendmail(session, "shop@example.com", ["cy@example.com"], MESSAGE)  # the replies are in step
    assert server.messages == [("shop@example.com", ["cy@example.com"], MESSAGE)]


def test_a_server_that_hangs_up_raises_disconnected(server, session):
    session.sock.shutdown(2)  # the connection is gone under the session

    with pytest.raises(smtplib.SMTPServerDisconnected):
        sendmail(session, "shop@example.com", ["ana@example.com"], MESSAGE)
    assert server.messages == []


@pytest.mark.parametrize(("pipelining", "writes"), [(True, 2), (False, 4)])
def test_a_journey_email_goes_pipelined_and_arrives_as_djangos_own_send(server, monkeypatch, pipelining, writes):
    server.pipelining = pipelining
    sent: list[bytes] = []
    original = smtplib.SMTP.send
    monkeypatch.setattr(smtplib.SMTP, "send", lambda smtp, s: sent.append(s) or original(smtp, s))
    settings = {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": server.port,
        "EMAIL_USE_TLS": False,
        "EMAIL_USE_SSL": False,
    }
    with override_settings(**settings), time_machine.travel("2026-12-07 10:00:00Z", tick=False):
        random.seed(7)
        with one_connection():
            send_message(_journey_email("zoe@example.com", "Shop <shop@example.com>"))
        journey_writes = len(sent) - 2  # EHLO and QUIT
        random.seed(7)
        mail.get_connection().send_messages([_journey_email("zoe@example.com", "Shop <shop@example.com>")])

    assert journey_writes == writes
    (_, to, journey), (_, django_to, django) = server.messages
    assert (to, journey) == (django_to, django)
