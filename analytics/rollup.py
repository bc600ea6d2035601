"""Keeping the rollup (analytics.models) in step with the raw tables, by dirty hours.

A refresh finds the (journey, entry hour) pairs whose participants changed since the last
refresh and recounts each of them whole, from the raw tables, with analytics.counts: a
recounted hour is exact by construction, whatever changed in it. An hour holds a few hundred
participants, so a refresh costs what changed, not the size of the tables.

What changed is found three ways:
- History is append-only, and journeys.transitions writes a history row with every change
  of a participant that a figure depends on (entry, state, current step, goal, exit), in
  the same transaction. Rows above `history_mark` (their id) name the participants.
- Deliveries change in place; every write of what a figure counts sets `updated_at`
  (journeys.deliveries; noting an attempt started changes nothing counted and does not).
  Rows written after `deliveries_mark` name the participants.
- Deleted participants leave no row to find: a pre_delete receiver on Contact records their
  hours as StaleHours in the deleting transaction (a deleted journey takes its rollup rows).

The marks trail, on purpose. An id or an `updated_at` is taken when the row is written, but
the row becomes visible only when its transaction commits, maybe after a refresh that had
already moved past it. So a mark only moves past rows written longer ago than
LONGEST_TRANSACTION: by then their transactions have ended, committed or not, and the refresh
that moves the mark has seen them. The last few minutes are re-scanned by every refresh (a
recount is idempotent), and the pages count them live (analytics.figures), so a page is
exact at the moment it is drawn.

Run by the "Refresh analytics" django-q2 schedule every minute (analytics/migrations/0002)
and by `manage.py refresh_analytics [--rebuild]`.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Max, Q, QuerySet
from django.utils import timezone

from journeys.models import Contact, Delivery, Participant, ParticipantHistory

from .counts import (
    chunks,
    delivery_groups,
    entry_hour,
    floor_hour,
    merge_hours,
    outcome_groups,
    outcome_row,
    participant_groups,
    spans_q,
)
from .models import DeliveryCount, OutcomeCount, ParticipantCount, RollupState, StaleHour

# Longer than any transaction that writes participants, history or deliveries: django-q2
# ends a task after Q_CLUSTER["timeout"] (60 s by default), and requests and admin actions
# are shorter still. Five minutes also covers clocks of app servers a little apart (a
# delivery's updated_at is the writer's clock).
LONGEST_TRANSACTION = timedelta(minutes=5)
# Hours of one journey recounted per statement. Each chunk's spans are ranges on the
# (journey, entered_at) index, and its history and deliveries are read through their
# participant indexes. Measured on PostgreSQL's default cost settings (bench/analytics.py):
# beyond about 12 hours (~8,000 participants) the planner switches to a hash join over the
# whole history table, 10x slower (1.9 s instead of 0.17 s).
HOURS_PER_CHUNK = 12
ROLLUPS = (ParticipantCount, OutcomeCount, DeliveryCount)


@dataclass(frozen=True)
class RefreshReport:
    rebuilt: bool
    hours: int  # (journey, hour) pairs recounted; every hour with participants for a rebuild
    duration: timedelta
    history_mark: int

    def __str__(self) -> str:
        what = "rebuilt" if self.rebuilt else "refreshed"
        seconds = self.duration.total_seconds()
        return f"analytics rollup {what}: {self.hours} hours recounted in {seconds:.2f} s"


def state() -> RollupState:
    """The rollup's marks (created empty on first use: nothing counted yet)."""
    return RollupState.objects.get_or_create(pk=1)[0]


def refresh(*, rebuild: bool = False) -> RefreshReport:
    """Recount the hours that changed since the last refresh (everything, for a rebuild or
    the first run), in one transaction: the pages see the old rollup or the new one."""
    started = timezone.now()
    state()
    with transaction.atomic():
        # One refresh at a time; a second one waits and then finds little left to do.
        current = RollupState.objects.select_for_update().get(pk=1)
        top = ParticipantHistory.objects.aggregate(top=Max("pk"))["top"] or 0
        stale = list(StaleHour.objects.values_list("pk", "journey_id", "hour"))
        rebuild = rebuild or current.refreshed_at is None
        if rebuild:
            hours = _rebuild()
            current.history_mark = _history_mark_by_time(started)
            current.rebuilt_at = started
        else:
            changed = changed_hours(current) | {(journey, hour) for _, journey, hour in stale}
            hours = _recount(changed)
            current.history_mark = max(current.history_mark, _history_mark_by_checkpoints(current, started))
        StaleHour.objects.filter(pk__in=[pk for pk, _, _ in stale]).delete()
        # A checkpoint is the highest history id when a refresh started. Once it is older
        # than LONGEST_TRANSACTION every row up to it has committed (or rolled back) and has
        # been scanned by this refresh or an earlier one, so the mark may move up to it.
        current.checkpoints = [
            [at, high] for at, high in current.checkpoints if datetime.fromisoformat(at) > started - LONGEST_TRANSACTION
        ] + [[started.isoformat(), top]]
        current.deliveries_mark = started - LONGEST_TRANSACTION
        current.refreshed_at = started
        current.last_hours = hours
        current.last_duration = timezone.now() - started
        current.save()
    return RefreshReport(rebuild, hours, current.last_duration, current.history_mark)


