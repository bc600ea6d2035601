"""An email's bytes are the same whether its headers are folded by compat32 itself or by the
one-line shortcut (content.mail._OneLineFolding): short ASCII headers, long ones, non-ASCII
ones, a long List-Unsubscribe URL and tracked links, both parts of the multipart."""

import random
from email.policy import compat32

import pytest

from content.mail import ONE_LINE_FOLDING, RenderedEmail, build_message


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


def test_random_header_values_fold_alike():
    alphabet = "ab =?;,\t()<>\"'@.:-_/xyzXYZ0123456789\x01\x7f"
    chooser = random.Random(15)
    for _ in range(20_000):
        name = chooser.choice(["Subject", "To", "Message-ID", "List-Unsubscribe", "X-Delivery-Id", "Reply-To"])
        value = "".join(chooser.choice(alphabet) for _ in range(chooser.randint(0, 90)))
        assert ONE_LINE_FOLDING.fold(name, value) == compat32.fold(name, value), (name, value)
