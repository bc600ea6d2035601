"""The figures the dashboard, the journey page, the CSV export and the JSON API show.

Every figure is about one **cohort**: the participants of a journey (optionally of one of
its versions) whose `entered_at` falls in the period `[since, until)`. Counting a cohort,
rather than whatever happened in the period, keeps a funnel consistent (nobody opens a
message they were not sent) and lets each number be checked against the tables: each one
is a count of participant, history or delivery rows of the cohort, as defined here.

Journey
- entered: participants of the cohort.
- active / completed / exited: of those, by `state` now; `exited` counts `exited` (an exit
  trigger) and `stopped` (the journey was stopped) together.
- goal_met: participants whose `goal_met_at` is set; goal_percent = goal_met / entered.

Per step (a step is identified by its key, stable across versions)
- processed: participants who went on from the step (or completed the journey there, also
  shown as `completed`): history rows with an outcome that ends the step: sent or blocked
  (message), waited (wait), yes or no (wait-for), path (branch, split). The runtime writes
  exactly one of them per participant and step, so they are counted without DISTINCT.
- processing: participants still active with `current_step` at the step (waiting there now,
  held for quiet hours, or to be retried after an error).
- exited: participants that left the journey while at the step (`state` exited or stopped,
  `current_step` at the step), by `exit_reason` (exit_trigger, stopped).
- inflow: processed + processing + exited, i.e. every participant that reached the step
  (one with any history row there); tests/analytics checks that identity row by row.
- yes / no: wait-for history rows with those outcomes; paths: branch and split history rows
  ("path") by the path's index ("otherwise" for a branch's fallback).
- messages: the step's deliveries to the cohort. sent/delivered/opened/clicked/bounced/
  failed count deliveries whose `<name>_at` timestamp is set (status only moves forward, so
  an opened message still counts as sent and delivered when it was); failed also counts
  status failed without a timestamp. blocked counts deliveries with status blocked, by
  `reason` (no_address, unsubscribed, frequency_cap, content_not_ready, participant_left).
  queued and held are messages not handed to the provider yet. Open and click rates are
  opened / sent and clicked / sent.

Queries: a constant number per page, whatever the number of steps or journeys (each
figure family is one GROUP BY over the cohort), see docs/performance.md.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from journeys.models import (
    Delivery,
    DeliveryStatus,
    HistoryOutcome,
    Journey,
    JourneyVersion,
    Participant,
    ParticipantHistory,
    ParticipantState,
    Step,
    StepKind,
    VersionState,
)

# History outcomes with which journeys.runtime ends a step for a participant: one per
# participant and step (a step is never run twice; a held message is sent or blocked once).
LEAVING_OUTCOMES = (
    HistoryOutcome.SENT,
    HistoryOutcome.BLOCKED,
    HistoryOutcome.WAITED,
    HistoryOutcome.YES,
    HistoryOutcome.NO,
    HistoryOutcome.PATH,
)
PATH_OUTCOMES = (HistoryOutcome.YES, HistoryOutcome.NO, HistoryOutcome.PATH)
LEFT_STATES = (ParticipantState.EXITED, ParticipantState.STOPPED)
# Delivery timestamps counted as funnel stages, in funnel order.
STAGES = ("sent", "delivered", "opened", "clicked", "bounced", "failed")
# Up to this span, entries are counted per hour; beyond it, per day.
HOURLY_UP_TO = timedelta(hours=48)


@dataclass(frozen=True)
class Cohort:
    """Participants of `journey` (of `version` when given) who entered in [since, until)."""

    journey: Journey
    since: datetime
    until: datetime
    version: JourneyVersion | None = None

    def participants(self) -> QuerySet[Participant]:
        rows = Participant.objects.filter(journey=self.journey, entered_at__gte=self.since, entered_at__lt=self.until)
        return rows.filter(version=self.version) if self.version is not None else rows

    def of(self, model_rows: QuerySet) -> QuerySet:
        """Rows of a table with a `participant` foreign key, restricted to the cohort."""
        lookups = {
            "participant__journey": self.journey,
            "participant__entered_at__gte": self.since,
            "participant__entered_at__lt": self.until,
        }
        if self.version is not None:
            lookups["participant__version"] = self.version
        return model_rows.filter(**lookups)

    @property
    def bucket(self) -> str:
        return "hour" if self.until - self.since <= HOURLY_UP_TO else "day"


@dataclass
class MessageFigures:
    channel: str = ""
    content: str = ""
    sent: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    bounced: int = 0
    failed: int = 0
    queued: int = 0
    held: int = 0
    blocked: dict[str, int] = field(default_factory=dict)

    @property
    def blocked_total(self) -> int:
        return sum(self.blocked.values())

    @property
    def open_rate(self) -> float | None:
        return percent(self.opened, self.sent)

    @property
    def click_rate(self) -> float | None:
        return percent(self.clicked, self.sent)


@dataclass
class PathFigure:
    key: str  # "yes", "no", "0", "1", …, "otherwise"
    label: str
    count: int


@dataclass
class StepFigures:
    key: str
    kind: str
    depth: int = 0
    branch_label: str = ""  # the path of the parent step this step is on ("Yes", "Path A")
    processed: int = 0
    processing: int = 0
    exited: int = 0
    completed: int = 0
    exit_reasons: dict[str, int] = field(default_factory=dict)
    paths: list[PathFigure] = field(default_factory=list)
    messages: MessageFigures | None = None
    in_shown_version: bool = True

    @property
    def inflow(self) -> int:
        return self.processed + self.processing + self.exited

    @property
    def kind_label(self) -> str:
        return StepKind(self.kind).label if self.kind in StepKind.values else self.kind


@dataclass
class TreeNode:
    """A step of the drawn version with the steps on each of its paths."""

    step: StepFigures
    branches: list[tuple[PathFigure, list["TreeNode"]]] = field(default_factory=list)


@dataclass
class Bucket:
    at: datetime
    entered: int = 0
    goal_met: int = 0

    @property
    def goal_percent(self) -> float | None:
        return percent(self.goal_met, self.entered)


@dataclass
class JourneyReport:
    cohort: Cohort
    shown_version: JourneyVersion | None
    entered: int
    active: int
    completed: int
    exited: int
    goal_met: int
    goal_target_percent: float | None
    steps: list[StepFigures]
    tree: list[TreeNode]
    entries_over_time: list[Bucket]

    @property
    def goal_percent(self) -> float | None:
        return percent(self.goal_met, self.entered)

    @property
    def other_steps(self) -> list[StepFigures]:
        """Steps of other versions, not in the drawn tree."""
        return [s for s in self.steps if not s.in_shown_version]


@dataclass
class JourneyRow:
    """One line of the dashboard."""

    journey: Journey
    entered: int = 0
    active: int = 0
    goal_met: int = 0
    goal_target_percent: float | None = None
    sent: int = 0
    opened: int = 0
    clicked: int = 0

    @property
    def goal_percent(self) -> float | None:
        return percent(self.goal_met, self.entered)

    @property
    def open_rate(self) -> float | None:
        return percent(self.opened, self.sent)

    @property
    def click_rate(self) -> float | None:
        return percent(self.clicked, self.sent)


def percent(part: int, whole: int) -> float | None:
    """part/whole in percent with one decimal; None when there is nothing to divide by."""
    return round(100 * part / whole, 1) if whole else None


def _target(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


# --- The journey page ---------------------------------------------------------------------


def shown_version(journey: Journey, version: JourneyVersion | None) -> JourneyVersion | None:
    """The version whose steps are drawn: the chosen one, else the published, else the newest."""
    if version is not None:
        return version
    versions = list(journey.versions.exclude(state=VersionState.DRAFT).order_by("-number"))
    published = [v for v in versions if v.state == VersionState.PUBLISHED]
    return (published or versions or [None])[0]


def journey_report(cohort: Cohort, now: datetime) -> JourneyReport:
    """Every figure of the journey page for the cohort, in a constant number of queries."""
    version = shown_version(cohort.journey, cohort.version)
    steps, tree = _step_figures(cohort, version)
    by_id: dict[int, StepFigures] = {}
    for step_id, key in Step.objects.filter(version__journey=cohort.journey).values_list("pk", "key"):
        if key in steps:
            by_id[step_id] = steps[key]

    totals = {"entered": 0, "active": 0, "completed": 0, "exited": 0, "goal_met": 0}
    participant_rows = (
        cohort.participants()
        .values("state", "exit_reason", "current_step_id")
        .annotate(n=Count("pk"), goal=Count("pk", filter=Q(goal_met_at__isnull=False)))
        .order_by()
    )
    for row in participant_rows:
        n, state = row["n"], row["state"]
        totals["entered"] += n
        totals["goal_met"] += row["goal"]
        step = by_id.get(row["current_step_id"])
        if state == ParticipantState.ACTIVE:
            totals["active"] += n
            if step:
                step.processing += n
        elif state == ParticipantState.COMPLETED:
            totals["completed"] += n
            if step:
                step.completed += n
        else:
            totals["exited"] += n
            if step:
                step.exited += n
                reason = row["exit_reason"] or state
                step.exit_reasons[reason] = step.exit_reasons.get(reason, 0) + n

    _add_history(cohort, by_id)
    _add_deliveries(cohort, by_id)
    target = version.goal_target_percent if version is not None else None
    return JourneyReport(
        cohort=cohort,
        shown_version=version,
        goal_target_percent=_target(target),
        steps=list(steps.values()),
        tree=tree,
        entries_over_time=entries_over_time(cohort, now),
        **totals,
    )


def _step_figures(cohort: Cohort, version: JourneyVersion | None) -> tuple[dict[str, StepFigures], list[TreeNode]]:
    """The shown version's steps in tree order (depth-first, paths in order), then steps of
    other versions the cohort may have passed through, keyed by step key."""
    all_steps = list(Step.objects.filter(version__journey=cohort.journey).select_related("content").order_by("pk"))
    if cohort.version is not None:
        all_steps = [s for s in all_steps if s.version_id == cohort.version.pk]
    shown = [s for s in all_steps if version is not None and s.version_id == version.pk]
    children: dict[tuple[int | None, str], list[Step]] = defaultdict(list)
    for step in sorted(shown, key=lambda s: s.position):
        children[(step.parent_id, step.path)].append(step)

    figures: dict[str, StepFigures] = {}

    def walk(parent: Step | None, path: str, depth: int, label: str) -> list[TreeNode]:
        nodes = []
        for step in children.get((parent.pk if parent else None, path), []):
            node = TreeNode(_new_figures(step, depth, label))
            figures[step.key] = node.step
            for path_figure in node.step.paths:
                node.branches.append((path_figure, walk(step, path_figure.key, depth + 1, path_figure.label)))
            nodes.append(node)
        return nodes

    tree = walk(None, "", 0, "")
    for step in all_steps:  # steps only in other versions (the cohort spans versions)
        if step.key not in figures:
            figures[step.key] = _new_figures(step, 0, "")
            figures[step.key].in_shown_version = False
    return figures, tree


def _new_figures(step: Step, depth: int, label: str) -> StepFigures:
    figures = StepFigures(key=step.key, kind=step.kind, depth=depth, branch_label=label)
    if step.is_message:
        figures.messages = MessageFigures(channel=step.content.channel, content=step.content.name)
    figures.paths = [PathFigure(key, name, 0) for key, name in _path_labels(step)]
    return figures


def _path_labels(step: Step) -> list[tuple[str, str]]:
    if step.kind == StepKind.WAIT_FOR:
        return [("yes", "Yes"), ("no", "No")]
    if step.kind in (StepKind.BRANCH, StepKind.SPLIT):
        labels = [(str(i), p.get("name") or f"Path {i + 1}") for i, p in enumerate(step.paths)]
        return [*labels, ("otherwise", "Otherwise")] if step.kind == StepKind.BRANCH else labels
    return []


def _add_history(cohort: Cohort, by_id: dict[int, StepFigures]) -> None:
    """processed, and the Yes/No and path counts, from the rows that end a step."""
    rows = (
        cohort.of(ParticipantHistory.objects)
        .filter(outcome__in=LEAVING_OUTCOMES, step_id__isnull=False)
        .annotate(path_key=KeyTextTransform("path", "detail"))
        .values("step_id", "outcome", "path_key")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in rows:
        figures = by_id.get(row["step_id"])
        if figures is None:
            continue
        figures.processed += row["n"]
        if row["outcome"] not in PATH_OUTCOMES:
            continue
        key = row["outcome"] if row["outcome"] != HistoryOutcome.PATH else str(row["path_key"])
        path = next((p for p in figures.paths if p.key == key), None)
        if path is None:  # a path of another version of the step
            path = PathFigure(key, key, 0)
            figures.paths.append(path)
        path.count += row["n"]


def _add_deliveries(cohort: Cohort, by_id: dict[int, StepFigures]) -> None:
    stage_counts = {stage: Count("pk", filter=Q(**{f"{stage}_at__isnull": False})) for stage in STAGES}
    rows = (
        cohort.of(Delivery.objects)
        .values("step_id", "status", "reason")
        .annotate(n=Count("pk"), **stage_counts)
        .order_by()
    )
    for row in rows:
        figures = by_id.get(row["step_id"])
        if figures is None or figures.messages is None:
            continue
        add_delivery_row(figures.messages, row)


def add_delivery_row(messages: MessageFigures, row: dict) -> None:
    """Fold one (status, reason) group of deliveries into a step's message figures."""
    for stage in STAGES:
        setattr(messages, stage, getattr(messages, stage) + row[stage])
    status, n = row["status"], row["n"]
    if status == DeliveryStatus.FAILED:
        messages.failed += n - row["failed"]  # failed without a timestamp still failed
    elif status == DeliveryStatus.BLOCKED:
        reason = row["reason"] or "unknown"
        messages.blocked[reason] = messages.blocked.get(reason, 0) + n
    elif status == DeliveryStatus.QUEUED:
        messages.queued += n
    elif status == DeliveryStatus.HELD:
        messages.held += n


