"""content.quoted_printable writes what Django's UTF-8 charset writes (email.charset's QP),
and content.mail's long-line test answers as Django's does."""

import random
import re

import pytest
from django.core.mail.message import RFC5322_EMAIL_LINE_LENGTH_LIMIT, utf8_charset_qp

from content import quoted_printable
from content.mail import _has_long_line


def _djangos(data: bytes) -> str:
    return utf8_charset_qp.body_encode(data)


@pytest.mark.parametrize(
    "text",
    [
        "a",
        "=",
        "\n",
        "a\r\nb\rc\nd\n",
        "é€🛒 and \x00\x01\x7f\x80",
        # A line's end in whitespace, with each amount of room before the 76th column.
        *("x" * n + " " for n in range(70, 80)),
        *("x" * n + "\t\n" for n in range(70, 80)),
        # "=XX" where a soft break would fall.
        *("y" * n + "=" + "z" * 10 for n in range(70, 80)),
        *("y" * n + "é" * 5 for n in range(70, 80)),
        # Separators str.splitlines knows and quoted-printable quotes.
        "a\x0bb\x0cc\x1cd\x1de\x1ef\x85g\u2028h\u2029i",
        '<td style="a=b">' * 400,
    ],
)
def test_crafted_bodies_are_encoded_as_django_encodes_them(text):
    data = text.encode()

    assert quoted_printable.body_encode(data) == _djangos(data)


def test_with_crlf_it_is_what_the_generator_makes_of_djangos():
    text = "x" * 80 + " \r\n" + "é" * 40 + "\n=\rend \n"
    data = text.encode()

    assert quoted_printable.body_encode(data, eol="\r\n") == "\r\n".join(re.split(r"\r\n|\r|\n", _djangos(data)))


def test_random_bodies_are_encoded_as_django_encodes_them():
    alphabet = "ab =\t\r\n.é€\x00\x7f\x0b\u2028" + "x" * 10
    chooser = random.Random(7)
    for _ in range(3000):
        text = "".join(chooser.choice(alphabet) for _ in range(chooser.randint(1, 300)))
        data = text.encode()
        assert quoted_printable.body_encode(data) == _djangos(data), repr(text)


def _djangos_test(text: str) -> bool:
    return any(
        len(line.encode(errors="surrogateescape")) > RFC5322_EMAIL_LINE_LENGTH_LIMIT for line in text.splitlines()
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "short\nlines\n",
        "a" * 998,
        "a" * 999,
        "é" * 499,  # 998 bytes
        "é" * 500,  # 1,000 bytes in 500 characters
        # Long as bytes (split only at \r and \n), short as text (split at \u2028 too).
        ("a" * 500 + "\u2028") * 3,
        ("a" * 500 + "\x0b") * 2 + "b" * 999,
        "x\r\n" * 1000,
    ],
)
def test_the_long_line_test_answers_as_djangos(text):
    assert _has_long_line(text, text.encode()) == _djangos_test(text)
