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

Where the counts come from (analytics.sources): whole hours of entry from the rollup that
a django-q2 schedule keeps (analytics.rollup), the partial hours at the period's edges and
the hours changed since the rollup's last refresh from the raw tables, with the same grouped
queries (analytics.counts). The sum is the same as counting the cohort's rows directly, as of
the moment the page is drawn; tests/analytics checks both ways.

Queries: a constant number per page, whatever the period or the number of steps or
journeys (each figure family is one GROUP BY per source), see docs/performance.md.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from journeys.models import (
    Delivery,
    DeliveryStatus,
    Journey,
    JourneyVersion,
    Participant,
    ParticipantGroup,
    ParticipantHistory,
    ParticipantState,
    Step,
    StepKind,
    VersionState,
)
from journeys.steps import kind_of, kinds

from .counts import LEAVING_OUTCOMES, STAGES
from .lift import Lift
from .sources import Groups, Sources, cohort_groups, dashboard_totals, sources_for

__all__ = ["LEAVING_OUTCOMES", "STAGES"]

KINDS = {k.name for k in kinds()}
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
    unknown: int = 0
    expired: int = 0
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
    sources: Sources
    drawn_at: datetime
    # The shown version's A/B tests (journeys.abtest.ab_test_summary): each test is about
    # every participant of its step since publishing, whatever the period.
    ab_tests: list[dict] = field(default_factory=list)
    # Goal per group and the lift, when the cohort has a holdout group (analytics.lift).
    holdout: Lift | None = None

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
    holdout: Lift | None = None  # journeys with a holdout group (holdout_lifts)

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
    return (published or versions or [None])[0]  # type: ignore[list-item]


def journey_report(cohort: Cohort, now: datetime) -> JourneyReport:
    """Every figure of the journey page for the cohort, in a constant number of queries."""
    version = shown_version(cohort.journey, cohort.version)
    steps, tree = _step_figures(cohort, version)
    by_id: dict[int, StepFigures] = {}
    for step_id, key in Step.objects.filter(version__journey=cohort.journey).values_list("pk", "key"):
        if key in steps:
            by_id[step_id] = steps[key]

    sources = sources_for(cohort.since, cohort.until, journey_id=cohort.journey.pk)
    groups = cohort_groups(
        cohort.participants(),
        cohort.of(ParticipantHistory.objects.all()),
        cohort.of(Delivery.objects.all()),
        sources,
        journey_id=cohort.journey.pk,
        version_id=cohort.version.pk if cohort.version is not None else None,
    )
    totals = _add_participants(groups, by_id)
    _add_history(groups, by_id)
    _add_deliveries(groups, by_id)
    target = version.goal_target_percent if version is not None else None
    return JourneyReport(
        cohort=cohort,
        shown_version=version,
        goal_target_percent=_target(target),
        steps=list(steps.values()),
        tree=tree,
        entries_over_time=entries_over_time(cohort, now, groups),
        sources=sources,
        drawn_at=now,
        ab_tests=ab_tests(version, now),
        holdout=holdout_lift(cohort, version),
        **totals,
    )


def ab_tests(version: JourneyVersion | None, now: datetime) -> list[dict]:
    """Where each A/B test of the version stands, with its per-variant figures (a few
    queries per test step, on the step's own rows)."""
    from journeys.abtest import ab_test_summary

    if version is None:
        return []
    steps = Step.objects.filter(version=version, kind=StepKind.AB_TEST).select_related("version").order_by("pk")
    return [ab_test_summary(step, now) for step in steps]


def holdout_lift(cohort: Cohort, version: JourneyVersion | None) -> Lift | None:
    """Goal figures of the cohort's treatment and holdout groups (one grouped query), for a
    journey that has, or had, a holdout group; None otherwise."""
    if (
        not (version is not None and version.holdout_percent)
        and not cohort.participants().filter(group=ParticipantGroup.HOLDOUT).exists()
    ):
        return None
    return _lift({row["group"]: row for row in _goal_by_group(cohort.participants())})


def _goal_by_group(participants, *keys: str):
    """Entered and goal met per participant group (and `keys`): one grouped query."""
    return (
        participants.values(*keys, "group")
        .annotate(n=Count("pk"), met=Count("pk", filter=Q(goal_met_at__isnull=False)))
        .order_by()
    )


def _lift(rows_by_group: dict[str, dict]) -> Lift:
    treatment = rows_by_group.get(ParticipantGroup.TREATMENT, {"n": 0, "met": 0})
    holdout = rows_by_group.get(ParticipantGroup.HOLDOUT, {"n": 0, "met": 0})
    return Lift(treatment["n"], treatment["met"], holdout["n"], holdout["met"])


def _add_participants(groups: Groups, by_id: dict[int, StepFigures]) -> dict[str, int]:
    """The journey's totals, and each step's processing, completed and exited figures."""
    totals = {"entered": 0, "active": 0, "completed": 0, "exited": 0, "goal_met": 0}
    for row in groups.participants:
        n, state = row["participants"], row["state"]
        totals["entered"] += n
        totals["goal_met"] += row["goal_met"]
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
    return totals


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
    kind = kind_of(step.kind)
    sends = kind.delivery_figures(step)
    if sends is not None:
        figures.messages = MessageFigures(channel=sends[0], content=sends[1])
    figures.paths = [PathFigure(key, name, 0) for key, name in kind.funnel_paths(step)]
    return figures


