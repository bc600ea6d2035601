"""Emails: render a message, add tracking, and send it through Django's email framework.

Any EMAIL_BACKEND works (SMTP, console, file, an ESP through django-anymail). Tracking is
passed in as plain values and a function (content knows nothing of journeys): an open pixel
URL appended to the HTML, and a `track_link` that turns each http(s) link into its signed
click URL.
"""

import html as html_lib
import random
import re
import smtplib
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from email.policy import Compat32
from email.utils import formataddr, formatdate
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import (
    RFC5322_EMAIL_LINE_LENGTH_LIMIT,
    forbid_multi_line_headers,
    sanitize_address,
)

from . import quoted_printable, smtp_pipelining
from .errors import PermanentSendError, TransientSendError
from .models import Email
from .rendering import freeze, render

# href="…" or href='…' inside an <a> tag; the value is HTML-escaped in the source.
LINK = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)
BODY_START = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str
    from_email: str
    reply_to: str
    preheader: str


def render_email(email: Email, context: Mapping[str, Any]) -> RenderedEmail:
    """Render every part of an email; raises TemplateSyntaxError or RenderError."""
    context = freeze(context)  # once for the five templates, not once each
    from_email = formataddr((email.from_name, email.from_email)) if email.from_name else email.from_email
    return RenderedEmail(
        # A subject is one line: a newline in personal data would break the header.
        subject=" ".join(render(email.subject, context, html=False).split()),
        html=render(email.html_body, context, html=True),
        text=render(email.text_body, context, html=False),
        from_email=from_email,
        reply_to=email.reply_to,
        preheader=" ".join(render(email.preheader, context, html=False).split()),
    )


def rewrite_links(html: str, track_link: Callable[[str], str]) -> str:
    """Replace each http(s) link target with `track_link(url)`; other links stay as they are."""

    def replace(match: re.Match) -> str:
        url = html_lib.unescape(match.group(3)).strip()
        if not url.lower().startswith(("http://", "https://")):
            return match.group(0)
        tracked = track_link(url)
        return f"{match.group(1)}{match.group(2)}{html_lib.escape(tracked, quote=True)}{match.group(2)}"

    return LINK.sub(replace, html)


def add_open_pixel(html: str, pixel_url: str) -> str:
    pixel = (
        f'<img src="{html_lib.escape(pixel_url, quote=True)}" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0" />'
    )
    if BODY_END.search(html):
        return BODY_END.sub(lambda m: pixel + m.group(0), html, count=1)
    return html + pixel


def add_preheader(html: str, preheader: str) -> str:
    if not preheader:
        return html
    hidden = f'<div style="display:none;max-height:0;overflow:hidden;mso-hide:all">{html_lib.escape(preheader)}</div>'
    if BODY_START.search(html):
        return BODY_START.sub(lambda m: m.group(0) + hidden, html, count=1)
    return hidden + html


class _OneLineFolding(Compat32):
    """The compat32 policy Django's messages use, with two shortcuts: a header whose value is
    plain ASCII on one line and fits within `max_line_length` with its name is written as is,
    and a longer one with no whitespace on a continuation line of its own, which
    is what compat32's folding (an `email.header.Header` per header, ~40 % of building an
    email's bytes) writes for them too. Anything else (longer, non-ASCII, an encoded or
    `Header` value) is folded by compat32 itself. tests/content/test_mail_bytes.py compares
    the bytes of both."""

    def _fold(self, name: str, value: Any, sanitize: bool) -> str:
        if (
            isinstance(value, str)
            and value.isascii()
            and "\r" not in value
            and "\n" not in value
            and self.max_line_length
        ):
            if len(name) + 2 + len(value) <= self.max_line_length:
                return f"{name}: {value}{self.linesep}"
            if UNFOLDABLE.fullmatch(value):
                # Too long, and nowhere compat32 folds (a List-Unsubscribe URL): it moves the
                # value whole to a continuation line.
                return f"{name}: {self.linesep} {value}{self.linesep}"
        return super()._fold(name, value, sanitize)  # type: ignore[misc]  # compat32's own (typeshed omits it)


# Printable ASCII without a space: compat32 folds only at whitespace (tests/content/
# test_mail_bytes.py tries "," and ";" too).
UNFOLDABLE = re.compile(r"[!-~]+")


ONE_LINE_FOLDING = _OneLineFolding()


