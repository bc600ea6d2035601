"""Every change of a participant's state, and nothing else.

Each function writes the participant row and its history row together, inside the caller's
transaction, on a participant the caller has locked (runtime and reactions take the row
lock). Nothing else in the code base saves a participant.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from triggers.models import Event

from . import metrics
from .models import (
    ONCE_EVER,
    Contact,
    Delivery,
    DeliveryStatus,
    HistoryOutcome,
    JourneyVersion,
    Participant,
    ParticipantHistory,
    ParticipantState,
    Step,
)
from .queue import enqueue_dispatch

# After a failure the participant is looked at again after this many seconds, doubling per
# attempt up to an hour: one broken row never crash-loops a worker.
FAILURE_BACKOFF_SECONDS = 30
FAILURE_BACKOFF_MAX_SECONDS = 3600


@dataclass
class _Writes:
    """Rows held back until the end of a run or batch: participant updates, history, and
    (in a sweep batch) new deliveries."""

    fields: dict[int, tuple[Participant, set[str]]] = field(default_factory=dict)
    history: list[ParticipantHistory] = field(default_factory=list)
    defer_deliveries: bool = False
    deliveries: list[Delivery] = field(default_factory=list)
    # History rows whose detail names a delivery not inserted yet.
    naming_delivery: list[tuple[ParticipantHistory, Delivery]] = field(default_factory=list)

    def flush(self) -> None:
        if self.deliveries:
            Delivery.objects.bulk_create(self.deliveries)  # sets their ids (RETURNING)
            for row, delivery in self.naming_delivery:
                row.detail["delivery"] = delivery.pk
            for delivery in self.deliveries:
                if delivery.status == DeliveryStatus.QUEUED:
                    enqueue_dispatch(delivery.pk)
        # Participants of a batch mostly end up alike (same step, same wake-up time): one
        # UPDATE per distinct set of values, not one per row (and no CASE per row).
        groups: dict[tuple, list[int]] = {}
        for participant, names in self.fields.values():
            values = tuple(sorted(_column(participant, name) for name in names))
            groups.setdefault(values, []).append(participant.pk)
        for values, pks in groups.items():
            Participant.objects.filter(pk__in=pks).update(**dict(values))
        if self.history:
            ParticipantHistory.objects.bulk_create(self.history)


def _column(participant: Participant, name: str) -> tuple[str, object]:
    """Field `name` as (attribute, value) for an UPDATE (a foreign key by its id)."""
    attname = Participant._meta.get_field(name).attname
    return attname, getattr(participant, attname)


_writes: ContextVar[_Writes | None] = ContextVar("participant_writes", default=None)


@contextmanager
def deferred_writes(*, deliveries: bool = False) -> Iterator[None]:
    """Write participant rows and history rows once, at the end of the block, instead of once
    per step: a run through an email to a wait costs two statements, not five, and a batch
    of the sweep's participants two or three in all. With `deliveries`, new deliveries are
    inserted in one statement too; only for a block whose sending decisions do not read the
    deliveries table meanwhile (the sweep's batches count the frequency cap in memory,
    journeys.policy.reads_for_batch).

    Nothing reads these rows back inside the caller's transaction meanwhile (the caller
    holds their locks). On an exception nothing is written: the transaction rolls back.
    Re-entrant: an inner block joins the outer one."""
    if _writes.get() is not None:
        yield
        return
    writes = _Writes(defer_deliveries=deliveries)
    token = _writes.set(writes)
    try:
        yield
    finally:
        _writes.reset(token)
    writes.flush()


def _save(participant: Participant, fields: list[str]) -> None:
    writes = _writes.get()
    if writes is None:
        participant.save(update_fields=fields)
        return
    _, pending = writes.fields.setdefault(participant.pk, (participant, set()))
    pending.update(fields)


def _history(
    participant: Participant,
    step: Step | None,
    outcome: str,
    now: datetime,
    detail: dict | None = None,
    delivery: Delivery | None = None,
) -> None:
    """A history row; `delivery` is named in its detail (once it has an id)."""
    row = ParticipantHistory(
        participant=participant,
        step=step,
        step_key=step.key if step else "",
        outcome=outcome,
        detail={**(detail or {}), **({"delivery": delivery.pk} if delivery is not None else {})},
        at=now,
    )
    writes = _writes.get()
    if writes is None:
        row.save(force_insert=True)
        return
    writes.history.append(row)
    if delivery is not None and delivery.pk is None:
        writes.naming_delivery.append((row, delivery))


def enter(
    *,
    version: JourneyVersion,
    contact: Contact,
    event: Event | None,
    entry_key: str,
    binding_id: str,
    first_step: Step | None,
    now: datetime,
) -> Participant | None:
    """Start a participant at the version's first step. None when the repeat policy's
    unique constraint says the contact is in (or was in) the journey already."""
    try:
        with transaction.atomic():
            participant = Participant.objects.create(
                journey_id=version.journey_id,
                version=version,
                contact=contact,
                entry_event=event,
                entry_key=entry_key,
                binding_id=binding_id,
                entered_at=now,
                current_step=first_step,
                step_started_at=now,
            )
    except IntegrityError:
        return None
    _history(participant, None, HistoryOutcome.ENTERED, now, {"event": event.pk if event else None})
    transaction.on_commit(metrics.PARTICIPANTS_ENTERED.inc)
    return participant


def enter_many(
    *, version: JourneyVersion, contacts: list[Contact], entry_key: str, first_step: Step | None, now: datetime
) -> list[Participant]:
    """`enter` for a group of contacts without an event (a segment pass, a join): one
    SELECT for those the repeat policy keeps out, one multi-row INSERT for the others.
    If a concurrent entry still trips the unique constraint, the group is entered one by
    one instead (each refused one is skipped, as `enter` does)."""
    taken = Participant.objects.filter(journey_id=version.journey_id, contact__in=contacts, entry_key=entry_key)
    if entry_key != ONCE_EVER:
        taken = taken.filter(state=ParticipantState.ACTIVE)
    blocked = set(taken.values_list("contact_id", flat=True))
    rows = [
        Participant(
            journey_id=version.journey_id,
            version=version,
            contact=contact,
            entry_key=entry_key,
            entered_at=now,
            current_step=first_step,
            step_started_at=now,
        )
        for contact in contacts
        if contact.pk not in blocked
    ]
    try:
        with transaction.atomic():
            Participant.objects.bulk_create(rows)  # sets their ids (RETURNING)
    except IntegrityError:
        entered = []
        for contact in contacts:
            one = enter(
                version=version,
                contact=contact,
                event=None,
                entry_key=entry_key,
                binding_id="",
                first_step=first_step,
                now=now,
            )
            if one is not None:
                entered.append(one)
        return entered
    for participant in rows:
        _history(participant, None, HistoryOutcome.ENTERED, now, {"event": None})
    return rows


def arrive(participant: Participant, step: Step, now: datetime) -> None:
    """Move to a step; the runtime then executes it."""
    participant.current_step = step
    participant.step_started_at = now
    participant.wake_at = None
    participant.attempts = 0
    participant.last_error = ""
    _save(participant, ["current_step", "step_started_at", "wake_at", "attempts", "last_error"])


def wait_until(
    participant: Participant,
    step: Step,
    wake_at: datetime,
    now: datetime,
    outcome: str,
    detail: dict,
    delivery: Delivery | None = None,
) -> None:
    """Stay at the step until `wake_at` (a wait, a wait-for limit, quiet hours)."""
    participant.wake_at = wake_at
    _save(participant, ["wake_at"])
    _history(participant, step, outcome, now, {**detail, "until": wake_at.isoformat()}, delivery)


def record(
    participant: Participant,
    step: Step,
    outcome: str,
    now: datetime,
    detail: dict | None = None,
    delivery: Delivery | None = None,
) -> None:
    """A step's outcome that does not change where the participant is (sent, yes, no, path)."""
    _history(participant, step, outcome, now, detail, delivery)


