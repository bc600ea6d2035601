from datetime import timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone

from content.models import Channel, Content

from .contacts import Contact
from .journeys import Step
from .participants import Participant


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    HELD = "held", "Held (quiet hours)"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    OPENED = "opened", "Opened"
    CLICKED = "clicked", "Clicked"
    BOUNCED = "bounced", "Bounced"
    BLOCKED = "blocked", "Blocked"
    FAILED = "failed", "Failed"
    # A worker stopped during the send (SIGKILL, OOM, power): the provider may or may not have
    # it. With DELIVERY_GUARANTEE=at-most-once it is recorded so and never sent again.
    UNKNOWN = "unknown", "Unknown (a worker stopped during the send)"
    # A message step's `expires_after` passed before it could go out (quiet hours, retries, a
    # re-drive after a crash): never sent late.
    EXPIRED = "expired", "Expired"


# A delivery goes out on a content channel (a message) or as a webhook call, which has no
# content: the `content` app knows nothing of webhooks, so the channel list is extended here.
WEBHOOK = "webhook"
DELIVERY_CHANNELS = [*Channel.choices, (WEBHOOK, "Webhook")]


class BlockReason(models.TextChoices):
    NO_ADDRESS = "no_address", "No address"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    FREQUENCY_CAP = "frequency_cap", "Frequency cap"
    CONTENT_NOT_READY = "content_not_ready", "Content not ready to send"


class Delivery(models.Model):
    """One message for one participant at one step: at most one, ever (see the constraint).

    The dispatch task sends only a delivery still queued and passes its id to the provider
    as the idempotency key, so a task that runs twice cannot send twice.
    """

    # No index of its own for these three: delivery_one_per_participant_step, delivery_step_status
    # and delivery_contact_channel_sent start with them (an index less to write per insert and per
    # status change, docs/performance.md).
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    step = models.ForeignKey(Step, on_delete=models.PROTECT, related_name="deliveries", db_index=False)
    # Denormalised from the participant: frequency caps count a contact's recent messages.
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    channel = models.CharField(max_length=10, choices=DELIVERY_CHANNELS)
    # A message's content; none for a webhook call (a check constraint keeps them apart).
    content = models.ForeignKey(Content, null=True, blank=True, on_delete=models.PROTECT, related_name="deliveries")
    commercial = models.BooleanField(default=True)
    address = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED)
    reason = models.CharField(max_length=500, blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True)
    # A webhook call's HTTP status code (of its last attempt that got an answer).
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When to try again: after a transient provider error, or when quiet hours end.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Set just before a send goes to the provider, cleared by its outcome: still set once the
    # lease (next_attempt_at) has passed means the sender died and the outcome is unknown.
    sending_started_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    # Every write of a delivery sets it (create by default; each .update() call names it):
    # analytics.rollup finds the deliveries that changed since its last refresh by it.
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["participant", "step"], name="delivery_one_per_participant_step"),
            models.CheckConstraint(
                condition=Q(channel=WEBHOOK, content__isnull=True) | (~Q(channel=WEBHOOK) & Q(content__isnull=False)),
                name="delivery_content_unless_webhook",
            ),
        ]
        indexes = [
            models.Index(fields=["contact", "channel", "sent_at"], name="delivery_contact_channel_sent"),
            models.Index(fields=["step", "status"], name="delivery_step_status"),
            models.Index(fields=["provider_message_id"], name="delivery_provider_id"),
            models.Index(fields=["updated_at"], name="delivery_updated_at"),
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["queued", "held"]),
                name="delivery_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.address or '(no address)'}: {self.status}"


class InteractionKind(models.TextChoices):
    OPEN = "open", "Open"
    CLICK = "click", "Click"


class Interaction(models.Model):
    """Every open and click, repeated ones included (the trigger is raised once per delivery)."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="interactions")
    kind = models.CharField(max_length=10, choices=InteractionKind.choices)
    url = models.URLField(max_length=2000, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["delivery", "kind"], name="interaction_delivery_kind")]

    def __str__(self) -> str:
        return f"{self.kind} of delivery {self.delivery_id}"


class SendingPolicy(models.Model):
    """Pressure rules per channel: a frequency cap on commercial messages and quiet hours."""

    channel = models.CharField(max_length=10, choices=Channel.choices, unique=True)
    cap_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most commercial messages per contact in the window; empty for no cap."
    )
    cap_window = models.DurationField(default=timedelta(days=7))
    quiet_hours_start = models.TimeField(null=True, blank=True, help_text="Local time, e.g. 21:00.")
    quiet_hours_end = models.TimeField(null=True, blank=True, help_text="Local time, e.g. 08:00.")

    class Meta:
        verbose_name_plural = "sending policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(quiet_hours_start__isnull=True, quiet_hours_end__isnull=True)
                | Q(quiet_hours_start__isnull=False, quiet_hours_end__isnull=False),
                name="sending_policy_quiet_hours_both_or_neither",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} policy"