class _Message(EmailMultiAlternatives):
    """Django's message, flattened with `ONE_LINE_FOLDING` (the generator passes the top
    part's policy on to every part)."""

    def message(self):  # type: ignore[no-untyped-def]  # Django's own signature
        built = super().message()
        built.policy = ONE_LINE_FOLDING.clone(linesep=built.policy.linesep)
        return built

    def wire_bytes(self) -> bytes:
        """The bytes Django's SMTP backend sends for this message
        (`message().as_bytes(linesep="\\r\\n")`), written directly in the common case."""
        return _direct_bytes(self) or self.message().as_bytes(linesep="\r\n")


# --- The common case's bytes, without the email package's objects -------------------------------------
#
# Building Django's MIME objects and flattening them was about a fifth of a sending worker's
# CPU (issue 15): a Message per part, a header object per header, and a regular expression
# compiled per message to check its random multipart boundary. For the message every journey
# email is (a text part and an HTML alternative, UTF-8, no attachments) the bytes are written
# here the way the generator writes them: each header line by the same functions (Django's
# forbid_multi_line_headers, then the policy's fold_binary), each body as UTF-8 with CRLF line
# ends under its 7bit/8bit header (quoted-printable, by Django's own charset object, when a line
# is too long), the parts between the boundary lines. Anything else (another charset,
# attachments, a boundary found in a body) goes through Django.
# tests/content/test_mail_bytes.py compares both.

CRLF = "\r\n"
CRLF_FOLDING = ONE_LINE_FOLDING.clone(linesep=CRLF)
# email.generator's NLCRE: the generator turns each of these line ends into CRLF.
LINE_END = re.compile(r"\r\n|\r|\n")
# Headers the common case writes itself (or that would change the structure).
OWN_HEADERS = frozenset({"from", "to", "cc", "reply-to", "date", "content-type", "mime-version"})
BOUNDARY_DIGITS = len(repr(sys.maxsize - 1))  # email.generator's width
BOUNDARY_SAMPLE = "=" * 15 + "0" * BOUNDARY_DIGITS + "=="


@lru_cache(maxsize=4096)
def _header_line(name: str, value: str) -> bytes:
    """One header as the generator writes it for a Django message (UTF-8): checked and, if
    not ASCII, encoded by Django, then folded by the policy. Most values repeat (the sender,
    a subject without personal data), so each is built once."""
    name, value = forbid_multi_line_headers(name, value, "utf-8")
    return CRLF_FOLDING.fold_binary(name, value)


def _text_part(text: str, subtype: str) -> bytes | None:
    """A SafeMIMEText part's bytes (headers, blank line, body) as Django writes it: UTF-8, 7bit
    or 8bit, or quoted-printable when a line is longer than RFC 5322 allows (a designed
    email's HTML is one long line). None when the text cannot be encoded (Django raises)."""
    try:
        encoded = text.encode()
    except UnicodeEncodeError:  # a lone surrogate: Django raises, let it say so
        return None
    if _has_long_line(text, encoded):
        # What Charset.body_encode gives Django's SafeMIMEText, with the generator's line ends.
        body = quoted_printable.body_encode(encoded, eol=CRLF).encode()
        return _part_headers(subtype, "quoted-printable") + CRLF.encode() + body
    body = CRLF.join(LINE_END.split(text)).encode()
    return _part_headers(subtype, "7bit" if body.isascii() else "8bit") + CRLF.encode() + body


# Where str.splitlines splits a line and bytes.splitlines does not.
OTHER_LINE_ENDS = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def _has_long_line(text: str, encoded: bytes) -> bool:
    """Django's test for quoted-printable: a line of `text` (by str.splitlines) longer than
    RFC 5322 allows in UTF-8. The bytes' lines (split at \r and \n only) are at least as long
    as the text's, so when none of them is too long, no line of the text is: one pass in C
    for the common case, Django's own test otherwise."""
    if max(map(len, encoded.splitlines()), default=0) <= RFC5322_EMAIL_LINE_LENGTH_LIMIT:
        return False
    if not OTHER_LINE_ENDS.search(text):  # then the text's lines are the bytes' lines
        return True
    return any(
        len(line.encode(errors="surrogateescape")) > RFC5322_EMAIL_LINE_LENGTH_LIMIT for line in text.splitlines()
    )


