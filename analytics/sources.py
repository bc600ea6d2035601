"""Where a period's counts come from: the rollup for whole hours it has counted, the raw
tables for everything else, so that the sum is exact as of the moment the page is drawn.

A period [since, until) splits into
- whole UTC hours, read from the rollup (analytics.models), except the hours changed since
  its last refresh (analytics.rollup.changed_hours: participants whose history or
  deliveries were written after the rollup's marks, or deleted);
- the partial hours at its edges and those changed hours, counted live from the raw tables
  with the same grouped queries the refresh uses (analytics.counts).
A partial hour or a changed hour holds a few hundred participants; the whole hours, however
many, are a few thousand rollup rows. Without a rollup yet, everything is counted live.

When many hours changed at once (a busy minute touches every recent hour of a journey), at
most LIVE_HOURS_AT_MOST of them are counted live, the newest first; the others are read
from the rollup as of its last refresh (at most a minute ago, plus the refresh's own time)
and the page says so. Counting 72 changed hours live costs 0.7-2 s on the benchmark, beyond
the pages' budget (docs/performance.md).

The queries are a constant number whatever the period, the number of steps or journeys:
the rollup's state, the changed hours, then one query per figure family from each source.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Q, QuerySet, Sum

from journeys.models import Delivery, Participant, ParticipantHistory, ParticipantState, Step
from journeys.steps import message_kinds

from .counts import (
    STAGES,
    Span,
    ceil_hour,
    delivery_groups,
    floor_hour,
    merge_hours,
    outcome_groups,
    outcome_row,
    participant_groups,
    spans_q,
)
from .models import DeliveryCount, OutcomeCount, ParticipantCount, RollupState
from .rollup import changed_hours

# Changed hours counted live per page, at most: about 4,000 participants on the benchmark,
# ~120 ms of the page's time (12 hours measured ~250 ms, too close to the budget).
LIVE_HOURS_AT_MOST = 6


@dataclass(frozen=True)
class Sources:
    """How a period is counted: `rolled` whole hours from the rollup but the `skipped` ones,
    and the `live` spans from the raw tables. `behind`: hours changed since the last refresh
    that are nevertheless read from the rollup (beyond LIVE_HOURS_AT_MOST)."""

    rolled: Span | None
    skipped: list[datetime]
    live: list[Span]
    refreshed_at: datetime | None
    behind: int = 0

    @property
    def live_hours(self) -> int:
        """Hours counted from the raw tables (a partial edge hour counts as one)."""
        return sum(max(1, round((end - start).total_seconds() / 3600)) for start, end in self.live)


def plan(since: datetime, until: datetime, rollup: RollupState | None, changed: set[datetime]) -> Sources:
    if rollup is None or rollup.refreshed_at is None:
        return Sources(None, [], [(since, until)], None)
    first, last = ceil_hour(since), floor_hour(until)
    if first >= last:  # less than one whole hour
        return Sources(None, [], [(since, until)], rollup.refreshed_at)
    changed_here = sorted(hour for hour in changed if first <= hour < last)
    skipped = changed_here[max(0, len(changed_here) - LIVE_HOURS_AT_MOST) :]
    live = [(since, first)] if since < first else []
    live += merge_hours(skipped)
    if last < until:
        live.append((last, until))
    return Sources((first, last), skipped, live, rollup.refreshed_at, len(changed_here) - len(skipped))


def sources_for(since: datetime, until: datetime, journey_id: int | None = None) -> Sources:
    """The split of [since, until) for one journey, or for all journeys (the dashboard)."""
    rollup = RollupState.objects.filter(pk=1).first()
    changed: set[datetime] = set()
    if rollup is not None and rollup.refreshed_at is not None:
        pairs = changed_hours(rollup, journey_id=journey_id, since=since, until=until)
        changed = {hour for _, hour in pairs}
    return plan(since, until, rollup, changed)


@dataclass
class Groups:
    """A cohort's counts, summed over its hours: the rows analytics.figures folds."""

    participants: list[dict] = field(default_factory=list)  # state, exit_reason, current_step_id
    outcomes: list[dict] = field(default_factory=list)  # step_id, outcome, path → rows
    deliveries: list[dict] = field(default_factory=list)  # step_id, status, reason → deliveries, stages
    entries: dict[datetime, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))  # UTC hour


def _rolled(model, sources: Sources, journey_id: int | None, version_id: int | None) -> QuerySet:
    assert sources.rolled is not None
    rows = model.objects.filter(hour__gte=sources.rolled[0], hour__lt=sources.rolled[1])
    if journey_id is not None:
        rows = rows.filter(journey_id=journey_id)
    if version_id is not None:
        rows = rows.filter(version_id=version_id)
    if sources.skipped:
        rows = rows.exclude(hour__in=sources.skipped)
    return rows.order_by()


