from django.db import models
from django.utils import timezone

from triggers.models import Event

from .contacts import Contact
from .journeys import JourneyVersion


class SegmentEntry(models.Model):
    """One pass of a segment's members into a journey version (at publish, or one
    occurrence of a recurring journey), walked in contact order by bounded worker batches.

    `cursor` is the last contact id handled: a batch that runs twice, or a run resumed by
    the sweep after a lost task, starts after it and enters no one twice.
    """

    version = models.ForeignKey(JourneyVersion, on_delete=models.CASCADE, related_name="segment_entries")
    occurrence = models.DateTimeField(help_text="When this pass was due (publish time or the recurring slot).")
    total = models.PositiveIntegerField(default=0, help_text="Members when the pass began.")
    cursor = models.BigIntegerField(default=0)
    entered = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-occurrence"]
        verbose_name_plural = "segment entries"
        constraints = [
            models.UniqueConstraint(fields=["version", "occurrence"], name="segment_entry_one_per_occurrence"),
        ]

    def __str__(self) -> str:
        return f"{self.version} at {self.occurrence:%Y-%m-%d %H:%M}"

    @property
    def percent(self) -> int:
        handled = self.entered + self.skipped
        return 100 if self.finished_at else min(99, handled * 100 // self.total) if self.total else 0


class HeldEntry(models.Model):
    """Someone over a journey's entry limit (per hour): held, and entered later in the
    order they came (id order), never dropped."""

    version = models.ForeignKey(JourneyVersion, on_delete=models.CASCADE, related_name="held_entries")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    entry_key = models.CharField(max_length=255, blank=True, default="")
    binding_id = models.CharField(max_length=255, blank=True, default="")
    held_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]
        verbose_name_plural = "held entries"
        indexes = [models.Index(fields=["version", "id"], name="held_entry_version_order")]

    def __str__(self) -> str:
        return f"{self.contact} held for {self.version}"
