"""Opens, clicks and provider status callbacks: signed links in, interactions and triggers out.

Tokens are signed with Django's signing (salted per purpose, SECRET_KEY-bound, timestamped:
TRACKING_LINK_MAX_AGE and UNSUBSCRIBE_LINK_MAX_AGE bound their age): a token names
its delivery and, for clicks, the original link, so nothing is guessable and a click can
only ever redirect to a link that was in the email. Every open and click is recorded as an
Interaction; the built-in trigger is raised once per delivery (its event id says which).

Delivery status moves forward only (queued < sent < delivered < opened < clicked): a late
"delivered" callback never moves an opened delivery back (journeys.deliveries writes it).
"""

import hashlib
import hmac
import json
import logging
import time
import zlib
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.dispatch import receiver
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.encoding import force_bytes

from triggers.events import raise_internal
from triggers.validation import find_unstorable

from . import deliveries
from .models import Delivery, DeliveryStatus, Interaction, InteractionKind

logger = logging.getLogger(__name__)

OPEN_SALT = "journeys.tracking.open"
CLICK_SALT = "journeys.tracking.click"
UNSUBSCRIBE_SALT = "journeys.unsubscribe"

# Which built-in trigger an interaction raises, per channel.
TRIGGERS = {
    ("delivered", "email"): "email_delivered",
    ("delivered", "text"): "text_delivered",
    ("opened", "email"): "email_opened",
    ("opened", "push"): "push_opened",
    ("clicked", "email"): "email_clicked",
    ("bounced", "email"): "email_bounced",
}


# --- Tokens ---------------------------------------------------------------------------------


def open_url(delivery_id: int) -> str:
    token = _signed({"d": delivery_id}, OPEN_SALT)
    return settings.SITE_URL + _path("journeys:track-open", token)


def click_url(delivery_id: int, url: str) -> str:
    token = _signed({"d": delivery_id, "u": url}, CLICK_SALT, compress=True)
    return settings.SITE_URL + _path("journeys:track-click", token)


def unsubscribe_url(delivery_id: int, contact_id: int, channel: str) -> str:
    token = _signed({"d": delivery_id, "c": contact_id, "ch": channel}, UNSUBSCRIBE_SALT)
    return settings.SITE_URL + _path("journeys:unsubscribe", token)


def _signed(value: dict[str, Any], salt: str, compress: bool = False) -> str:
    """signing.dumps(value, salt=salt, compress=compress): the same token, for the three to
    six every email carries. Django derives the HMAC's key from the salt and SECRET_KEY
    (a hash) and builds a signer for every token; here the keyed HMAC is built once per salt
    and key and copied (tests/sending/test_tracking.py compares the tokens)."""
    data = json.dumps(value, separators=(",", ":")).encode("latin-1")  # JSONSerializer's
    prefix = ""
    if compress:
        compressed = zlib.compress(data)
        if len(compressed) < len(data) - 1:
            data, prefix = compressed, "."
    signed = f"{prefix}{signing.b64_encode(data).decode()}:{signing.b62_encode(int(time.time()))}"
    mac = _hmac(salt, settings.SECRET_KEY).copy()
    mac.update(signed.encode())
    return f"{signed}:{signing.b64_encode(mac.digest()).decode()}"


@lru_cache(maxsize=16)
def _hmac(salt: str, secret: str | bytes) -> "hmac.HMAC":
    # django.utils.crypto.salted_hmac(salt + "signer", …, secret, algorithm="sha256"): Signer's.
    key = hashlib.sha256(force_bytes(salt + "signer") + force_bytes(secret)).digest()
    return hmac.new(key, digestmod=hashlib.sha256)


_MARKER = "journeystokenmarker"


def _path(name: str, token: str) -> str:
    """reverse(name, args=[token]), for the links every email carries (three to six each):
    reverse() costs twice the signing, so the path around a token is reversed once. A token
    is what signing.dumps writes (URL-safe base64, ":" and "."), which reverse() leaves as it
    is (tests/sending/test_tracking.py compares the two)."""
    before, after = _around_token(name, get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)
    return before + token + after


@lru_cache(maxsize=64)
def _around_token(name: str, script_prefix: str, urlconf: str) -> tuple[str, str]:
    before, after = reverse(name, urlconf=urlconf, args=[_MARKER]).split(_MARKER)
    return before, after


def _load(token: str, salt: str, max_age: int) -> dict[str, Any] | None:
    try:
        value = signing.loads(token, salt=salt, max_age=max_age)
    except signing.BadSignature:  # SignatureExpired included: an old link is refused like a forged one.
        return None
    return value if isinstance(value, dict) else None


def read_open_token(token: str) -> int | None:
    value = _load(token, OPEN_SALT, settings.TRACKING_LINK_MAX_AGE)
    return value["d"] if value and isinstance(value.get("d"), int) else None


