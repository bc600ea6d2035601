"""What an accepted event does to journeys: goals, exits, wait-for Yes paths, and entries.

A group of events is processed in one transaction that ends by marking them processed, so a
task that runs twice (or a sweep that re-drives a lost one) does nothing the second time.
Participants are locked in id order before they change, so two events for the same
contact take turns instead of deadlocking.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from triggers.models import Event

from . import transitions
from .conditions import all_hold
from .contacts import contacts_of_group, update_contact, upsert_contact_created
from .entry import Candidate, admit
from .models import (
    ONCE_EVER,
    Contact,
    JourneyStatus,
    JourneyVersion,
    Participant,
    ParticipantState,
    RepeatPolicy,
    VersionState,
)
from .policy import contact_created, forget_reads, policies_read_once
from .runtime import advance, awaiting_kinds, plan_for, react_at_step
from .segments import segments_read_once
from .transitions import Writes

logger = logging.getLogger(__name__)

# Goal events count for participants who left at most this long ago, whatever a version's
# own window (bounds the query; versions set windows up to 90 days).
LONGEST_GOAL_WINDOW = timedelta(days=90)


# Events of one task are processed in transactions of up to this many: one commit (one
# WAL flush) for the group instead of one per event.
EVENTS_PER_TRANSACTION = 50


def process_events(event_ids: list[int], failed: set[int] | None = None) -> int:
    """Process the events in order; returns how many were processed now. An event that
    fails is rolled back, added to `failed` (so the caller's drain does not take it again)
    and left for the sweep; the others go on."""
    failed = set() if failed is None else failed
    processed = 0
    for start in range(0, len(event_ids), EVENTS_PER_TRANSACTION):
        group = event_ids[start : start + EVENTS_PER_TRANSACTION]
        with transaction.atomic():
            processed += _take_and_process(Event.objects.filter(pk__in=group), len(group), failed)[1]
    return processed


# Inside _read_once: the journeys each trigger starts, by trigger id; None outside.
_versions_of_block: ContextVar[dict[int, list[JourneyVersion]] | None] = ContextVar("started_versions", default=None)


@contextmanager
def _read_once() -> Iterator[None]:
    """Within a group of events (one transaction): the sending policies, the condition
    segments and the journeys each trigger starts are read once, not once per event."""
    token = _versions_of_block.set({})
    try:
        with policies_read_once(), segments_read_once():
            yield
    finally:
        _versions_of_block.reset(token)


def process_waiting(limit: int, failed: set[int]) -> tuple[int, int]:
    """Take up to `limit` of the oldest events no task has processed yet and process them in
    one transaction; returns (taken, processed now).

    They are locked as they are taken, skipping those another worker holds (PostgreSQL), so
    two workers draining at once share the backlog instead of both waiting for its head.
    Events that fail are added to `failed` and not taken again by the same drain (the sweep
    re-drives them), so a few broken events at the head cannot stall the ones behind."""
    with transaction.atomic():
        return _take_and_process(Event.objects.exclude(pk__in=failed), limit, failed)


def _unprocessed(events: QuerySet[Event]) -> QuerySet[Event]:
    """The unprocessed ones of `events`, oldest first, locked as they are read; those another
    worker holds are skipped (it processes them). SQLite has no row locks but one writer, and
    its transactions take the write lock as they begin (IMMEDIATE): the read is a claim too."""
    skip_locked = connection.features.has_select_for_update_skip_locked
    return (
        events.filter(processed_at__isnull=True)
        .order_by("received_at", "pk")
        .select_for_update(skip_locked=skip_locked, of=("self",))
    )


def _take_and_process(events: QuerySet[Event], limit: int, failed: set[int]) -> tuple[int, int]:
    """Lock and load up to `limit` unprocessed `events`, process them, and mark those that went
    through processed in one UPDATE; returns (taken, processed). Inside the caller's
    transaction: the locking read is the claim.

    The events are processed in contact-key order, each contact's in the order received (a
    stable sort of the oldest-first read): the group creates and locks its contacts, and the
    participants under them, in key order, so two workers whose groups share contacts take
    them in the same order and wait for each other instead of deadlocking on the contact's
    unique key. Events of different contacts do not depend on each other's order.

    The group is processed together first (`_react_together`: its rows written in a few
    statements, at one moment `now`); if that fails it is rolled back and its events are
    processed one by one, each in a savepoint, so a failing event is left for the sweep
    without the others (one that failed together is not tried again)."""
    taken = sorted(_unprocessed(events).select_related("trigger")[:limit], key=_contact_key)
    if not taken:
        return 0, 0
    now = timezone.now()
    try:
        with transaction.atomic(), _read_once():
            _react_together(taken, now)
        done = taken
    except _EventFailed as failure:
        logger.exception("processing event %s failed", failure.event.pk)
        failed.add(failure.event.pk)
        done = _react_one_by_one([e for e in taken if e.pk != failure.event.pk], now, failed)
    except Exception:
        logger.exception("processing a group of %s events failed: processing them one by one", len(taken))
        done = _react_one_by_one(taken, now, failed)
    Event.objects.filter(pk__in=[event.pk for event in done]).update(processed_at=timezone.now())
    return len(taken), len(done)


def _contact_key(event: Event) -> str:
    return event.contact_key


class _EventFailed(Exception):
    """Processing `event` raised (the cause) inside a group processed together."""

    def __init__(self, event: Event) -> None:
        super().__init__(f"event {event.pk}")
        self.event = event


@dataclass
class _Group:
    """A group of events processed together: its contacts, read and created up front, and the
    rows its runs write, held until the group ends or one of the contacts it touched comes
    again (its next event must read them)."""

    contacts: dict[str, Contact]
    # Contact id -> the event it was created by (that event's fields created it).
    created_by: dict[str, int]
    writes: Writes = field(default_factory=lambda: Writes(deliveries=True))
    # Entries of contacts created by the group: inserted together, then run, as it settles.
    entries: list[transitions.NewEntry] = field(default_factory=list)

    def settle(self, now: datetime) -> None:
        """Insert the held entries (one statement), run them, and write the group's rows."""
        entries, self.entries = self.entries, []
        participants = transitions.enter_new_contacts(entries, now, self.writes)
        for participant, entry in zip(participants, entries, strict=True):
            try:
                advance(participant, now, arrived=True, writes=self.writes)
            except Exception as error:
                raise _EventFailed(entry.event) from error
        self.writes.flush()