def bucket_starts(since: datetime, until: datetime, bucket: str) -> list[datetime]:
    """The start of every hour or day bucket from the one holding `since` to before `until`."""
    step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    # Buckets follow the site's time zone (TIME_ZONE, UTC by default), as the database's
    # truncation does.
    start = timezone.localtime(since).replace(minute=0, second=0, microsecond=0)
    if bucket == "day":
        start = start.replace(hour=0)
    starts = []
    while start < until:
        starts.append(start)
        start += step
    return starts


def entries_over_time(cohort: Cohort, now: datetime) -> list[Bucket]:
    """Entries and goals met (of those entries) per hour or day of entry, zero-filled."""
    trunc = TruncHour if cohort.bucket == "hour" else TruncDay
    rows = (
        cohort.participants()
        .annotate(bucket=trunc("entered_at"))
        .values("bucket")
        .annotate(n=Count("pk"), goal=Count("pk", filter=Q(goal_met_at__isnull=False)))
        .order_by()
    )
    counted = {row["bucket"]: row for row in rows}
    buckets = []
    for start in bucket_starts(cohort.since, min(cohort.until, max(now, cohort.since)), cohort.bucket):
        row = counted.get(start, {"n": 0, "goal": 0})
        buckets.append(Bucket(at=start, entered=row["n"], goal_met=row["goal"]))
    return buckets