def complete(participant: Participant, now: datetime) -> None:
    _finish(participant, ParticipantState.COMPLETED, "completed", now, HistoryOutcome.COMPLETED, {})


def exit_journey(participant: Participant, event: Event, now: datetime) -> None:
    """An exit trigger: the participant leaves at once, wherever it is."""
    _finish(
        participant,
        ParticipantState.EXITED,
        "exit_trigger",
        now,
        HistoryOutcome.EXITED,
        {"trigger": event.trigger.key, "event": event.pk},
    )


def _finish(participant: Participant, state: str, reason: str, now: datetime, outcome: str, detail: dict) -> None:
    step = participant.current_step
    participant.state = state
    participant.exit_reason = reason
    participant.finished_at = now
    participant.wake_at = None
    _save(participant, ["state", "exit_reason", "finished_at", "wake_at"])
    if state != ParticipantState.COMPLETED:  # a completed journey's last message still goes
        _block_unsent_deliveries(Delivery.objects.filter(participant=participant), now)
    _history(participant, step, outcome, now, detail)
    transaction.on_commit(metrics.PARTICIPANTS_FINISHED.labels(state=state).inc)


def _block_unsent_deliveries(deliveries: QuerySet[Delivery], now: datetime) -> None:
    """Nothing queued for a participant is sent after it left.

    Held messages and queued ones no worker has claimed are blocked here. The claim in
    journeys.sending is a conditional UPDATE of the same row, so exactly one of the two wins:
    a message claimed first was being sent before the participant left (and is recorded as
    sent); one blocked first is never claimed. A queued message waiting for a retry is
    blocked by the dispatch itself, which re-checks the participant.
    """
    # An attempt whose claimer died (sending_started_at still set) may have been sent: it is
    # left to the sweep, which records it as unknown (at most once) or sends it (at least once).
    unclaimed = (
        Q(status=DeliveryStatus.QUEUED)
        & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        & Q(sending_started_at__isnull=True)
    )
    deliveries.filter(Q(status=DeliveryStatus.HELD) | unclaimed).update(
        status=DeliveryStatus.BLOCKED, reason="participant_left", next_attempt_at=None, updated_at=timezone.now()
    )


