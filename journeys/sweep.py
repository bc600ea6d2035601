"""The periodic sweep: advance participants whose wait ended, and heal what lost tasks left.

Its cost follows the number of due rows, not the number waiting: every query reads a
partial index (participants: `participant_due`; events: `event_unprocessed`).
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from triggers.models import Event

from . import transitions
from .models import JourneyStatus, Participant, ParticipantState
from .policy import reads_for_batch
from .runtime import advance

logger = logging.getLogger(__name__)

BATCH_SIZE = 200
MAX_DUE_PER_SWEEP = 200_000
# An event the doorbell task did not process within this time is re-driven by the sweep;
# events older than a day are not retried forever.
EVENT_GRACE = timedelta(seconds=30)
EVENT_RETRY_HORIZON = timedelta(days=1)


@dataclass
class SweepReport:
    participants_due: int = 0
    events_redriven: int = 0
    deliveries_redriven: int = 0
    segment_passes: int = 0
    held_released: int = 0


def due_participant_ids(now: datetime, limit: int) -> list[int]:
    return list(
        Participant.objects.filter(state=ParticipantState.ACTIVE, wake_at__lte=now, journey__status=JourneyStatus.LIVE)
        .order_by("wake_at")
        .values_list("pk", flat=True)[:limit]
    )


def sweep(now: datetime | None = None, *, inline: bool = False) -> SweepReport:
    """Find due work and hand it to workers in batches (or do it here with `inline`)."""
    from .queue import enqueue_advance_batch, enqueue_process_events
    from .sending import retry_due_deliveries

    now = now or timezone.now()
    report = SweepReport()
    ids = due_participant_ids(now, MAX_DUE_PER_SWEEP)
    report.participants_due = len(ids)
    for start in range(0, len(ids), BATCH_SIZE):
        chunk = ids[start : start + BATCH_SIZE]
        if inline:
            advance_batch(chunk, now)
        else:
            enqueue_advance_batch(chunk)
    stale_events = list(
        Event.objects.filter(
            processed_at__isnull=True, received_at__lte=now - EVENT_GRACE, received_at__gte=now - EVENT_RETRY_HORIZON
        )
        .order_by("received_at")
        .values_list("pk", flat=True)[:10_000]
    )
    report.events_redriven = len(stale_events)
    for start in range(0, len(stale_events), BATCH_SIZE):
        chunk = stale_events[start : start + BATCH_SIZE]
        if inline:
            from .reactions import process_events

            process_events(chunk)
        else:
            enqueue_process_events(chunk)
    report.deliveries_redriven = retry_due_deliveries(now, limit=10_000)
    _segment_journeys(report, now, inline)
    return report


def _segment_journeys(report: SweepReport, now: datetime, inline: bool) -> None:
    """Recurring segment journeys' occurrences, passes to resume, and people held by an
    entry limit (journeys.segment_entry, journeys.entry)."""
    from .entry import release_held
    from .models import SegmentEntry
    from .segment_entry import resume_stalled_entries, run_pass_now, start_due_occurrences

    report.segment_passes = start_due_occurrences(now)
    if inline:
        for entry in SegmentEntry.objects.filter(finished_at__isnull=True):
            run_pass_now(entry, now)
    else:
        report.segment_passes += resume_stalled_entries(now)
    report.held_released = release_held(now)


def advance_batch(participant_ids: list[int], now: datetime | None = None) -> int:
    """Advance a batch of due participants; returns how many moved.

    The whole batch goes in one transaction: one query locks the participants still due,
    and their rows and history are written once at the end. If anything in it fails, the
    batch rolls back and each participant is advanced in its own transaction instead, so a
    broken participant holds back no other and gets its failure recorded.
    """
    now = now or timezone.now()
    try:
        with transaction.atomic():
            participants = list(_lock_due(Participant.objects.filter(pk__in=participant_ids), now))
            writes = transitions.Writes(deliveries=True)
            with reads_for_batch({p.contact_id for p in participants}, now):
                for participant in participants:
                    advance(participant, now, writes=writes)
            writes.flush()
        return len(participants)
    except Exception:
        logger.warning("a batch of %s participants failed; advancing them one by one", len(participant_ids))
        return sum(advance_due(participant_id, now) for participant_id in participant_ids)


def _lock_due(participants: QuerySet[Participant], now: datetime) -> QuerySet[Participant]:
    """Those still due (another worker or an event may have moved them since the sweep
    looked), locked; rows another worker holds are skipped, not waited for."""
    skip_locked = connection.features.has_select_for_update_skip_locked
    return (
        participants.select_for_update(skip_locked=skip_locked, of=("self",))
        .filter(state=ParticipantState.ACTIVE, wake_at__lte=now, journey__status=JourneyStatus.LIVE)
        .select_related("version", "contact", "entry_event", "current_step")
        .order_by("pk")
    )


def advance_due(participant_id: int, now: datetime) -> bool:
    """Claim one participant if it is still due and run it to its next wait; a failure is
    recorded on the participant, which is tried again later."""
    with transaction.atomic():
        participant = _lock_due(Participant.objects.filter(pk=participant_id), now).first()
        if participant is None:
            return False
        try:
            with transaction.atomic():
                advance(participant, now)
        except Exception as error:
            logger.exception("advancing participant %s failed", participant_id)
            participant.refresh_from_db()
            transitions.record_failure(participant, f"{type(error).__name__}: {error}", now)
    return True
