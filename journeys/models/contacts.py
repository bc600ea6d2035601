from django.db import models
from django.utils import timezone

from content.models import Channel


class Contact(models.Model):
    """A customer, identified by the website's own id (the `contact.id` of every event)."""

    external_id = models.CharField(max_length=255, unique=True, verbose_name="contact id")
    email = models.EmailField(max_length=254, blank=True)
    phone = models.CharField(max_length=32, blank=True, help_text="E.164, e.g. +15551234567.")
    push_token = models.TextField(blank=True, help_text="Device token or Web Push subscription.")
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    time_zone = models.CharField(max_length=64, blank=True, help_text="IANA name, e.g. Europe/Paris.")
    attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["external_id"]
        indexes = [
            models.Index(fields=["email"], name="contact_email"),
            # A STOP or START text reply names only the phone number: apply_text_reply finds
            # the contacts by it, once per reply, on a table of every customer.
            models.Index(fields=["phone"], name="contact_phone"),
        ]

    def __str__(self) -> str:
        return self.external_id


class ConsentStatus(models.TextChoices):
    SUBSCRIBED = "subscribed", "Subscribed"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"


class Consent(models.Model):
    """A contact's consent to commercial messages on one channel, with where it came from."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    status = models.CharField(max_length=15, choices=ConsentStatus.choices)
    source = models.CharField(max_length=100, help_text="e.g. unsubscribe link, list-unsubscribe, admin, api.")
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact", "channel"], name="consent_one_per_contact_channel"),
        ]

    def __str__(self) -> str:
        return f"{self.contact} {self.channel}: {self.status}"


class ConsentChange(models.Model):
    """Every consent change, appended by journeys.consent.set_consent and never edited: the
    history the admin shows beside a contact's current consent."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consent_changes")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    status = models.CharField(max_length=15, choices=ConsentStatus.choices)
    source = models.CharField(max_length=100)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["contact", "at"], name="consent_change_contact_at")]

    def __str__(self) -> str:
        return f"{self.contact} {self.channel}: {self.status} ({self.source})"


class SegmentKind(models.TextChoices):
    CONDITIONS = "conditions", "By conditions"
    STATIC = "static", "A fixed list of contacts"


class Segment(models.Model):
    """A named audience: contacts whose fields and attributes meet all its conditions
    (`contact.email`, `contact.attributes.tier`), or a fixed list of contacts (static).

    Who is in it is kept in `SegmentMembership`, incrementally: a contact that changes is
    evaluated against the segments (journeys.segments), never everyone against a segment,
    except once when a segment is new or its conditions change (`rebuild_segment`).
    """

    key = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=12, choices=SegmentKind.choices, default=SegmentKind.CONDITIONS)
    conditions = models.JSONField(default=list, blank=True)
    # Set when the membership table reflects the conditions; None while a rebuild runs.
    built_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_static(self) -> bool:
        return self.kind == SegmentKind.STATIC


class SegmentMembership(models.Model):
    """A contact in a segment, since `joined_at`. Leaving deletes the row."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="memberships")
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["segment", "contact"], name="segment_membership_unique"),
        ]
        # (segment, contact) serves the entry batches (members in contact order); the
        # contact index serves "which segments is this contact in" on every change.
        indexes = [models.Index(fields=["contact"], name="membership_contact")]

    def __str__(self) -> str:
        return f"{self.contact} in {self.segment}"
