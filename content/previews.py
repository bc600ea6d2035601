"""Preview and test send: a message rendered with sample contact and trigger data."""

import re
from dataclasses import dataclass, replace
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from .backends import PushPayload, TextPayload, get_push_backend, get_text_backend
from .mail import build_message, render_email, send_message
from .models import Content, Email, PushNotification, TextMessage
from .rendering import render
from .samples import SAMPLE_CONTEXT


@dataclass(frozen=True)
class Preview:
    channel: str
    subject: str = ""
    html: str = ""
    text: str = ""
    title: str = ""
    link_url: str = ""


def preview(content: Content, context: dict[str, Any] | None = None) -> Preview:
    """Render a message with sample data; raises TemplateSyntaxError or RenderError."""
    context = context or SAMPLE_CONTEXT
    specific = content.specific
    if isinstance(specific, Email):
        rendered = render_email(specific, context)
        return Preview(channel=content.channel, subject=rendered.subject, html=rendered.html, text=rendered.text)
    if isinstance(specific, TextMessage):
        return Preview(channel=content.channel, text=render(specific.body, context, html=False))
    assert isinstance(specific, PushNotification)
    return Preview(
        channel=content.channel,
        title=render(specific.title, context, html=False),
        text=render(specific.body, context, html=False),
        link_url=render(specific.link_url, context, html=False),
    )


DARK_MEDIA = re.compile(r"@media\s*\(\s*prefers-color-scheme\s*:\s*dark\s*\)")


def as_dark(html: str) -> str:
    """The email as a mail client in dark mode shows it: its dark-mode rules always on."""
    return DARK_MEDIA.sub("@media all", html)


def validate_test_address(content: Content, address: str) -> str:
    """The typed address, cleaned; raises ValidationError naming the rule."""
    address = address.strip()
    if not address:
        raise ValidationError("Type an address to send the test to.")
    if content.channel == "email":
        validate_email(address)
    return address


def send_test(content: Content, address: str) -> str:
    """Send the message rendered with sample data to `address`; returns the provider's id.

    No tracking and no delivery row: a test send is not part of any journey.
    """
    address = validate_test_address(content, address)
    specific = content.specific
    if isinstance(specific, Email):
        rendered = render_email(specific, SAMPLE_CONTEXT)
        message = build_message(replace(rendered, subject=f"[Test] {rendered.subject}"), to=address)
        return send_message(message)
    shown = preview(specific)
    if isinstance(specific, TextMessage):
        return get_text_backend().send(TextPayload(to=address, body=shown.text, sender=specific.sender))
    return get_push_backend().send(
        PushPayload(
            to=address,
            title=shown.title,
            body=shown.text,
            link_url=shown.link_url,
            image_url=specific.image_url,  # type: ignore[attr-defined]  # a PushNotification here
        )
    )
