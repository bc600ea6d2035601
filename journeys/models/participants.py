from django.db import models
from django.db.models import Q
from django.utils import timezone

from triggers.models import Event

from .contacts import Contact
from .journeys import Journey, JourneyVersion, Step


class ParticipantState(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    EXITED = "exited", "Exited"
    STOPPED = "stopped", "Stopped"


class ParticipantGroup(models.TextChoices):
    TREATMENT = "treatment", "Treatment"
    HOLDOUT = "holdout", "Holdout (control)"


# Value of `entry_key` under the "never" repeat policy: unique across every state.
ONCE_EVER = "once"


class Participant(models.Model):
    """One contact's pass through one journey version.

    Only journeys.transitions changes a participant. `wake_at` is when the runtime must look
    at it again (a wait ending, a wait-for limit); the periodic sweep reads it through a
    partial index over active participants, so its cost follows the due rows only.
    """

    # No index of its own for these three: participant_journey_entered, participant_version_step
    # and participant_contact_state start with them.
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="participants", db_index=False)
    version = models.ForeignKey(JourneyVersion, on_delete=models.PROTECT, related_name="participants", db_index=False)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="participations", db_index=False)
    state = models.CharField(max_length=10, choices=ParticipantState.choices, default=ParticipantState.ACTIVE)
    current_step = models.ForeignKey(Step, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    step_started_at = models.DateTimeField(null=True, blank=True)
    wake_at = models.DateTimeField(null=True, blank=True)
    binding_id = models.CharField(max_length=255, blank=True, default="")
    # Enforces the repeat policy in the schema (see the constraint): "" for after_exit, "once"
    # for never, the binding id (or the event id) for immediately.
    entry_key = models.CharField(max_length=255, blank=True, default="")
    entry_event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    entered_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    exit_reason = models.CharField(max_length=50, blank=True)
    goal_met_at = models.DateTimeField(null=True, blank=True)
    # The version's holdout group walks the journey without side effects (journeys.holdout).
    group = models.CharField(max_length=10, choices=ParticipantGroup.choices, default=ParticipantGroup.TREATMENT)
    # A failure is recorded here and pushes wake_at forward, so one bad row cannot
    # crash-loop a worker.
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-entered_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["journey", "contact", "entry_key"],
                condition=Q(state="active") | Q(entry_key=ONCE_EVER),
                name="participant_one_per_entry_key",
            ),
        ]
        indexes = [
            models.Index(fields=["wake_at"], condition=Q(state="active"), name="participant_due"),
            models.Index(fields=["contact", "state"], name="participant_contact_state"),
            models.Index(fields=["journey", "entered_at"], name="participant_journey_entered"),
            models.Index(fields=["version", "state", "current_step"], name="participant_version_step"),
        ]

    def __str__(self) -> str:
        return f"{self.contact} in {self.journey}"

    @property
    def goal_met(self) -> bool:
        return self.goal_met_at is not None


class HistoryOutcome(models.TextChoices):
    ENTERED = "entered", "Entered"
    SENT = "sent", "Message queued"
    BLOCKED = "blocked", "Message blocked"
    HELD = "held", "Message held"
    EXPIRED = "expired", "Message expired"
    WAITING = "waiting", "Waiting"
    WAITED = "waited", "Wait ended"
    YES = "yes", "Yes"
    NO = "no", "No"
    PATH = "path", "Path taken"
    GOAL_MET = "goal_met", "Goal met"
    COMPLETED = "completed", "Completed"
    EXITED = "exited", "Exited"
    STOPPED = "stopped", "Stopped"
    ERROR = "error", "Error"
    HELD_OUT = "held_out", "Held out (control group)"


class ParticipantHistory(models.Model):
    """Append-only log of what happened to a participant, written with each change."""

    # No index of its own: history_participant_at and history_step_outcome start with them.
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="history", db_index=False)
    step = models.ForeignKey(Step, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False)
    step_key = models.CharField(max_length=100, blank=True)
    outcome = models.CharField(max_length=20, choices=HistoryOutcome.choices)
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["participant", "at", "id"]
        verbose_name_plural = "participant history"
        indexes = [
            models.Index(fields=["participant", "at"], name="history_participant_at"),
            models.Index(fields=["step", "outcome"], name="history_step_outcome"),
        ]

    def __str__(self) -> str:
        return f"{self.step_key or '-'}: {self.outcome}"
