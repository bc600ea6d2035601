"""Rollups of the analytics figures by journey, version and hour of entry (analytics.rollup).

The pages select participants by entry time, so every count is kept per (journey, version,
UTC hour of `entered_at`) plus the dimensions a figure groups by. Summing the rows of the
whole hours of a period gives the same numbers as the GROUP BY over the raw tables that
analytics.figures defines, for a few thousand rows instead of millions. Hours that changed
since the last refresh, and the partial hours at a period's edges, are counted from the raw
tables instead (analytics.figures), so the pages stay exact.

Steps are stored by id, without a foreign key: a rollup row never blocks deleting a step
(steps are PROTECTed by the participants that went through them anyway).
"""

from django.db import models

from journeys.models import Journey, JourneyVersion


class EntryHour(models.Model):
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(JourneyVersion, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField(help_text="The UTC hour in which the participants entered.")

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"journey {self.journey_id} v{self.version_id} at {self.hour:%Y-%m-%d %H:00}"


class ParticipantCount(EntryHour):
    """Participants by where they are now: state, exit reason, current step; and the goal."""

    state = models.CharField(max_length=10)
    exit_reason = models.CharField(max_length=50, blank=True)
    current_step_id = models.BigIntegerField(null=True)
    participants = models.PositiveIntegerField()
    goal_met = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["journey", "hour"], name="rollup_participants_hour")]


class OutcomeCount(EntryHour):
    """History rows that end a step (analytics.figures.LEAVING_OUTCOMES), by step, outcome
    and path ("" unless the outcome is a branch or split path)."""

    step_id = models.BigIntegerField()
    outcome = models.CharField(max_length=20)
    path = models.CharField(max_length=50, blank=True)
    rows = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["journey", "hour"], name="rollup_outcomes_hour")]


class DeliveryCount(EntryHour):
    """Deliveries by step, status and reason, with how many reached each funnel stage."""

    step_id = models.BigIntegerField()
    status = models.CharField(max_length=10)
    reason = models.CharField(max_length=500, blank=True)
    deliveries = models.PositiveIntegerField()
    sent = models.PositiveIntegerField()
    delivered = models.PositiveIntegerField()
    opened = models.PositiveIntegerField()
    clicked = models.PositiveIntegerField()
    bounced = models.PositiveIntegerField()
    failed = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["journey", "hour"], name="rollup_deliveries_hour")]


class RollupState(models.Model):
    """The one row that says what the rollup has counted (analytics.rollup explains the marks).

    - history_mark: every history row with a smaller or equal id is counted in the rollup.
    - deliveries_mark: every delivery written (updated_at) at or before it is counted.
    - checkpoints: [[ISO time, highest history id then], …] of recent refreshes, from which
      history_mark advances once a checkpoint is older than the longest transaction.
    """

    history_mark = models.BigIntegerField(default=0)
    deliveries_mark = models.DateTimeField(null=True)
    checkpoints = models.JSONField(default=list)
    refreshed_at = models.DateTimeField(null=True)
    rebuilt_at = models.DateTimeField(null=True)
    last_duration = models.DurationField(null=True)
    last_hours = models.PositiveIntegerField(default=0, help_text="Hours recounted by the last refresh.")

    def __str__(self) -> str:
        return f"analytics rollup refreshed at {self.refreshed_at}"


class StaleHour(models.Model):
    """An hour whose participants were deleted (a contact erased, say): deleting leaves no
    history row or delivery to find it by, so analytics.rollup records it here, in the
    deleting transaction, and the next refresh recounts it. Plain ids: the journey itself
    may be the thing being deleted."""

    journey_id = models.BigIntegerField()
    hour = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["journey_id", "hour"], name="stale_hour_once")]

    def __str__(self) -> str:
        return f"journey {self.journey_id} at {self.hour}"