@lru_cache(maxsize=8)
def _part_headers(subtype: str, transfer_encoding: str) -> bytes:
    return (
        _header_line("Content-Type", f'text/{subtype}; charset="utf-8"')
        + _header_line("MIME-Version", "1.0")
        + _header_line("Content-Transfer-Encoding", transfer_encoding)
    )


def _direct_bytes(message: EmailMultiAlternatives) -> bytes | None:
    """Django's bytes for a text + HTML message in UTF-8, or None for anything else."""
    texts = _text_and_html(message)
    if texts is None:
        return None
    plain, html = _text_part(texts[0], "plain"), _text_part(texts[1], "html")
    if plain is None or html is None:
        return None
    # The generator's boundary, drawn the same way; one that occurs in a part (it never
    # does by chance: 19 random digits) is left to the generator, which lengthens it.
    boundary = "=" * 15 + f"{random.randrange(sys.maxsize):0{BOUNDARY_DIGITS}d}" + "=="
    delimiter = b"--" + boundary.encode()
    if delimiter in plain or delimiter in html:
        return None
    headers = [
        _content_type_line(boundary),
        _header_line("MIME-Version", "1.0"),
        _header_line("Subject", str(message.subject)),
        _header_line("From", str(message.from_email)),
        _header_line("To", ", ".join(str(to) for to in message.to)),
    ]
    if message.reply_to:
        headers.append(_header_line("Reply-To", ", ".join(str(address) for address in message.reply_to)))
    headers.append(_header_line("Date", formatdate(localtime=settings.EMAIL_USE_LOCALTIME)))
    headers += [_header_line(name, str(value)) for name, value in message.extra_headers.items()]
    nl = CRLF.encode()
    return b"".join([*headers, nl, delimiter, nl, plain, nl, delimiter, nl, html, nl, delimiter, b"--", nl])


@lru_cache(maxsize=1)
def _content_type_template() -> bytes:
    return CRLF_FOLDING.fold_binary("Content-Type", f'multipart/alternative; boundary="{BOUNDARY_SAMPLE}"')


def _content_type_line(boundary: str) -> bytes:
    """The multipart's Content-Type as the policy folds it (too long for one line: compat32's
    own folding, costly). Every boundary has the same shape (15 "=", the digits, "=="), and
    digits are never a place to fold, so the line is folded once with sample digits."""
    assert len(boundary) == len(BOUNDARY_SAMPLE) and boundary[15:-2].isdigit(), boundary
    return _content_type_template().replace(BOUNDARY_SAMPLE[15:-2].encode(), boundary[15:-2].encode())


def _text_and_html(message: EmailMultiAlternatives) -> tuple[str, str] | None:
    """The message's text and HTML when it is the common case's shape, else None."""
    if (
        (message.encoding or settings.DEFAULT_CHARSET) != "utf-8"
        or not message.to
        or message.cc
        or message.attachments
        or len(message.alternatives) != 1
        or OWN_HEADERS.intersection(name.lower() for name in message.extra_headers)
        # Without one Django adds a Message-ID of its own after the Date.
        or "message-id" not in (name.lower() for name in message.extra_headers)
    ):
        return None
    html, mimetype = message.alternatives[0]
    if mimetype != "text/html" or not isinstance(html, str) or not isinstance(message.body, str) or not message.body:
        return None
    return message.body, html


def build_message(
    rendered: RenderedEmail,
    *,
    to: str,
    headers: Mapping[str, str] | None = None,
    pixel_url: str = "",
    track_link: Callable[[str], str] | None = None,
    metadata: Mapping[str, str] | None = None,
) -> EmailMultiAlternatives:
    html = add_preheader(rendered.html, rendered.preheader)
    if track_link:
        html = rewrite_links(html, track_link)
    if pixel_url:
        html = add_open_pixel(html, pixel_url)
    message = _Message(
        subject=rendered.subject,
        body=rendered.text,
        from_email=rendered.from_email,
        to=[to],
        reply_to=[rendered.reply_to] if rendered.reply_to else None,
        headers=dict(headers or {}),
    )
    message.attach_alternative(html, "text/html")
    if metadata:
        # django-anymail sends this to the ESP and hands it back in tracking events;
        # other backends ignore the attribute.
        message.metadata = dict(metadata)  # type: ignore[attr-defined]  # anymail's attribute
    return message


_shared_connection: ContextVar[Any] = ContextVar("shared_email_connection", default=None)


