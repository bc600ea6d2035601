"""An email's bytes are the same whether its headers are folded by compat32 itself or by the
one-line shortcut (content.mail._OneLineFolding): short ASCII headers, long ones, non-ASCII
ones, a long List-Unsubscribe URL and tracked links, both parts of the multipart. And a journey
email written directly (content.mail._direct_bytes, without the email package's objects) is
byte for byte what Django's SMTP backend sends, with the same boundary and clock."""

import random
from email.policy import compat32

import pytest
import time_machine
from django.core.mail.message import sanitize_address

from content.mail import (
    ONE_LINE_FOLDING,
    PLAIN_ADDRESS,
    RenderedEmail,
    _direct_bytes,
    _envelope_address,
    build_message,
)


def _both(message) -> tuple[bytes, bytes]:
    built = message.message()
    assert isinstance(built.policy, type(ONE_LINE_FOLDING))
    fast = built.as_bytes(linesep="\r\n")  # sets the multipart boundary, kept for the second
    built.policy = compat32
    return fast, built.as_bytes(linesep="\r\n")


@pytest.mark.parametrize(
    ("subject", "from_email", "reply_to"),
    [
        ("Your cart is waiting", "Shop <shop@example.com>", ""),
        ("A subject long enough that compat32 must fold it over two lines, or even three of them", "s@example.com", ""),
        (
            "Ihr Warenkorb wartet \u2013 20 % Rabatt für Sie",
            "Müller & Söhne <shop@example.com>",
            "Zoë <zoe@example.com>",
        ),
        ("Tabs\tand  double  spaces, commas; semicolons = ?= =?utf-8?q?x?=", "shop@example.com", "r@example.com"),
    ],
)
def test_the_bytes_are_compat32s(subject, from_email, reply_to):
    rendered = RenderedEmail(
        subject=subject,
        html='<html><body><p>Hello <a href="https://shop.example.com/cart?id=1">cart</a></p></body></html>',
        text="Hello\n\nYour cart: https://shop.example.com/cart?id=1\n" + "long line " * 30,
        from_email=from_email,
        reply_to=reply_to,
        preheader="Still thinking about it?",
    )
    unsubscribe = "https://journeys.example.com/u/" + "x" * 90
    message = build_message(
        rendered,
        to="Ana <ana@example.com>",
        headers={
            "Message-ID": "<delivery-42@journeys.example.com>",
            "X-Delivery-Id": "42",
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        pixel_url="https://journeys.example.com/o/42.gif",
        track_link=lambda url: "https://journeys.example.com/c/42/" + url.replace("/", "_"),
    )
    fast, stock = _both(message)
    assert fast == stock
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in fast


@pytest.mark.parametrize(
    "alphabet",
    [
        "ab =?;,\t()<>\"'@.:-_/xyzXYZ0123456789\x01\x7f",
        # A long value with nowhere to fold (a List-Unsubscribe URL): a line of its own.
        "".join(chr(c) for c in range(33, 127) if chr(c) not in ",;"),
        "".join(chr(c) for c in range(33, 127) if chr(c) not in ",;") + ",; \t",
        "".join(chr(c) for c in range(33, 127)),  # "," and ";" but no space
    ],
)
def test_random_header_values_fold_alike(alphabet):
    chooser = random.Random(15)
    for _ in range(20_000):
        name = chooser.choice(["Subject", "To", "Message-ID", "List-Unsubscribe", "X-Delivery-Id", "Reply-To"])
        size = chooser.choice([chooser.randint(0, 90), chooser.randint(60, 400)])
        value = "".join(chooser.choice(alphabet) for _ in range(size))
        assert ONE_LINE_FOLDING.fold(name, value) == compat32.fold(name, value), (name, value)


# --- The common case written directly (content.mail._direct_bytes) --------------------------------

NOW = "2026-12-07 10:00:00Z"
UNSUBSCRIBE_HEADERS = {
    "Message-ID": "<delivery-42@journeys.example.com>",
    "X-Delivery-Id": "42",
    "List-Unsubscribe": "<https://journeys.example.com/u/" + "x" * 90 + ">",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


def _direct_and_djangos(message, seed: int = 15) -> tuple[bytes | None, bytes, bytes]:
    """The direct bytes, `wire_bytes`, and Django's own (the SMTP backend's call), with the same
    random boundary and the same clock."""
    with time_machine.travel(NOW, tick=False):
        random.seed(seed)
        direct = _direct_bytes(message)
        random.seed(seed)
        wire = message.wire_bytes()
        random.seed(seed)
        django = message.message().as_bytes(linesep="\r\n")
    return direct, wire, django


def _message(subject="Your cart is waiting", text="Hello\n", html="<p>Hello</p>", **fields):
    rendered = RenderedEmail(
        subject=subject,
        html=html,
        text=text,
        from_email=fields.pop("from_email", "Shop <shop@example.com>"),
        reply_to=fields.pop("reply_to", ""),
        preheader=fields.pop("preheader", ""),
    )
    return build_message(
        rendered,
        to=fields.pop("to", "ana@example.com"),
        headers=fields.pop("headers", {"Message-ID": "<delivery-42@journeys.example.com>", "X-Delivery-Id": "42"}),
        **fields,
    )


@pytest.mark.parametrize(
    ("subject", "text", "html", "from_email", "reply_to", "to"),
    [
        (
            "Your cart is waiting",
            "Hello\n\nYour cart: https://shop.example.com/cart\n",
            "<p>Hi</p>",
            "s@example.com",
            "",
            "ana@example.com",
        ),
        (
            "Ihr Warenkorb wartet \u2013 20 % Rabatt für Sie, und das ist ein langer Betreff, der gefaltet wird",
            "Grüße, Zoë!\r\nZeile zwei\rZeile drei\n\n" + "lange Zeile " * 80,
            "<html><body><p>Grüße 🛒</p></body></html>",
            "Müller & Söhne <shop@example.com>",
            "Zoë <zoe@example.com>",
            "Zoë Ana <zoe.ana@example.com>",
        ),
        ("A", "no newline at the end", "<p>x</p>\n\n", "shop@example.com", "r@example.com", "a@b.example"),
        (
            "A subject long enough that compat32 must fold it over two lines, or even three of them",
            "x",
            "y",
            "s@example.com",
            "",
            "ana@example.com",
        ),
        ("--==", "--===============\n--", "\n--\n", "s@example.com", "", "ana@example.com"),
        # A designed email's HTML on one line, and a long text line: quoted-printable.
        ("QP", "x" * 999 + "\nnext", "<p>" + "é " * 600 + "=?</p>", "s@example.com", "", "ana@example.com"),
        ("QP", "ok\n", "<td>" + "a" * 997 + "</td>\r\n" + "<p>€</p>", "s@example.com", "", "ana@example.com"),
    ],
)
def test_a_journey_email_written_directly_is_byte_for_byte_djangos(subject, text, html, from_email, reply_to, to):
    message = _message(
        subject, text, html, from_email=from_email, reply_to=reply_to, to=to, headers=UNSUBSCRIBE_HEADERS
    )

    direct, wire, django = _direct_and_djangos(message)

    assert direct is not None
    assert direct == wire == django


def test_a_tracked_email_with_preheader_pixel_and_unsubscribe_is_byte_for_byte_djangos():
    message = _message(
        "Ana, you left 2 items behind",
        "Hi Ana\nUnsubscribe: https://journeys.example.com/u/1\n",
        '<html><body><p>Hi <a href="https://shop.example.com/cart?id=7&amp;utm=mail">cart</a></p></body></html>',
        preheader="Still thinking about it?",
        headers=UNSUBSCRIBE_HEADERS,
        pixel_url="https://journeys.example.com/o/42.gif",
        track_link=lambda url: "https://journeys.example.com/c/42/" + url.replace("/", "_"),
    )

    direct, _, django = _direct_and_djangos(message)

    assert direct == django
    assert b"https://journeys.example.com/c/42/" in direct
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in direct


@pytest.mark.parametrize(
    "why",
    ["no text part", "a Cc", "no Message-ID", "a Date header", "latin-1"],
)
def test_other_shapes_are_left_to_django(why, settings):
    message = _message(text="Hello", html="<p>" + "é" * 600 + "</p>")
    if why == "no text part":
        message.body = ""
    elif why == "a Cc":
        message.cc = ["c@example.com"]
    elif why == "no Message-ID":
        del message.extra_headers["Message-ID"]
    elif why == "a Date header":
        message.extra_headers["Date"] = "Mon, 07 Dec 2026 10:00:00 -0000"
    elif why == "latin-1":
        settings.DEFAULT_CHARSET = "iso-8859-1"

    direct, wire, django = _direct_and_djangos(message)

    assert direct is None
    if why != "no Message-ID":  # Django draws its own Message-ID then: random
        assert wire == django


def test_random_bodies_and_subjects_are_written_as_django_writes_them():
    alphabet = "ab \t\r\n-=.:;,<>\"'&?éü€🛒\u2028\x0b\x0c\x1cFrom x" + "y" * 20
    chooser = random.Random(15)
    written_directly = 0
    for i in range(400):

        def pick(size: int) -> str:
            return "".join(chooser.choice(alphabet) for _ in range(chooser.randint(0, size)))

        message = _message(
            subject=" ".join(pick(90).split()) or "s",
            text=pick(400) or "t",
            html=pick(400) + "\n" + "z" * chooser.choice([10, 997, 998, 999]),
            headers={**UNSUBSCRIBE_HEADERS, "X-Delivery-Id": str(i)},
        )
        direct, wire, django = _direct_and_djangos(message, seed=i)
        assert wire == django, message.body
        written_directly += direct is not None
    assert written_directly == 400


@pytest.mark.parametrize(
    "address",
    [
        "ana@example.com",
        "a.b+c@mail.example.co",
        "o'brien@example.ie",
        "x@localhost",
        "A_B-c{d}@EX-AMPLE.com",
        "#!$%&'*+-/=?^_`{}|~@example.com",
        "x@" + "d" * 63 + ".com",
    ],
)
def test_a_plain_envelope_address_is_what_django_makes_of_it(address):
    assert PLAIN_ADDRESS.fullmatch(address)
    assert _envelope_address(address, "utf-8") == sanitize_address(address, "utf-8")


@pytest.mark.parametrize(
    "address",
    [
        "Ana <ana@example.com>",
        "zoë@example.com",
        "ana@exämple.com",
        '"a b"@example.com',
        "a..b@example.com",
        "x@" + "d" * 64 + ".com",
    ],
)
def test_any_other_envelope_address_is_sanitised_by_django(address):
    assert not PLAIN_ADDRESS.fullmatch(address)
    try:
        expected = sanitize_address(address, "utf-8")
    except ValueError:
        with pytest.raises(ValueError):
            _envelope_address(address, "utf-8")
        return
    assert _envelope_address(address, "utf-8") == expected


def test_random_envelope_addresses_agree_with_django():
    alphabet = "ab.-_+'@Z9"
    chooser = random.Random(15)
    for _ in range(5_000):
        address = "".join(chooser.choice(alphabet) for _ in range(chooser.randint(1, 12)))
        if PLAIN_ADDRESS.fullmatch(address):
            assert _envelope_address(address, "utf-8") == sanitize_address(address, "utf-8"), address
