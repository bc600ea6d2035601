"""Every change of a participant's state, and nothing else.

Each function writes the participant row and its history row together, inside the caller's
transaction, on a participant the caller has locked (runtime and reactions take the row
lock). Nothing else in the code base saves a participant. A run passes its `Writes`, and
the rows are written when it flushes them; without one, at once.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from triggers.models import Event

from . import deliveries, metrics
from .holdout import group_for
from .inserts import insert_many, insert_unless_taken
from .models import (
    ONCE_EVER,
    Contact,
    Delivery,
    HistoryOutcome,
    JourneyVersion,
    Participant,
    ParticipantHistory,
    ParticipantState,
    Step,
)

# After a failure the participant is looked at again after this many seconds, doubling per
# attempt up to an hour: one broken row never crash-loops a worker.
FAILURE_BACKOFF_SECONDS = 30
FAILURE_BACKOFF_MAX_SECONDS = 3600


@dataclass
class Writes:
    """Rows held back until the end of a run or batch, then written at once (`flush`):
    participant updates, history rows and (with `deliveries`) new deliveries.

    A run through an email to a wait costs two statements, not five, and a batch of the
    sweep's participants two or three in all. With `deliveries`, new deliveries are inserted
    in one statement too; only for a batch whose sending decisions do not read the deliveries
    table meanwhile (the sweep's batches count the frequency cap in memory,
    journeys.policy.reads_for_batch; a group of events keeps what it read of a contact, and
    counts its messages, within each event, journeys.policy.forget_reads). Nothing reads these
    rows back inside the caller's transaction meanwhile (the caller holds their locks; a group
    of events flushes before a contact's next event). On an exception, do not flush: the
    transaction rolls back."""

    deliveries: bool = False
    fields: dict[int, tuple[Participant, set[str]]] = field(default_factory=dict)
    history: list[ParticipantHistory] = field(default_factory=list)
    new_deliveries: list[Delivery] = field(default_factory=list)
    # History rows whose detail names a delivery not inserted yet.
    naming_delivery: list[tuple[ParticipantHistory, Delivery]] = field(default_factory=list)

    def flush(self) -> None:
        if self.new_deliveries:
            insert_many(self.new_deliveries)  # sets their ids (RETURNING)
            for row, delivery in self.naming_delivery:
                row.detail["delivery"] = delivery.pk
            for delivery in self.new_deliveries:
                deliveries.queued(delivery)
            self.new_deliveries, self.naming_delivery = [], []
        # Participants of a batch mostly end up alike (same step, same wake-up time): one
        # UPDATE per distinct set of values, not one per row (and no CASE per row).
        groups: dict[tuple, list[int]] = {}
        for participant, names in self.fields.values():
            values = tuple(sorted(_column(participant, name) for name in names))
            groups.setdefault(values, []).append(participant.pk)
        for values, pks in groups.items():
            Participant.objects.filter(pk__in=pks).update(**dict(values))
        if self.history:
            insert_many(self.history)
        self.fields, self.history = {}, []


def _column(participant: Participant, name: str) -> tuple[str, object]:
    """Field `name` as (attribute, value) for an UPDATE (a foreign key by its id)."""
    attname: str = Participant._meta.get_field(name).attname  # type: ignore[union-attr]
    return attname, getattr(participant, attname)


def _save(participant: Participant, fields: list[str], writes: Writes | None) -> None:
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
    writes: Writes | None = None,
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
    writes: Writes | None = None,
) -> Participant | None:
    """Start a participant at the version's first step. None when the repeat policy's
    unique constraint says the contact is in (or was in) the journey already."""
    participant = _entering(version, contact, event, entry_key, binding_id, first_step, now)
    # The table's one unique key besides the id is that constraint
    # (participant_one_per_entry_key): ON CONFLICT DO NOTHING, no savepoint.
    if not insert_unless_taken(participant):
        return None
    _entered(participant, event, now, writes)
    return participant


class NewEntry(NamedTuple):
    """An entry of a contact created in this transaction (`enter_new_contacts`)."""

    version: JourneyVersion
    contact: Contact
    event: Event
    entry_key: str
    first_step: Step | None


def enter_new_contacts(entries: list[NewEntry], now: datetime, writes: Writes) -> list[Participant]:
    """`enter` for contacts created in this transaction, each into a journey at most once:
    one INSERT for all, in the order given. Nothing can stand in their way (no one else sees
    these contacts before the commit, so the repeat policy has nothing to refuse)."""
    participants = [
        _entering(e.version, e.contact, e.event, e.entry_key, e.event.binding_id, e.first_step, now) for e in entries
    ]
    if participants:
        insert_many(participants)
    for participant, entry in zip(participants, entries, strict=True):
        _entered(participant, entry.event, now, writes)
    return participants


def _entering(
    version: JourneyVersion,
    contact: Contact,
    event: Event | None,
    entry_key: str,
    binding_id: str,
    first_step: Step | None,
    now: datetime,
) -> Participant:
    return Participant(
        journey_id=version.journey_id,
        version=version,
        contact=contact,
        entry_event=event,
        entry_key=entry_key,
        binding_id=binding_id,
        entered_at=now,
        current_step=first_step,
        step_started_at=now,
        group=group_for(version, contact),
    )


def _entered(participant: Participant, event: Event | None, now: datetime, writes: Writes | None) -> None:
    _history(participant, None, HistoryOutcome.ENTERED, now, {"event": event.pk if event else None}, writes=writes)
    transaction.on_commit(metrics.PARTICIPANTS_ENTERED.inc)


def enter_many(
    *,
    version: JourneyVersion,
    contacts: list[Contact],
    entry_key: str,
    first_step: Step | None,
    now: datetime,
    writes: Writes | None = None,
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
        _entering(version, contact, None, entry_key, "", first_step, now)
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
                writes=writes,
            )
            if one is not None:
                entered.append(one)
        return entered
    for participant in rows:
        _history(participant, None, HistoryOutcome.ENTERED, now, {"event": None}, writes=writes)
    return rows


def arrive(participant: Participant, step: Step, now: datetime, *, writes: Writes | None = None) -> None:
    """Move to a step; the runtime then executes it."""
    participant.current_step = step
    participant.step_started_at = now
    participant.wake_at = None
    participant.attempts = 0
    participant.last_error = ""
    _save(participant, ["current_step", "step_started_at", "wake_at", "attempts", "last_error"], writes)


def wait_until(
    participant: Participant,
    step: Step,
    wake_at: datetime,
    now: datetime,
    outcome: str,
    detail: dict,
    delivery: Delivery | None = None,
    *,
    writes: Writes | None = None,
) -> None:
    """Stay at the step until `wake_at` (a wait, a wait-for limit, quiet hours)."""
    participant.wake_at = wake_at
    _save(participant, ["wake_at"], writes)
    _history(participant, step, outcome, now, {**detail, "until": wake_at.isoformat()}, delivery, writes)


def record(
    participant: Participant,
    step: Step,
    outcome: str,
    now: datetime,
    detail: dict | None = None,
    delivery: Delivery | None = None,
    *,
    writes: Writes | None = None,
) -> None:
    """A step's outcome that does not change where the participant is (sent, yes, no, path)."""
    _history(participant, step, outcome, now, detail, delivery, writes)


def complete(participant: Participant, now: datetime, *, writes: Writes | None = None) -> None:
    _finish(participant, ParticipantState.COMPLETED, "completed", now, HistoryOutcome.COMPLETED, {}, writes)


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


def _finish(
    participant: Participant,
    state: str,
    reason: str,
    now: datetime,
    outcome: str,
    detail: dict,
    writes: Writes | None = None,
) -> None:
    step = participant.current_step
    participant.state = state
    participant.exit_reason = reason
    participant.finished_at = now
    participant.wake_at = None
    _save(participant, ["state", "exit_reason", "finished_at", "wake_at"], writes)
    if state != ParticipantState.COMPLETED:  # a completed journey's last message still goes
        deliveries.block_unsent(Delivery.objects.filter(participant=participant), now)
    _history(participant, step, outcome, now, detail, writes=writes)
    transaction.on_commit(metrics.PARTICIPANTS_FINISHED.labels(state=state).inc)


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
        deliveries.block_unsent(Delivery.objects.filter(participant_id__in=[pk for pk, _ in rows]), now)
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