@contextmanager
def one_connection() -> Iterator[None]:
    """Send the block's emails over one connection to EMAIL_BACKEND (one SMTP session for a
    batch, not one per message). It opens at the first email and closes at the end."""
    connection = get_connection()
    token = _shared_connection.set(connection)
    try:
        yield
    finally:
        _shared_connection.reset(token)
        connection.close()


def send_message(message: EmailMultiAlternatives) -> str:
    """Send through EMAIL_BACKEND; returns the provider's message id (or our Message-ID).

    Translates backend errors into TransientSendError / PermanentSendError.
    """
    shared = _shared_connection.get()
    try:
        if shared is not None:
            shared.open()  # no-op while open; reconnects after an error closed it
            message.connection = shared
        if type(shared) is SMTPBackend and isinstance(message, _Message):
            _send_over_smtp(shared, message)
        else:
            message.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused as error:
        _reset_after_error(shared)
        raise PermanentSendError(f"Recipient refused: {_smtp_detail(error.recipients)}") from error
    except smtplib.SMTPResponseException as error:
        _reset_after_error(shared)
        reason = f"SMTP {error.smtp_code}: {_decode(error.smtp_error)}"
        # 4xx is "try again later" in SMTP; 5xx is final.
        if 400 <= error.smtp_code < 500:
            raise TransientSendError(reason) from error
        raise PermanentSendError(reason) from error
    except (TimeoutError, smtplib.SMTPException, OSError) as error:
        _reset_after_error(shared)
        raise TransientSendError(f"Mail server unreachable: {error}") from error
    except Exception as error:
        _reset_after_error(shared)
        classified = _classify_anymail(error)
        if classified is error:
            raise
        raise classified from error
    status = getattr(message, "anymail_status", None)
    if status is not None and getattr(status, "message_id", None):
        return str(status.message_id)
    return message.extra_headers.get("Message-ID", "")


def _send_over_smtp(backend: SMTPBackend, message: _Message) -> None:
    """What Django's SMTP backend does to send a message on its open session (its `_send`),
    with the bytes from `wire_bytes` and each envelope address sanitised as it does, a plain
    one (most recipients) without parsing it; pipelined when the server offers it
    (content.smtp_pipelining)."""
    recipients = message.recipients()
    if not recipients:
        return  # Django sends nothing either
    encoding = message.encoding or settings.DEFAULT_CHARSET
    sender = _envelope_address(message.from_email, encoding)
    to = [_envelope_address(address, encoding) for address in recipients]
    with backend._lock:  # type: ignore[attr-defined]  # the backend's own lock around its session
        assert backend.connection is not None, "opened by send_message"
        smtp_pipelining.sendmail(backend.connection, sender, to, message.wire_bytes())


# An address Django's sanitize_address returns unchanged: a dot-atom local part and an ASCII
# domain whose labels fit (tests/content/test_mail_bytes.py checks both agree).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
PLAIN_ADDRESS = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]{{1,63}}(?:\.[A-Za-z0-9-]{{1,63}})*")


def _envelope_address(address: str, encoding: str) -> str:
    if PLAIN_ADDRESS.fullmatch(address):
        return address
    return _sanitized(address, encoding)


@lru_cache(maxsize=256)
def _sanitized(address: str, encoding: str) -> str:
    """Django's sanitize_address, once per sender (a content's From parses the same each time)."""
    return sanitize_address(address, encoding)


def _classify_anymail(error: Exception) -> Exception:
    try:
        from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
    except ImportError:  # pragma: no cover - anymail is a dependency
        return error
    if isinstance(error, AnymailRecipientsRefused):
        return PermanentSendError(f"Recipient refused: {error}")
    if isinstance(error, AnymailAPIError):
        status = getattr(error, "status_code", None)
        if status is None or status == 429 or status >= 500:
            return TransientSendError(f"Email provider error: {error}")
        return PermanentSendError(f"Email provider refused the message: {error}")
    return error


def _reset_after_error(connection: Any) -> None:
    """After an error the session may be unusable (or mid-transaction): the next email of
    the batch starts a new one."""
    if connection is not None:
        with suppress(Exception):  # closing a broken session can fail too; it is dropped either way
            connection.close()


def _smtp_detail(recipients: dict) -> str:
    return "; ".join(f"{address} ({code} {_decode(text)})" for address, (code, text) in recipients.items())


def _decode(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
