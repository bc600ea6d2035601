"""Configuration mistakes in the channels become Django system checks (they stop manage.py,
and so the workers, at start-up instead of failing every send)."""

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.utils.module_loading import import_string

TWILIO = "content.backends.twilio.TwilioTextBackend"
WEBPUSH = "content.backends.webpush.WebPushBackend"


@register(Tags.compatibility)
def check_channel_backends(app_configs: Any = None, **kwargs: Any) -> list:
    problems: list = []
    for name in ("TEXT_BACKEND", "PUSH_BACKEND"):
        path = getattr(settings, name, "")
        try:
            import_string(path)
        except ImportError:
            problems.append(Error(f"{name} {path!r} cannot be imported.", id="content.E001"))
    if settings.TEXT_BACKEND == TWILIO and not (settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN):
        problems.append(
            Error("TEXT_BACKEND is Twilio but TWILIO_ACCOUNT_SID or TWILIO_AUTH_TOKEN is empty.", id="content.E002")
        )
    if settings.TEXT_BACKEND == TWILIO and not settings.TWILIO_FROM:
        problems.append(
            Warning(
                "TWILIO_FROM is empty: every text message needs its own sender.",
                hint="Set a phone number or a Messaging Service SID (MG…).",
                id="content.W001",
            )
        )
    if settings.PUSH_BACKEND == WEBPUSH and not settings.WEBPUSH_VAPID_PRIVATE_KEY:
        problems.append(Error("PUSH_BACKEND is Web Push but WEBPUSH_VAPID_PRIVATE_KEY is empty.", id="content.E003"))
    if settings.TEXT_BACKEND == TWILIO and not settings.SITE_URL.startswith("https://"):
        problems.append(
            Warning(
                f"SITE_URL {settings.SITE_URL!r} is not https: Twilio's status callbacks and STOP replies "
                "are posted there, signed over that exact URL.",
                hint="Set SITE_URL to the public https address of this deployment.",
                id="content.W003",
            )
        )
    if not settings.DEBUG and not settings.PROVIDER_WEBHOOK_SECRET:
        problems.append(
            Warning(
                "PROVIDER_WEBHOOK_SECRET is empty: SMS and push status callbacks are refused.",
                id="content.W002",
            )
        )
    return problems