_group: ContextVar[_Group | None] = ContextVar("event_group", default=None)


def _react_together(events: list[Event], now: datetime) -> None:
    """React to the group's events (sorted by contact) in the caller's transaction, with the
    statements shared: one SELECT and one INSERT for the group's contacts, and the runs' new
    deliveries, participant updates and history in one flush for the group (or one per
    stretch of it, when a contact has several events). Raises `_EventFailed` naming the
    event whose reaction failed."""
    first_fields: dict[str, dict | None] = {}
    first_event: dict[str, int] = {}
    for event in events:
        first_fields.setdefault(event.contact_key, event.contact)
        first_event.setdefault(event.contact_key, event.pk)
    contacts, created = contacts_of_group(first_fields)
    for key in created:
        contact_created(contacts[key].pk)  # no consent or delivery to read for it
    group = _Group(contacts, {key: first_event[key] for key in created})
    token = _group.set(group)
    try:
        previous = None
        for event in events:
            if event.contact_key == previous:
                group.settle(now)  # its earlier event's rows, before this one reads them
            previous = event.contact_key
            try:
                react(event, now)
            except Exception as error:
                raise _EventFailed(event) from error
        group.settle(now)
    finally:
        _group.reset(token)


def _react_one_by_one(events: list[Event], now: datetime, failed: set[int]) -> list[Event]:
    """Each event in its own savepoint, its rows written as it goes; returns those processed.
    The group's reads start afresh (what was counted before the rollback is gone)."""
    done = []
    with _read_once():
        for event in events:
            try:
                with transaction.atomic():
                    react(event, now)
                done.append(event)
            except Exception:
                logger.exception("processing event %s failed", event.pk)
                failed.add(event.pk)
    return done


def process_event(event_id: int, now: datetime | None = None) -> bool:
    with transaction.atomic():
        # Another worker processing the same event holds its lock: skip rather than wait.
        skip_locked = connection.features.has_select_for_update_skip_locked
        claim = Event.objects.filter(pk=event_id, processed_at__isnull=True).select_for_update(
            skip_locked=skip_locked, of=("self",)
        )
        event = claim.select_related("trigger").first()
        if event is None:
            return False
        now = now or timezone.now()
        react(event, now)
        Event.objects.filter(pk=event.pk).update(processed_at=now)
    return True


def react(event: Event, now: datetime) -> None:
    """Everything one event does, in the caller's transaction: its contact, then goals,
    exits, Yes paths and entries. Inside a group processed together, its contact comes from
    the group and its runs' rows join the group's writes."""
    group = _group.get()
    contact, created = _contact_of(event, group)
    writes = group.writes if group is not None else None
    if not created:  # a contact first seen in this event is in no journey yet
        forget_reads(contact.pk)  # its consent and cap are read afresh for this event
        _count_goals(event, contact, now)
        _exit_participants(event, contact, now)
        _take_yes_paths(event, contact, now, writes)
    _enter_journeys(event, contact, now, group, created)


def _contact_of(event: Event, group: _Group | None) -> tuple[Contact, bool]:
    """The event's contact, updated with its fields, and whether this event created it."""
    if group is None:
        contact, created = upsert_contact_created(event.contact_key, event.contact)
        if created:
            contact_created(contact.pk)  # no consent or delivery to read for it
        return contact, created
    contact = group.contacts[event.contact_key]
    if group.created_by.get(event.contact_key) == event.pk:
        return contact, True
    update_contact(contact, event.contact)
    return contact, False


