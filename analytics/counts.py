"""The grouped counts every analytics figure is made of, straight from the raw tables.

One definition for both readers: analytics.rollup stores these groups per hour of entry,
and analytics.figures counts the hours the rollup cannot answer (a period's partial edge
hours, hours changed since the last refresh) with the very same queries. Each group is keyed
by (journey_id, version_id, hour of entry in UTC) plus the figure's own dimensions, and its
rows carry the same keys as the rollup models' fields (analytics.models).
"""

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

from django.db.models import Count, F, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import TruncHour

from journeys.models import Delivery, Participant, ParticipantHistory
from journeys.steps import leaving_outcomes

HOUR = timedelta(hours=1)
# History outcomes with which a step's kind ends the step for a participant: one per
# participant and step (a step is never run twice; a held message is sent or blocked once).
LEAVING_OUTCOMES = leaving_outcomes()
# Delivery timestamps counted as funnel stages, in funnel order.
STAGES = ("sent", "delivered", "opened", "clicked", "bounced", "failed")

Span = tuple[datetime, datetime]  # [start, end) of entry times


def entry_hour(field: str = "entered_at") -> TruncHour:
    # UTC hours: a rollup row's hour does not move when the site's TIME_ZONE changes, and
    # whole UTC hours are whole local hours in every zone with a whole-hour offset.
    return TruncHour(field, tzinfo=UTC)


def floor_hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def ceil_hour(at: datetime) -> datetime:
    floor = floor_hour(at)
    return floor if floor == at else floor + HOUR


def merge_hours(hours: Iterable[datetime]) -> list[Span]:
    """Hour starts as the fewest [start, end) spans (consecutive hours become one span)."""
    spans: list[Span] = []
    for hour in sorted(set(hours)):
        if spans and spans[-1][1] == hour:
            spans[-1] = (spans[-1][0], hour + HOUR)
        else:
            spans.append((hour, hour + HOUR))
    return spans


def spans_q(spans: Iterable[Span], prefix: str = "") -> Q:
    """Participants (through `prefix`, e.g. "participant__") who entered in any of the spans.
    Each span is an index range on (journey, entered_at); no spans selects nothing."""
    q = Q(pk__in=[])
    for start, end in spans:
        q |= Q(**{f"{prefix}entered_at__gte": start, f"{prefix}entered_at__lt": end})
    return q


def chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def participant_groups(participants: QuerySet[Participant]) -> QuerySet:
    """Participants by where they are now (state, exit reason, current step), with how many
    of them met the goal."""
    return (
        participants.annotate(hour=entry_hour())
        .values("journey_id", "version_id", "hour", "state", "exit_reason", "current_step_id")
        .annotate(participants=Count("pk"), goal_met=Count("pk", filter=Q(goal_met_at__isnull=False)))  # type: ignore[no-redef]
        .order_by()
    )


def outcome_groups(history: QuerySet[ParticipantHistory]) -> QuerySet:
    """The history rows that end a step, by step, outcome and path (rows: see outcome_row)."""
    return (
        history.filter(outcome__in=LEAVING_OUTCOMES, step_id__isnull=False)
        .annotate(
            journey_id=F("participant__journey_id"),
            version_id=F("participant__version_id"),
            hour=entry_hour("participant__entered_at"),
            path=KeyTextTransform("path", "detail"),
        )
        .values("journey_id", "version_id", "hour", "step_id", "outcome", "path")
        .annotate(rows=Count("pk"))
        .order_by()
    )


def outcome_row(row: dict) -> dict:
    """A path index comes back as a number from SQLite's JSON and as text from PostgreSQL's;
    both are stored and compared as text ("0", "otherwise"), and no path as ""."""
    return {**row, "path": "" if row["path"] is None else str(row["path"])}


def delivery_groups(deliveries: QuerySet[Delivery]) -> QuerySet:
    """Deliveries by step, status and reason, with how many reached each funnel stage."""
    stages = {stage: Count("pk", filter=Q(**{f"{stage}_at__isnull": False})) for stage in STAGES}
    return (
        deliveries.annotate(
            journey_id=F("participant__journey_id"),
            version_id=F("participant__version_id"),
            hour=entry_hour("participant__entered_at"),
        )
        .values("journey_id", "version_id", "hour", "step_id", "status", "reason")
        .annotate(deliveries=Count("pk"), **stages)
        .order_by()
    )
