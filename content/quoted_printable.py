"""Quoted-printable bodies, byte for byte what Django's UTF-8 charset writes, faster.

Django encodes a text part as quoted-printable when a line is longer than RFC 5322 allows
(a designed email's HTML is one long line), through `email.charset.Charset.body_encode`,
which quotes with `str.translate` and a 256-entry table of strings: a Python step per
character, three quarters of the encoding's time for a 6 kB email. Here the same quoting is
two passes in C: "=" first (the character HTML has most of, and the only printable one
quoted), then a regular expression for the rest, which never produces a character the first
pass would touch again. The soft line breaks are cut by the standard library's own loop
(`email.quoprimime.body_encode`, copied), once per 75 characters.
tests/content/test_quoted_printable.py compares the two on crafted and random bodies.
"""

import re

# email.quoprimime's body map leaves printable ASCII but "=", space, tab and the line ends as
# they are and writes "=XX" for the rest. "=" is quoted first, so this pass leaves it be.
_QUOTED = re.compile(r"[^\t\n\r -~]")
MAX_LINE = 76  # RFC 2045, email.quoprimime's default


def _quote(match: re.Match[str]) -> str:
    return _quote_char(match.group())


def body_encode(data: bytes, eol: str = "\n") -> str:
    """`email.charset.Charset("utf-8")` with QP body encoding: its `body_encode(data)`, for
    the UTF-8 bytes of a body, with `eol` between the lines (the charset's "\\n" by default,
    which the generator then rewrites; the wire's CRLF saves that pass)."""
    if not data:
        return ""
    soft_break = "=" + eol
    body = _QUOTED.sub(_quote, data.decode("latin-1").replace("=", "=3D"))
    lines: list[str] = []
    append = lines.append
    for line in body.splitlines():  # after quoting only \r and \n remain to split on
        start = 0
        last_start = len(line) - 1 - MAX_LINE
        while start <= last_start:
            stop = start + MAX_LINE - 1
            # Never cut an "=XX" apart.
            if line[stop - 2] == "=":
                append(line[start : stop - 1])
                start = stop - 2
            elif line[stop - 1] == "=":
                append(line[start:stop])
                start = stop - 1
            else:
                append(line[start:stop] + "=")
                start = stop
        if line and line[-1] in " \t":
            # Whitespace at a line's end is quoted, room permitting (RFC 2045, rule 3).
            room = start - last_start
            if room >= 3:
                end = _quote_char(line[-1])
            elif room == 2:
                end = line[-1] + soft_break
            else:
                end = soft_break + _quote_char(line[-1])
            append(line[start:-1] + end)
        else:
            append(line[start:])
    if body[-1] in "\r\n":
        append("")
    return eol.join(lines)


def _quote_char(char: str) -> str:
    return f"={ord(char):02X}"