def stop_participants(participants: QuerySet[Participant], now: datetime) -> int:
    """A stopped journey ends every active participant, in batches (a journey may have many)."""
    stopped = 0
    while True:
        ids = list(participants.filter(state=ParticipantState.ACTIVE).values_list("pk", flat=True)[:1000])
        if not ids:
            return stopped
        rows = list(
            Participant.objects.filter(pk__in=ids, state=ParticipantState.ACTIVE).values_list("pk", "current_step_id")
        )
        Participant.objects.filter(pk__in=[pk for pk, _ in rows], state=ParticipantState.ACTIVE).update(
            state=ParticipantState.STOPPED, exit_reason="stopped", finished_at=now, wake_at=None
        )
        _block_unsent_deliveries(Delivery.objects.filter(participant_id__in=[pk for pk, _ in rows]), now)
        ParticipantHistory.objects.bulk_create(
            ParticipantHistory(participant_id=pk, step_id=step_id, outcome=HistoryOutcome.STOPPED, at=now)
            for pk, step_id in rows
        )
        stopped += len(rows)


def mark_goal_met(participant: Participant, event: Event, now: datetime) -> bool:
    """Count the goal once per participant; True when this event was the one."""
    changed = Participant.objects.filter(pk=participant.pk, goal_met_at__isnull=True).update(goal_met_at=now)
    if not changed:
        return False
    participant.goal_met_at = now
    _history(participant, participant.current_step, HistoryOutcome.GOAL_MET, now, {"event": event.pk})
    return True


def record_failure(participant: Participant, error: str, now: datetime) -> None:
    """Keep the participant where it is and try again later, backing off."""
    from datetime import timedelta

    attempts = participant.attempts + 1
    delay = min(FAILURE_BACKOFF_SECONDS * 2 ** (attempts - 1), FAILURE_BACKOFF_MAX_SECONDS)
    Participant.objects.filter(pk=participant.pk).update(
        attempts=attempts, last_error=error[:2000], wake_at=now + timedelta(seconds=delay)
    )
    _history(
        participant, participant.current_step, HistoryOutcome.ERROR, now, {"error": error[:500], "attempt": attempts}
    )


def create_delivery(
    participant: Participant,
    step: Step,
    *,
    address: str,
    status: str,
    reason: str,
    next_attempt_at: datetime | None,
    now: datetime,
) -> Delivery:
    """The participant's one delivery for this message step (unique in the schema); a
    queued one is handed to the workers after commit. In a sweep batch it is inserted with
    the batch's others, and has no id until then."""
    content = step.content
    delivery = Delivery(
        participant=participant,
        step=step,
        contact_id=participant.contact_id,
        channel=content.channel,
        content=content,
        commercial=content.purpose == "commercial",
        address=address,
        status=status,
        reason=reason,
        next_attempt_at=next_attempt_at,
        created_at=now,
    )
    writes = _writes.get()
    if writes is not None and writes.defer_deliveries:
        writes.deliveries.append(delivery)
        return delivery
    delivery.save(force_insert=True)
    if status == DeliveryStatus.QUEUED:
        enqueue_dispatch(delivery.pk)
    return delivery


def update_held_delivery(delivery: Delivery, *, status: str, reason: str, next_attempt_at: datetime | None) -> None:
    """A message held for quiet hours is released (queued, then handed to the workers after
    commit) or, on a second look, blocked."""
    Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.HELD).update(
        status=status, reason=reason, next_attempt_at=next_attempt_at, updated_at=timezone.now()
    )
    delivery.status, delivery.reason, delivery.next_attempt_at = status, reason, next_attempt_at
    if status == DeliveryStatus.QUEUED:
        enqueue_dispatch(delivery.pk)