def read_click_token(token: str) -> tuple[int, str] | None:
    value = _load(token, CLICK_SALT, settings.TRACKING_LINK_MAX_AGE)
    if not value or not isinstance(value.get("d"), int) or not isinstance(value.get("u"), str):
        return None
    if not value["u"].lower().startswith(("http://", "https://")):
        return None
    return value["d"], value["u"]


def read_unsubscribe_token(token: str) -> tuple[int, int, str] | None:
    value = _load(token, UNSUBSCRIBE_SALT, settings.UNSUBSCRIBE_LINK_MAX_AGE)
    if not value or not all(isinstance(value.get(k), t) for k, t in (("d", int), ("c", int), ("ch", str))):
        return None
    return value["d"], value["c"], value["ch"]


# --- Recording --------------------------------------------------------------------------------


def tracked_deliveries():
    return Delivery.objects.select_related("contact", "content", "step", "participant", "participant__journey")


def _raise(kind: str, delivery: Delivery, extra: dict[str, str] | None = None, at: datetime | None = None) -> None:
    trigger_key = TRIGGERS.get((kind, delivery.channel))
    if not trigger_key:
        return
    participant = delivery.participant
    raise_internal(
        trigger_key,
        contact_key=delivery.contact.external_id,
        attributes={
            "delivery_id": str(delivery.pk),
            "journey": participant.journey.key,
            "step": delivery.step.key,
            "content": delivery.content.key if delivery.content else "",
            **(extra or {}),
        },
        event_id=f"{trigger_key}:{delivery.pk}",
        binding_id=participant.binding_id,
        timestamp=at,
    )


def record_open(delivery: Delivery, *, user_agent: str = "", at: datetime | None = None) -> bool:
    """Record an open; returns True for the delivery's first one (which raised the trigger)."""
    at = at or timezone.now()
    with transaction.atomic():
        Interaction.objects.create(delivery=delivery, kind=InteractionKind.OPEN, user_agent=user_agent[:500], at=at)
        first = _first_open(delivery, at)
    return first


def _first_open(delivery: Delivery, at: datetime) -> bool:
    # The conditional update decides the first open even when two arrive at once.
    first = deliveries.stamp_first(delivery.pk, "opened_at", at)
    deliveries.move_forward(delivery.pk, DeliveryStatus.OPENED)
    if first:
        _raise("opened", delivery, at=at)
    return first


def record_click(delivery: Delivery, url: str, *, user_agent: str = "", at: datetime | None = None) -> bool:
    """Record a click (and an open, if none was seen: images may be blocked); returns True for
    the delivery's first click."""
    at = at or timezone.now()
    with transaction.atomic():
        Interaction.objects.create(
            delivery=delivery, kind=InteractionKind.CLICK, url=url[:2000], user_agent=user_agent[:500], at=at
        )
        _first_open(delivery, at)
        first = deliveries.stamp_first(delivery.pk, "clicked_at", at)
        deliveries.move_forward(delivery.pk, DeliveryStatus.CLICKED)
        if first:
            _raise("clicked", delivery, {"url": url}, at=at)
    return first


def record_delivered(delivery: Delivery, *, at: datetime | None = None) -> bool:
    at = at or timezone.now()
    with transaction.atomic():
        first = deliveries.stamp_first(delivery.pk, "delivered_at", at)
        deliveries.move_forward(delivery.pk, DeliveryStatus.DELIVERED)
        if first:
            _raise("delivered", delivery, at=at)
    return first


def record_bounced(delivery: Delivery, *, reason: str = "", at: datetime | None = None) -> bool:
    """The receiving side refused the message (email) or it could not be delivered (text, push)."""
    at = at or timezone.now()
    with transaction.atomic():
        changed = deliveries.bounce(delivery, reason=reason, at=at)
        if changed:
            _raise("bounced", delivery, {"reason": reason[:500]}, at=at)
    return changed


# --- Provider callbacks ------------------------------------------------------------------------


class WebhookError(Exception):
    """A status callback that cannot be applied; `field` names what is wrong."""

    def __init__(self, field: str, message: str, *, status: int = 400) -> None:
        self.field, self.message, self.status = field, message, status
        super().__init__(f"{field}: {message}")


MAX_ID = 2**63 - 1  # a bigint primary key
WEBHOOK_EVENTS = ("delivered", "opened", "failed", "undelivered", "bounced")


# A status callback older (or further in the future) than this is refused: a captured
# callback cannot be replayed later, and providers' clocks may be this far off.
WEBHOOK_MAX_AGE = 300


