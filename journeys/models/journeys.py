from datetime import timedelta

from django.db import models
from django.db.models import Q

from content.models import Content
from triggers.models import Trigger

from .contacts import Segment


class JourneyType(models.TextChoices):
    TRIGGER = "trigger", "Trigger-based"
    SEGMENT = "segment", "Segment-based"


class JourneyStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    LIVE = "live", "Live"
    PAUSED = "paused", "Paused"
    STOPPED = "stopped", "Stopped"
    COMPLETED = "completed", "Completed"


class Journey(models.Model):
    """A journey's identity and lifecycle. What it does lives in its versions."""

    key = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    type = models.CharField(max_length=10, choices=JourneyType.choices, default=JourneyType.TRIGGER)
    status = models.CharField(max_length=10, choices=JourneyStatus.choices, default=JourneyStatus.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["status"], name="journey_status")]

    def __str__(self) -> str:
        return self.name


class RepeatPolicy(models.TextChoices):
    NEVER = "never", "Once per contact, ever"
    AFTER_EXIT = "after_exit", "Again after leaving the journey"
    IMMEDIATELY = "immediately", "A new instance for every event"


class SegmentMode(models.TextChoices):
    ONE_TIME = "one_time", "Once, the members at publish"
    DYNAMIC = "dynamic", "The members at publish, and whoever joins later"
    RECURRING = "recurring", "The members at each occurrence"


class VersionState(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    REPLACED = "replaced", "Replaced"


class JourneyVersion(models.Model):
    """One version of a journey's settings and steps.

    Editing a live journey creates a new draft version; publishing it makes it the one new
    participants enter, while participants of the replaced version finish the version they
    entered.
    """

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=VersionState.choices, default=VersionState.DRAFT)
    time_zone = models.CharField(max_length=64, default="UTC", help_text="IANA name; used for quiet hours.")
    start_trigger = models.ForeignKey(Trigger, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    start_conditions = models.JSONField(default=list, blank=True)
    segment = models.ForeignKey(Segment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    repeat = models.CharField(max_length=12, choices=RepeatPolicy.choices, default=RepeatPolicy.AFTER_EXIT)
    goal_trigger = models.ForeignKey(Trigger, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    goal_target_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    goal_window = models.DurationField(
        default=timedelta(days=3), help_text="How long after leaving a goal event still counts."
    )
    exit_triggers = models.ManyToManyField(Trigger, blank=True, related_name="+")
    # Segment-based journeys (journeys.segment_entry): how members enter.
    segment_mode = models.CharField(max_length=10, choices=SegmentMode.choices, default=SegmentMode.ONE_TIME)
    segment_every = models.DurationField(null=True, blank=True, help_text="Recurring: time between occurrences.")
    segment_at = models.TimeField(null=True, blank=True, help_text="Recurring: time of day, in the journey's zone.")
    # Entry controls, for every journey (journeys.entry).
    exclude_segments = models.ManyToManyField(Segment, blank=True, related_name="+")
    entry_starts_at = models.DateTimeField(null=True, blank=True)
    entry_ends_at = models.DateTimeField(null=True, blank=True)
    entry_per_hour = models.PositiveIntegerField(null=True, blank=True)
    # Holdout group: this share of entrants (stable per contact, journeys.holdout) walks the
    # journey without its side effects (messages, raised triggers), as a control for the goal.
    holdout_percent = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    replaced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["journey", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["journey", "number"], name="journey_version_unique_number"),
            # At most one version being edited and one taking new participants per journey.
            models.UniqueConstraint(fields=["journey"], condition=Q(state="draft"), name="journey_one_draft_version"),
            models.UniqueConstraint(
                fields=["journey"], condition=Q(state="published"), name="journey_one_published_version"
            ),
            models.CheckConstraint(
                condition=Q(goal_target_percent__isnull=True)
                | Q(goal_target_percent__gte=0, goal_target_percent__lte=100),
                name="journey_version_goal_percent_range",
            ),
            models.CheckConstraint(condition=Q(holdout_percent__lte=50), name="journey_version_holdout_percent_range"),
        ]
        indexes = [models.Index(fields=["start_trigger", "state"], name="version_start_trigger_state")]

    def __str__(self) -> str:
        return f"{self.journey} v{self.number}"


class StepKind(models.TextChoices):
    EMAIL = "email", "Email"
    TEXT = "text", "Text message"
    PUSH = "push", "Push notification"
    WAIT = "wait", "Wait"
    WAIT_FOR = "wait_for", "Wait for a trigger"
    BRANCH = "branch", "Branch on attributes"
    SPLIT = "split", "Random split"
    LOG = "log", "Log a note"
    WEBHOOK = "webhook", "Call a webhook"
    AB_TEST = "ab_test", "A/B test"
    RAISE_TRIGGER = "raise_trigger", "Raise a trigger"


MESSAGE_KINDS = (StepKind.EMAIL, StepKind.TEXT, StepKind.PUSH)


class Step(models.Model):
    """A tile of a journey version. Steps form a tree: a branching step's children are
    grouped by `path` ("yes"/"no" for wait_for, "0", "1", … and "otherwise" for branch and
    split) and ordered by `position` within it."""

    version = models.ForeignKey(JourneyVersion, on_delete=models.CASCADE, related_name="steps")
    key = models.SlugField(max_length=100, help_text="Stable id within the journey, e.g. initial-email.")
    kind = models.CharField(max_length=20, choices=StepKind.choices)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    path = models.CharField(max_length=20, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    content = models.ForeignKey(Content, null=True, blank=True, on_delete=models.PROTECT, related_name="steps")
    to = models.CharField(max_length=200, blank=True, help_text="Address: contact.email, contact.phone, …")
    duration = models.DurationField(null=True, blank=True, help_text="Wait time, or the wait-for time limit.")
    until = models.DateTimeField(null=True, blank=True)
    trigger = models.ForeignKey(Trigger, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # wait_for: joining this segment is the Yes path (instead of a trigger).
    segment = models.ForeignKey(Segment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    of_step = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="interaction_waits"
    )
    conditions = models.JSONField(default=list, blank=True)
    # branch: [{"name": …, "conditions": […]}]; split: [{"name": …, "percent": 50}].
    paths = models.JSONField(default=list, blank=True)
    # What a kind keeps that needs no column of its own (journeys.steps), e.g. a log's message.
    settings = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["version", "parent_id", "path", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "key"], name="step_unique_key_per_version"),
            models.CheckConstraint(
                condition=~Q(kind__in=MESSAGE_KINDS) | Q(content__isnull=False),
                name="step_message_has_content",
            ),
            models.CheckConstraint(
                condition=~Q(kind="wait") | Q(duration__isnull=False) | Q(until__isnull=False),
                name="step_wait_has_duration_or_until",
            ),
            models.CheckConstraint(
                condition=~Q(kind="wait_for")
                | (Q(trigger__isnull=False) | Q(segment__isnull=False)) & Q(duration__isnull=False),
                name="step_wait_for_has_trigger_and_limit",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.get_kind_display()})"