def _history_mark_by_checkpoints(current: RollupState, now: datetime) -> int:
    ripe = [high for at, high in current.checkpoints if datetime.fromisoformat(at) <= now - LONGEST_TRANSACTION]
    return max(ripe, default=0)


def _history_mark_by_time(now: datetime) -> int:
    """For a rebuild, which has no checkpoints to trust: the highest id among rows written
    (their `at`, the writer's clock inside its transaction) longer ago than
    LONGEST_TRANSACTION. A row still in flight was written after those, so it has a higher id."""
    older = ParticipantHistory.objects.filter(at__lte=now - LONGEST_TRANSACTION)
    return older.aggregate(top=Max("pk"))["top"] or 0


def changed_hours(
    current: RollupState, *, journey_id: int | None = None, since: datetime | None = None, until: datetime | None = None
) -> set[tuple[int, datetime]]:
    """(journey id, UTC entry hour) of every participant changed since the marks, or deleted
    since the last refresh: one query. Optionally only one journey's, entered in [since, until)."""
    history = ParticipantHistory.objects.filter(pk__gt=current.history_mark)
    deliveries = Delivery.objects.all()
    if current.deliveries_mark is not None:
        deliveries = deliveries.filter(updated_at__gt=current.deliveries_mark)
    stale = StaleHour.objects.all()
    if journey_id is not None:
        history = history.filter(participant__journey_id=journey_id)
        deliveries = deliveries.filter(participant__journey_id=journey_id)
        stale = stale.filter(journey_id=journey_id)
    if since is not None and until is not None:
        history = history.filter(participant__entered_at__gte=since, participant__entered_at__lt=until)
        deliveries = deliveries.filter(participant__entered_at__gte=since, participant__entered_at__lt=until)
        stale = stale.filter(hour__gte=floor_hour(since), hour__lt=until)
    pairs = (
        _journey_and_hour(history)
        .union(_journey_and_hour(deliveries))
        .union(stale.values_list("journey_id", "hour").order_by())
    )
    return {(journey, hour.astimezone(UTC)) for journey, hour in pairs}


def _journey_and_hour(rows: QuerySet) -> QuerySet:
    return (
        rows.annotate(j=F("participant__journey_id"), h=entry_hour("participant__entered_at"))
        .values_list("j", "h")
        .order_by()
    )


def _rebuild() -> int:
    for model in ROLLUPS:
        model.objects.all().delete()
    _insert(Participant.objects.all(), ParticipantHistory.objects.all(), Delivery.objects.all())
    return ParticipantCount.objects.values("journey_id", "hour").distinct().count()


def _recount(changed: set[tuple[int, datetime]]) -> int:
    by_journey: dict[int, list[datetime]] = defaultdict(list)
    for journey_id, hour in changed:
        by_journey[journey_id].append(hour)
    for journey_id, hours in by_journey.items():
        for chunk in chunks(sorted(hours), HOURS_PER_CHUNK):
            for model in ROLLUPS:
                model.objects.filter(journey_id=journey_id, hour__in=chunk).delete()
            spans = merge_hours(chunk)
            _insert(
                Participant.objects.filter(Q(journey_id=journey_id) & spans_q(spans)),
                ParticipantHistory.objects.filter(
                    Q(participant__journey_id=journey_id) & spans_q(spans, "participant__")
                ),
                Delivery.objects.filter(Q(participant__journey_id=journey_id) & spans_q(spans, "participant__")),
            )
    return len(changed)


def _insert(participants: QuerySet, history: QuerySet, deliveries: QuerySet) -> None:
    ParticipantCount.objects.bulk_create(
        [ParticipantCount(**row) for row in participant_groups(participants)],
        batch_size=5000,
    )
    OutcomeCount.objects.bulk_create(
        [OutcomeCount(**outcome_row(row)) for row in outcome_groups(history)],
        batch_size=5000,
    )
    DeliveryCount.objects.bulk_create([DeliveryCount(**row) for row in delivery_groups(deliveries)], batch_size=5000)


def contact_deleting(sender: Any, instance: Contact, **kwargs: Any) -> None:
    """pre_delete of a contact (connected in analytics.apps): the hours its participants
    entered in must be recounted, and deleting them leaves no row to find them by. One grouped
    query, while a receiver on Participant itself would make Django load and delete every
    participant one by one (no fast cascade) when a journey or a contact goes. A deleted
    journey takes its rollup rows with it (CASCADE); participants are deleted no other way."""
    hours = (
        Participant.objects.filter(contact=instance)
        .annotate(hour=entry_hour())
        .values_list("journey_id", "hour")
        .distinct()
    )
    StaleHour.objects.bulk_create(
        [StaleHour(journey_id=journey_id, hour=hour) for journey_id, hour in hours], ignore_conflicts=True
    )