def sign_body(body: bytes, timestamp: int | str, secret: str | None = None) -> str:
    """The X-Journeys-Signature header for `body` sent at `timestamp` (Unix seconds, also
    sent as X-Journeys-Timestamp): sha256=<hex HMAC of "<timestamp>." followed by the body>."""
    secret = settings.PROVIDER_WEBHOOK_SECRET if secret is None else secret
    signed = f"{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_is_valid(body: bytes, header: str, timestamp: str, *, now: float | None = None) -> bool:
    """The signature matches the body and the timestamp, and the timestamp is recent."""
    if not settings.PROVIDER_WEBHOOK_SECRET:
        return False  # no secret configured: the webhook accepts nothing
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    now = timezone.now().timestamp() if now is None else now
    if abs(now - int(timestamp)) > WEBHOOK_MAX_AGE:
        return False
    return hmac.compare_digest(sign_body(body, timestamp), header or "")


def apply_status_callback(payload: Any) -> Delivery:
    """Apply one signed status callback from an SMS or push provider.

    Shape: {"delivery_id": "12"} or {"message_id": "<provider id>"}, with "event" one of
    delivered, opened, failed, undelivered, bounced, and an optional "reason".
    """
    if not isinstance(payload, dict):
        raise WebhookError("body", "Send a JSON object.")
    unstorable = find_unstorable(payload)  # NUL, lone surrogates, 1e400, Infinity, deep nesting
    if unstorable is not None:
        raise WebhookError(unstorable.field or "body", unstorable.message)
    event = payload.get("event")
    if event not in WEBHOOK_EVENTS:
        raise WebhookError("event", f"Must be one of: {', '.join(WEBHOOK_EVENTS)}.")
    delivery = _find_delivery(payload)
    at = timezone.now()
    if event == "delivered":
        record_delivered(delivery, at=at)
    elif event == "opened":
        with transaction.atomic():
            _first_open(delivery, at)
    else:
        reason = str(payload.get("reason") or event)
        record_bounced(delivery, reason=reason, at=at)
    return delivery


# Twilio's MessageStatus values: only the final ones change a delivery.
TWILIO_FAILED_STATUSES = ("failed", "undelivered")


def twilio_status_url() -> str:
    return settings.SITE_URL + reverse("journeys:twilio-status")


def apply_twilio_status(params: dict[str, str]) -> Delivery | None:
    """Apply Twilio's StatusCallback (already signature-checked). Returns the delivery, or None
    when the message is not one of ours. `sent`, `queued` and the like change nothing: only
    `delivered` and the failures are news."""
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    if not sid:
        raise WebhookError("MessageSid", "This field is required.")
    delivery = tracked_deliveries().filter(provider_message_id=sid, channel="text").first()
    if delivery is None:
        return None
    status = params.get("MessageStatus") or params.get("SmsStatus") or ""
    if status == "delivered":
        record_delivered(delivery)
    elif status in TWILIO_FAILED_STATUSES:
        code = params.get("ErrorCode") or ""
        reason = f"Twilio: {status}" + (f" (error {code})" if code else "")
        record_bounced(delivery, reason=reason)
    return delivery


def _find_delivery(payload: dict[str, Any]) -> Delivery:
    delivery_id, message_id = payload.get("delivery_id"), payload.get("message_id")
    if delivery_id not in (None, ""):
        text = str(delivery_id) if isinstance(delivery_id, int | str) and not isinstance(delivery_id, bool) else ""
        if not (text.isascii() and text.isdigit() and int(text) <= MAX_ID):
            raise WebhookError("delivery_id", "Must be a delivery id (a whole number).")
        lookup = Q(pk=int(text))
    elif isinstance(message_id, str) and message_id:
        lookup = Q(provider_message_id=message_id)
    else:
        raise WebhookError("delivery_id", "Give delivery_id or message_id.")
    delivery = tracked_deliveries().filter(lookup).first()
    if delivery is None:
        raise WebhookError("delivery_id", "No such delivery.", status=404)
    return delivery


try:  # django-anymail normalises every ESP's delivery webhooks into one signal.
    from anymail.signals import EventType, tracking

    @receiver(tracking, dispatch_uid="journeys.tracking.anymail")
    def on_anymail_tracking(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
        """Delivered and bounced emails reported by the ESP (opens and clicks are our own pixel's
        and links', so ESP-side tracking would only count them twice)."""
        delivery_id = (event.metadata or {}).get("delivery_id")
        lookup = (
            Q(pk=int(str(delivery_id)))
            if str(delivery_id or "").isdigit()
            else Q(provider_message_id=event.message_id or "-")
        )
        delivery = tracked_deliveries().filter(lookup, channel="email").first()
        if delivery is None:
            logger.info("%s %s event for an unknown message %s", esp_name, event.event_type, event.message_id)
            return
        if event.event_type == EventType.DELIVERED:
            record_delivered(delivery, at=event.timestamp)
        elif event.event_type in (EventType.BOUNCED, EventType.REJECTED, EventType.FAILED):
            reason = event.reject_reason or event.description or event.mta_response or event.event_type
            record_bounced(delivery, reason=str(reason), at=event.timestamp)

except ImportError:  # pragma: no cover - anymail is a dependency
    pass