# --- The dashboard ------------------------------------------------------------------------


def dashboard_rows(since: datetime, until: datetime) -> list[JourneyRow]:
    """One row per journey for participants who entered in [since, until): four queries."""
    journeys = list(Journey.objects.order_by("name"))
    rows = {j.pk: JourneyRow(journey=j) for j in journeys}
    targets = (
        JourneyVersion.objects.exclude(state=VersionState.DRAFT)
        .order_by("journey_id", "number")
        .values_list("journey_id", "state", "goal_target_percent")
    )
    for journey_id, state, target in targets:  # the published version wins, else the newest
        row = rows[journey_id]
        if state == VersionState.PUBLISHED or row.goal_target_percent is None:
            row.goal_target_percent = _target(target)
    period = {"entered_at__gte": since, "entered_at__lt": until}
    participants = (
        Participant.objects.filter(**period)
        .values("journey_id")
        .annotate(
            n=Count("pk"),
            active=Count("pk", filter=Q(state=ParticipantState.ACTIVE)),
            goal=Count("pk", filter=Q(goal_met_at__isnull=False)),
        )
        .order_by()
    )
    for row in participants:
        line = rows[row["journey_id"]]
        line.entered, line.active, line.goal_met = row["n"], row["active"], row["goal"]
    deliveries = (
        Delivery.objects.filter(**{f"participant__{k}": v for k, v in period.items()})
        .values("participant__journey_id")
        .annotate(
            sent=Count("pk", filter=Q(sent_at__isnull=False)),
            opened=Count("pk", filter=Q(opened_at__isnull=False)),
            clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
        )
        .order_by()
    )
    for row in deliveries:
        line = rows[row["participant__journey_id"]]
        line.sent, line.opened, line.clicked = row["sent"], row["opened"], row["clicked"]
    return [rows[j.pk] for j in journeys]
