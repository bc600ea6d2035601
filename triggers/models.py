"""Trigger definitions, their typed attributes, the event store and API keys.

This app knows nothing of journeys: it stores accepted events and announces them
(triggers.signals.events_stored); the journeys app reacts.
"""

import hashlib
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

# Interaction triggers the product raises itself; they exist from the first migration,
# cannot be deleted and cannot be raised through the public API.
BUILTIN_TRIGGERS = {
    "email_delivered": "Email delivered",
    "email_opened": "Email opened",
    "email_clicked": "Email clicked",
    "email_bounced": "Email bounced",
    "text_delivered": "Text message delivered",
    "push_opened": "Push notification opened",
    # Segment `identify` calls are stored as events of this trigger (traits -> contact fields).
    "identify": "Contact identified",
}

attribute_path_validator = RegexValidator(
    r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$",
    "Use letters, digits and underscores, with dots between nested names (cart.currency).",
)


class TriggerStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    READY = "ready", "Ready to use"


class Trigger(models.Model):
    key = models.SlugField(max_length=100, unique=True, help_text="Name the website sends, e.g. abandoned_cart.")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=TriggerStatus.choices, default=TriggerStatus.DRAFT)
    builtin = models.BooleanField(default=False, editable=False)
    daily_quota = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most events accepted per day (UTC); empty for no limit."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_ready(self) -> bool:
        return self.status == TriggerStatus.READY

    def delete(self, *args, **kwargs):
        if self.builtin:
            raise ValidationError(f"The built-in trigger {self.key!r} cannot be deleted.")
        return super().delete(*args, **kwargs)


class AttributeType(models.TextChoices):
    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    BOOLEAN = "boolean", "Boolean"
    DATETIME = "datetime", "Date and time"
    OBJECT = "object", "Object"
    LIST = "list", "List"


class TriggerAttribute(models.Model):
    """One typed attribute; nested attributes are dotted paths under an `object` attribute."""

    trigger = models.ForeignKey(Trigger, on_delete=models.CASCADE, related_name="attributes")
    name = models.CharField(max_length=200, validators=[attribute_path_validator])
    type = models.CharField(max_length=10, choices=AttributeType.choices)
    required = models.BooleanField(default=False)
    description = models.CharField(max_length=500, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["trigger", "position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["trigger", "name"], name="trigger_attribute_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_type_display()})"


class Event(models.Model):
    """One accepted trigger event. Rows are only ever added (and marked processed)."""

    # No index of its own: event_trigger_received starts with it.
    trigger = models.ForeignKey(Trigger, on_delete=models.PROTECT, related_name="events", db_index=False)
    # Who sent it: an API key's source name, "segment:<key>", or "internal" for interactions.
    source = models.CharField(max_length=100)
    event_id = models.CharField(max_length=200, null=True, blank=True)
    contact_key = models.CharField(max_length=255, help_text="The website's own customer id.")
    contact = models.JSONField(default=dict, blank=True, help_text="Contact fields sent with the event.")
    attributes = models.JSONField(default=dict, blank=True)
    binding_id = models.CharField(max_length=255, blank=True, default="")
    timestamp = models.DateTimeField(null=True, blank=True, help_text="When the website says it happened.")
    received_at = models.DateTimeField(default=timezone.now)
    # Hash of the normalised body: the same event_id with another body is a conflict (409).
    body_hash = models.CharField(max_length=64, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # How many journeys' raise-a-trigger steps led to this event: 0 for the API and the
    # product's own interactions; a step raising from a participant whose entry event had h
    # hops stores h + 1, and refuses beyond journeys' MAX_HOPS (a loop between journeys ends).
    hops = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            # Idempotency lives in the schema: a retried request cannot store an event twice.
            models.UniqueConstraint(
                fields=["source", "event_id"],
                condition=Q(event_id__isnull=False),
                name="event_unique_event_id_per_source",
            ),
        ]
        indexes = [
            models.Index(fields=["trigger", "received_at"], name="event_trigger_received"),
            models.Index(fields=["contact_key", "received_at"], name="event_contact_received"),
            models.Index(fields=["received_at"], name="event_received"),
            # The engine takes the oldest events no task has processed yet, in the order of
            # its ORDER BY (received_at, id), so that a LIMIT stops after a group's rows: by
            # received_at alone PostgreSQL read and sorted the whole backlog for each group
            # once one built up (3,600 rows, 10 ms a group at 300 events/s; issue 15). The
            # sweep looks for them too.
            models.Index(
                fields=["received_at", "id"], condition=Q(processed_at__isnull=True), name="event_unprocessed"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.trigger_id} for {self.contact_key} at {self.received_at:%Y-%m-%d %H:%M:%S}"


class ApiKeyScope(models.TextChoices):
    EVENTS_WRITE = "events:write", "events:write (raise triggers)"
    READ = "read", "read (participants and analytics)"


def hash_api_key(raw_key: str) -> str:
    # Keys are 256-bit random tokens, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(raw_key.encode()).hexdigest()


class ApiKey(models.Model):
    """A secret for the REST API. Only its hash is stored; the key is shown once."""

    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=20, choices=ApiKeyScope.choices, default=ApiKeyScope.EVENTS_WRITE)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    hashed_key = models.CharField(max_length=64, unique=True, editable=False)
    source = models.SlugField(
        max_length=100, blank=True, help_text="Events from this key share event ids with other keys of the same source."
    )
    rate_per_second = models.PositiveIntegerField(default=200, help_text="Sustained events per second.")
    burst = models.PositiveIntegerField(default=1000, help_text="Events allowed at once above the rate.")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def clean(self) -> None:
        # Bounded by settings (API_KEY_MAX_RATE, API_KEY_MAX_BURST): an unbounded key could
        # take the whole ingest capacity, or a bucket so deep it never limits anything.
        errors = {}
        for name, most in (("rate_per_second", settings.API_KEY_MAX_RATE), ("burst", settings.API_KEY_MAX_BURST)):
            value = getattr(self, name)
            if value is not None and not 1 <= value <= most:
                errors[name] = (
                    f"Between 1 and {most:,} (the API_KEY_MAX_{'RATE' if name == 'rate_per_second' else 'BURST'} setting)."
                )
        if not errors and self.burst < self.rate_per_second:
            errors["burst"] = "At least the rate: a burst lower than one second of events would refuse steady traffic."
        if errors:
            raise ValidationError(errors)

    @staticmethod
    def generate() -> tuple[str, str, str]:
        """A new raw key with its prefix and hash. The raw key is never stored."""
        raw = "jk_" + secrets.token_urlsafe(32)
        return raw, raw[:11], hash_api_key(raw)


class RateLimitBucket(models.Model):
    """Rate-limit state of one API key when no Redis is configured (the database fallback).

    `tat` is the generic cell rate algorithm's "theoretical arrival time" in seconds since the
    epoch: one float per key, moved forward with a single conditional UPDATE, so every web
    process shares it. With REDIS_URL set the same state lives in Redis instead.
    """

    key = models.CharField(max_length=100, unique=True)
    tat = models.FloatField()

    def __str__(self) -> str:
        return self.key


class DailyQuotaUsage(models.Model):
    """Events accepted for one trigger on one UTC day, when no Redis is configured."""

    trigger = models.ForeignKey(Trigger, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["trigger", "day"], name="daily_quota_usage_unique_day"),
        ]

    def __str__(self) -> str:
        return f"{self.trigger_id} on {self.day}: {self.count}"
