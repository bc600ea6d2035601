"""Text and push backends, chosen by the TEXT_BACKEND and PUSH_BACKEND settings.

The same pattern as Django's EMAIL_BACKEND: a dotted path to a class with `send(message)`,
returning the provider's message id. Backends raise content.errors.TransientSendError when
trying again may help and PermanentSendError when it cannot. Every message carries an
`idempotency_key` (the delivery's id) that backends pass to providers that honour one.
"""

from dataclasses import dataclass, field
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class TextPayload:
    to: str
    body: str
    sender: str = ""
    idempotency_key: str = ""
    # Where the provider reports the message's delivery status (Twilio's StatusCallback).
    status_callback: str = ""


@dataclass(frozen=True)
class PushPayload:
    to: str  # the contact's push token: a Web Push subscription (JSON) or a device token
    title: str
    body: str
    link_url: str = ""
    image_url: str = ""
    idempotency_key: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class TextBackend(Protocol):
    def send(self, message: TextPayload) -> str: ...


class PushBackend(Protocol):
    def send(self, message: PushPayload) -> str: ...


def get_text_backend(path: str | None = None) -> TextBackend:
    return import_string(path or settings.TEXT_BACKEND)()


def get_push_backend(path: str | None = None) -> PushBackend:
    return import_string(path or settings.PUSH_BACKEND)()