def cohort_groups(
    participants: QuerySet[Participant],
    history: QuerySet[ParticipantHistory],
    deliveries: QuerySet[Delivery],
    sources: Sources,
    journey_id: int,
    version_id: int | None,
) -> Groups:
    """Every count of one journey's cohort (`participants`, `history`, `deliveries`: the
    cohort's raw rows), from the rollup and the live spans: at most seven queries."""
    groups = Groups()
    if sources.rolled is not None:
        rolled = {
            m: _rolled(m, sources, journey_id, version_id) for m in (ParticipantCount, OutcomeCount, DeliveryCount)
        }
        groups.participants += (
            rolled[ParticipantCount]
            .values("state", "exit_reason", "current_step_id")
            .annotate(participants=Sum("participants"), goal_met=Sum("goal_met"))
        )
        for row in rolled[ParticipantCount].values("hour").annotate(n=Sum("participants"), goal=Sum("goal_met")):
            _add_entries(groups, row["hour"], row["n"], row["goal"])
        groups.outcomes += rolled[OutcomeCount].values("step_id", "outcome", "path").annotate(rows=Sum("rows"))
        groups.deliveries += (
            rolled[DeliveryCount]
            .values("step_id", "status", "reason")
            .annotate(deliveries=Sum("deliveries"), **{stage: Sum(stage) for stage in STAGES})
        )
    if sources.live:
        for row in participant_groups(participants.filter(spans_q(sources.live))):
            groups.participants.append(row)
            _add_entries(groups, row["hour"], row["participants"], row["goal_met"])
        live_history = history.filter(spans_q(sources.live, "participant__"))
        groups.outcomes += (outcome_row(row) for row in outcome_groups(live_history))
        groups.deliveries += delivery_groups(deliveries.filter(spans_q(sources.live, "participant__")))
    return groups


def _add_entries(groups: Groups, hour: datetime, entered: int, goal_met: int) -> None:
    counts = groups.entries[floor_hour(hour)]
    counts[0] += entered
    counts[1] += goal_met


@dataclass
class JourneyTotals:
    entered: int = 0
    active: int = 0
    goal_met: int = 0
    sent: int = 0
    opened: int = 0
    clicked: int = 0


def dashboard_totals(
    journey_ids: list[int], since: datetime, until: datetime, sources: Sources
) -> dict[int, JourneyTotals]:
    """Per journey id: participants who entered in [since, until), how many are active and
    met the goal, and their messages sent, opened and clicked: at most four queries."""
    totals: dict[int, JourneyTotals] = defaultdict(JourneyTotals)
    participant_sums = {
        "entered": Sum("participants"),
        "active": Sum("participants", filter=Q(state=ParticipantState.ACTIVE)),
        "goal": Sum("goal_met"),
    }
    participant_rows = []
    delivery_rows = []
    if sources.rolled is not None:
        participant_rows += (
            _rolled(ParticipantCount, sources, None, None).values("journey_id").annotate(**participant_sums)
        )
        delivery_rows += (
            _rolled(DeliveryCount, sources, None, None)
            .filter(step_id__in=_message_steps())
            .values("journey_id")
            .annotate(sent=Sum("sent"), opened=Sum("opened"), clicked=Sum("clicked"))
        )
    if sources.live:
        # By journey: each journey's spans are ranges on the (journey, entered_at) index.
        live = Participant.objects.filter(journey_id__in=journey_ids, entered_at__gte=since, entered_at__lt=until)
        live = live.filter(spans_q(sources.live))
        participant_rows += [
            {"journey_id": row["journey_id"], "entered": row["entered"], "active": row["active"], "goal": row["goal"]}
            for row in _live_participant_totals(live)
        ]
        live_deliveries = Delivery.objects.filter(
            participant__journey_id__in=journey_ids,
            participant__entered_at__gte=since,
            participant__entered_at__lt=until,
        ).filter(spans_q(sources.live, "participant__"), step__in=_message_steps())
        delivery_rows += [
            {**row, "journey_id": row.pop("participant__journey_id")} for row in _live_delivery_totals(live_deliveries)
        ]
    for row in participant_rows:
        line = totals[row["journey_id"]]
        line.entered += row["entered"] or 0
        line.active += row["active"] or 0
        line.goal_met += row["goal"] or 0
    for row in delivery_rows:
        line = totals[row["journey_id"]]
        line.sent += row["sent"] or 0
        line.opened += row["opened"] or 0
        line.clicked += row["clicked"] or 0
    return totals


def _message_steps() -> QuerySet:
    """The message steps (email, text, push): a webhook's call is a delivery too, but not a
    message sent to the contact, so it stays out of the journeys' sent, open and click rates."""
    return Step.objects.filter(kind__in=[kind.name for kind in message_kinds()]).values("pk")


def _live_participant_totals(participants: QuerySet[Participant]) -> QuerySet:
    return (
        participants.values("journey_id")
        .annotate(
            entered=Count("pk"),
            active=Count("pk", filter=Q(state=ParticipantState.ACTIVE)),
            goal=Count("pk", filter=Q(goal_met_at__isnull=False)),
        )
        .order_by()
    )


def _live_delivery_totals(deliveries: QuerySet[Delivery]) -> QuerySet:
    return (
        deliveries.values("participant__journey_id")
        .annotate(
            sent=Count("pk", filter=Q(sent_at__isnull=False)),
            opened=Count("pk", filter=Q(opened_at__isnull=False)),
            clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
        )
        .order_by()
    )