def _add_history(groups: Groups, by_id: dict[int, StepFigures]) -> None:
    """processed, and the Yes/No and path counts, from the rows that end a step."""
    for row in groups.outcomes:
        figures = by_id.get(row["step_id"])
        if figures is None:
            continue
        figures.processed += row["rows"]
        key = kind_of(figures.kind).path_outcome(row["outcome"], row["path"]) if figures.kind in KINDS else None
        if key is None:
            continue
        path = next((p for p in figures.paths if p.key == key), None)
        if path is None:  # a path of another version of the step
            path = PathFigure(key, key, 0)
            figures.paths.append(path)
        path.count += row["rows"]


def _add_deliveries(groups: Groups, by_id: dict[int, StepFigures]) -> None:
    for row in groups.deliveries:
        figures = by_id.get(row["step_id"])
        if figures is None or figures.messages is None:
            continue
        add_delivery_row(figures.messages, row)


def add_delivery_row(messages: MessageFigures, row: dict) -> None:
    """Fold one (status, reason) group of deliveries into a step's message figures."""
    for stage in STAGES:
        setattr(messages, stage, getattr(messages, stage) + row[stage])
    status, n = row["status"], row["deliveries"]
    if status == DeliveryStatus.FAILED:
        messages.failed += n - row["failed"]  # failed without a timestamp still failed
    elif status == DeliveryStatus.BLOCKED:
        reason = row["reason"] or "unknown"
        messages.blocked[reason] = messages.blocked.get(reason, 0) + n
    elif status == DeliveryStatus.QUEUED:
        messages.queued += n
    elif status == DeliveryStatus.HELD:
        messages.held += n
    elif status == DeliveryStatus.UNKNOWN:
        messages.unknown += n
    elif status == DeliveryStatus.EXPIRED:
        messages.expired += n


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


def entries_over_time(cohort: Cohort, now: datetime, groups: Groups) -> list[Bucket]:
    """Entries and goals met (of those entries) per hour or day of entry, zero-filled.

    The counts come per UTC hour of entry; each goes to the local hour or day holding its
    start, which is exact for every time zone whose offset is whole hours (analytics.checks
    warns about the others)."""
    counted: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
    for hour, (entered, goal_met) in groups.entries.items():
        local = timezone.localtime(hour).replace(minute=0, second=0, microsecond=0)
        start = local if cohort.bucket == "hour" else local.replace(hour=0)
        counted[start][0] += entered
        counted[start][1] += goal_met
    buckets = []
    for start in bucket_starts(cohort.since, min(cohort.until, max(now, cohort.since)), cohort.bucket):
        entered, goal_met = counted.get(start, (0, 0))
        buckets.append(Bucket(at=start, entered=entered, goal_met=goal_met))
    return buckets


# --- The dashboard ------------------------------------------------------------------------


def dashboard_rows(since: datetime, until: datetime, sources: Sources | None = None) -> list[JourneyRow]:
    """One row per journey for participants who entered in [since, until): eight queries at most."""
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
    for journey_id, totals in dashboard_totals(list(rows), since, until, sources or sources_for(since, until)).items():
        line = rows.get(journey_id)
        if line is None:  # a journey created since the first query
            continue
        line.entered, line.active, line.goal_met = totals.entered, totals.active, totals.goal_met
        line.sent, line.opened, line.clicked = totals.sent, totals.opened, totals.clicked
    for journey_id, lift in holdout_lifts(since, until).items():
        if journey_id in rows:
            rows[journey_id].holdout = lift
    return [rows[j.pk] for j in journeys]


def holdout_lifts(since: datetime, until: datetime) -> dict[int, Lift]:
    """Goal per group of the journeys with a holdout group, for entries in [since, until):
    one grouped query over those journeys' participants only (the rollup has no groups)."""
    journey_ids = set(JourneyVersion.objects.filter(holdout_percent__gt=0).values_list("journey_id", flat=True))
    if not journey_ids:
        return {}
    participants = Participant.objects.filter(journey_id__in=journey_ids, entered_at__gte=since, entered_at__lt=until)
    rows_by_journey: dict[int, dict[str, dict]] = defaultdict(dict)
    for row in _goal_by_group(participants, "journey_id"):
        rows_by_journey[row["journey_id"]][row["group"]] = row
    return {journey_id: _lift(rows) for journey_id, rows in rows_by_journey.items()}


@dataclass
class TypeRow:
    """The dashboard's totals for one journey type (trigger- or segment-based)."""

    type: str
    label: str
    journeys: int = 0
    entered: int = 0
    active: int = 0
    goal_met: int = 0
    sent: int = 0


def by_journey_type(rows: list[JourneyRow]) -> list[TypeRow]:
    """Sum the dashboard's rows per journey type (no further query)."""
    from journeys.models import JourneyType

    totals = {value: TypeRow(value, label) for value, label in JourneyType.choices}
    for row in rows:
        line = totals[row.journey.type]
        line.journeys += 1
        line.entered += row.entered
        line.active += row.active
        line.goal_met += row.goal_met
        line.sent += row.sent
    return list(totals.values())