def _same_binding(participant: Participant, event: Event) -> bool:
    """Later triggers reach an instance when its binding matches, or when either has none."""
    return not (participant.binding_id and event.binding_id and participant.binding_id != event.binding_id)


def _locked(queryset) -> list[Participant]:
    return list(queryset.select_for_update(of=("self",)).order_by("pk"))


def _count_goals(event: Event, contact: Contact, now: datetime) -> None:
    candidates = Participant.objects.filter(
        contact=contact,
        goal_met_at__isnull=True,
        version__goal_trigger=event.trigger_id,
        entered_at__lte=event.received_at,
    ).filter(Q(state=ParticipantState.ACTIVE) | Q(finished_at__gte=event.received_at - LONGEST_GOAL_WINDOW))
    for participant in candidates.select_related("version", "current_step"):
        if participant.finished_at and participant.finished_at < event.received_at - participant.version.goal_window:
            continue
        if _same_binding(participant, event):
            transitions.mark_goal_met(participant, event, now)


def _exit_participants(event: Event, contact: Contact, now: datetime) -> None:
    active = Participant.objects.filter(
        contact=contact, state=ParticipantState.ACTIVE, version__exit_triggers=event.trigger_id
    ).select_related("current_step")
    for participant in _locked(active):
        if participant.state == ParticipantState.ACTIVE and _same_binding(participant, event):
            transitions.exit_journey(participant, event, now)


def _take_yes_paths(event: Event, contact: Contact, now: datetime, writes: Writes | None) -> None:
    """Participants waiting at a step for this event's trigger (a wait-for): its kind decides."""
    waiting = Participant.objects.filter(
        contact=contact,
        state=ParticipantState.ACTIVE,
        current_step__kind__in=awaiting_kinds(),
        current_step__trigger=event.trigger_id,
        journey__status__in=[JourneyStatus.LIVE, JourneyStatus.PAUSED],
    ).select_related("version", "contact", "entry_event", "current_step")
    for participant in _locked(waiting):
        step = plan_for(participant.version).steps[participant.current_step_id or 0]
        if _still_there(participant, step, event):
            react_at_step(participant, step, event, now, writes=writes)


def _still_there(participant: Participant, step, event: Event) -> bool:
    """Whether the participant still waits at `step` for events of its binding."""
    if participant.state != ParticipantState.ACTIVE or participant.current_step_id != step.pk:
        return False
    return _same_binding(participant, event)


def _entry_key(version: JourneyVersion, event: Event) -> str:
    if version.repeat == RepeatPolicy.NEVER:
        return ONCE_EVER
    if version.repeat == RepeatPolicy.IMMEDIATELY:
        return f"binding:{event.binding_id}" if event.binding_id else f"event:{event.pk}"
    return ""


def _started_by(trigger_id: int) -> list[JourneyVersion]:
    """The live journeys' published versions that `trigger_id` starts."""
    held = _versions_of_block.get()
    if held is not None and trigger_id in held:
        return held[trigger_id]
    versions = list(
        JourneyVersion.objects.filter(
            state=VersionState.PUBLISHED, journey__status=JourneyStatus.LIVE, start_trigger=trigger_id
        )
        .select_related("journey")
        .prefetch_related("exclude_segments")
    )
    if held is not None:
        held[trigger_id] = versions
    return versions


def _enter_journeys(event: Event, contact: Contact, now: datetime, group: _Group | None, created: bool) -> None:
    for version in _started_by(event.trigger_id):
        # A journey reacts to events received after it went live.
        if version.published_at is None or version.published_at > event.received_at:
            continue
        if not all_hold(version.start_conditions, event.attributes):
            continue
        entry_key, first_step = _entry_key(version, event), plan_for(version).first_step
        if _has_entry_controls(version):
            # Exclusions, window and hourly limit (journeys.entry); held people enter later.
            # Its sending decisions read the contact's deliveries, and count apart from ours.
            if group is not None:
                group.settle(now)
            admit(version, [Candidate(contact, entry_key, event, event.binding_id)], now)
            forget_reads(contact.pk)
            continue
        if group is not None and created:
            # Entered with the group's other new contacts, in one INSERT, as it settles.
            group.entries.append(transitions.NewEntry(version, contact, event, entry_key, first_step))
            continue
        # "entered" joins the run's one history INSERT (the group's, in a group).
        writes = group.writes if group is not None else Writes()
        participant = transitions.enter(
            version=version,
            contact=contact,
            event=event,
            entry_key=entry_key,
            binding_id=event.binding_id,
            first_step=first_step,
            now=now,
            writes=writes,
        )
        if participant is not None:
            advance(participant, now, arrived=True, writes=writes)
        if group is None:
            writes.flush()


def _has_entry_controls(version: JourneyVersion) -> bool:
    # The exclusions are a many-to-many: prefetched with the versions (one query per event
    # that starts a journey, none on the version row itself).
    return bool(
        version.entry_starts_at or version.entry_ends_at or version.entry_per_hour or version.exclude_segments.all()
    )
