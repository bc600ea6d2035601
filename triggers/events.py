"""Storing events: the one place that writes the event store.

The REST API, the Segment endpoints and the product's own interaction triggers (opens,
clicks, deliveries) all come through here, so idempotency and the after-commit announcement
work the same way for every source.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from .models import Event, Trigger
from .signals import events_stored
from .validation import ValidatedEvent

INTERNAL_SOURCE = "internal"


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"


@dataclass(frozen=True)
class Stored:
    """What happened to one validated event: stored now, stored before, or a conflicting body."""

    outcome: Outcome
    id: int
    event_id: str | None


def announce_after_commit(event_ids: list[int]) -> None:
    """Tell listeners (the journeys app) about new events once they are durably stored."""
    if event_ids:
        # robust: the events are stored whatever a listener does (a broker outage must not
        # turn a stored event into a 500 and a retry); the journeys sweep finds unprocessed
        # events that no task announced.
        transaction.on_commit(lambda: events_stored.send(sender=Event, event_ids=list(event_ids)), robust=True)


def raise_internal(
    trigger_key: str,
    *,
    contact_key: str,
    attributes: Mapping[str, Any],
    event_id: str,
    binding_id: str = "",
    timestamp: datetime | None = None,
) -> Event | None:
    """Raise a built-in interaction trigger (email_opened, …) for a contact.

    `event_id` makes it idempotent: raising the same interaction twice (a second open of the
    same email) stores nothing and returns None.
    """
    trigger = Trigger.objects.get(key=trigger_key)
    try:
        with transaction.atomic():
            event = Event.objects.create(
                trigger=trigger,
                source=INTERNAL_SOURCE,
                event_id=event_id,
                contact_key=contact_key,
                attributes=dict(attributes),
                binding_id=binding_id,
                timestamp=timestamp,
                received_at=timezone.now(),
            )
    except IntegrityError:
        if Event.objects.filter(source=INTERNAL_SOURCE, event_id=event_id).exists():
            return None
        raise
    announce_after_commit([event.pk])
    return event


# Columns written by the public API, in the order of the INSERT below.
_COLUMNS = (
    "trigger",
    "source",
    "event_id",
    "contact_key",
    "contact",
    "attributes",
    "binding_id",
    "timestamp",
    "received_at",
    "body_hash",
    "hops",
)


def store_events(source: str, events: Sequence[ValidatedEvent]) -> list[Stored]:
    """Store validated events from one source at once; the public API's entry point.

    Idempotency is the database's job: the rows go in with one `INSERT … ON CONFLICT DO NOTHING
    RETURNING` (one statement: all of them or none), so an event whose (source, event_id)
    exists is skipped by the unique constraint even when two requests race (PostgreSQL makes
    the second wait for the first to commit).
    Skipped events are then read back: the same body is a duplicate, another body a conflict.
    Only the newly stored events are announced, after commit. Results follow `events`' order.
    """
    if not events:
        return []
    # No transaction.atomic() around this: the single INSERT statement is atomic on its own,
    # and the rows _classify reads back were committed by whoever inserted them (ON CONFLICT
    # waits for that). Outside a transaction it commits in the INSERT's round trip, where
    # BEGIN/COMMIT would add two to every request. Inside one (a caller's), it joins it and
    # the announcement waits for that commit.
    inserted = _insert_ignoring_conflicts(source, events, timezone.now())
    results = _classify(source, events, inserted)
    announce_after_commit([r.id for r in results if r.outcome is Outcome.ACCEPTED])
    return results


def _insert_ignoring_conflicts(
    source: str, events: Sequence[ValidatedEvent], received_at: datetime
) -> dict[str | int, int]:
    """Insert, skipping events that break the (source, event_id) constraint.

    Returns the new ids, keyed by event_id, or by position for events without an event_id.
    """
    columns: list[list[Any]] = [
        [event.trigger_id for event in events],
        [source] * len(events),
        [event.event_id for event in events],
        [event.contact_key for event in events],
        [event.contact for event in events],
        [event.attributes for event in events],
        [event.binding_id for event in events],
        [event.timestamp for event in events],
        [received_at] * len(events),
        [event.body_hash for event in events],
        [event.hops for event in events],
    ]
    if connection.vendor == "postgresql":
        sql, params = _insert_sql_postgresql(columns)
    else:
        sql, params = _insert_sql_generic(columns)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        returned = cursor.fetchall()
    inserted: dict[str | int, int] = {pk_event_id: pk for pk, pk_event_id in returned if pk_event_id is not None}
    # RETURNING's row order is not promised, but ids grow in the order rows are inserted:
    # sorted, they pair with the positions of the events that had no event_id.
    anonymous_ids = sorted(pk for pk, event_id in returned if event_id is None)
    positions = [index for index, event in enumerate(events) if event.event_id is None]
    inserted.update(zip(positions, anonymous_ids, strict=True))
    return inserted


def _insert_sql_generic(columns: list[list[Any]]) -> tuple[str, list[Any]]:
    """One multi-row INSERT … VALUES, values prepared by the model's fields (SQLite)."""
    fields = [Event._meta.get_field(name) for name in _COLUMNS]
    quote = connection.ops.quote_name
    rows = [
        [field.get_db_prep_save(value, connection) for field, value in zip(fields, row, strict=True)]  # type: ignore[union-attr]  # concrete fields
        for row in zip(*columns, strict=True)
    ]
    placeholders = ", ".join(["(" + ", ".join(["%s"] * len(fields)) + ")"] * len(rows))
    # Both PostgreSQL and SQLite (3.35+) support ON CONFLICT DO NOTHING … RETURNING.
    sql = (
        f"INSERT INTO {quote(Event._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # type: ignore[union-attr, arg-type]  # concrete fields
        f"VALUES {placeholders} ON CONFLICT DO NOTHING RETURNING {quote('id')}, {quote('event_id')}"
    )
    return sql, [value for row in rows for value in row]


# PostgreSQL type of each column, in _COLUMNS' order.
_PG_TYPES = (
    "bigint",
    "text",
    "text",
    "text",
    "jsonb",
    "jsonb",
    "text",
    "timestamptz",
    "timestamptz",
    "text",
    "smallint",
)


def _insert_sql_postgresql(columns: list[list[Any]]) -> tuple[str, list[Any]]:
    """INSERT … SELECT FROM json_to_recordset(rows): one parameter whatever the number of rows.

    A 500-row VALUES list has 5,000 placeholders for the driver to parse and the field
    machinery to prepare, which cost more than the INSERT; the rows as one JSON document
    (encoded in C by json.dumps, parsed in C by PostgreSQL) cost a fraction. WITH ORDINALITY
    and ORDER BY keep the rows, and so their new ids, in the order of `events`.
    """
    names = _record_names()
    rows = [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
    return _recordset_insert_sql(), [json.dumps(rows, default=_isoformat)]


def _record_names() -> list[str]:
    return [f"c{index}" for index in range(len(_COLUMNS))]


@cache
def _recordset_insert_sql() -> str:
    # The same text for every request (built once per process: it was 4 % of a single event's CPU).
    fields = [Event._meta.get_field(name) for name in _COLUMNS]
    quote = connection.ops.quote_name
    names = _record_names()
    definition = ", ".join(f"{name} {type_}" for name, type_ in zip(names, _PG_TYPES, strict=True))
    return (
        f"INSERT INTO {quote(Event._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # type: ignore[union-attr, arg-type]  # concrete fields
        f"SELECT {', '.join(names)} FROM ROWS FROM (json_to_recordset(%s::json) AS ({definition})) "
        f"WITH ORDINALITY AS rows({', '.join(names)}, position) "
        f"ORDER BY position ON CONFLICT DO NOTHING RETURNING {quote('id')}, {quote('event_id')}"
    )


def _isoformat(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()  # Aware datetimes: PostgreSQL reads the offset.
    raise TypeError(f"Cannot store {type(value).__name__} in an event row.")


def _classify(source: str, events: Sequence[ValidatedEvent], inserted: dict[str | int, int]) -> list[Stored]:
    skipped = {e.event_id for e in events if e.event_id is not None and e.event_id not in inserted}
    existing = {}
    if skipped:  # The usual case is none: no query then.
        existing = {
            event_id: (pk, body_hash)
            for pk, event_id, body_hash in Event.objects.filter(source=source, event_id__in=skipped).values_list(
                "id", "event_id", "body_hash"
            )
        }
    results: list[Stored] = []
    claimed: set[str] = set()
    for index, event in enumerate(events):
        if event.event_id is None:
            results.append(Stored(Outcome.ACCEPTED, inserted[index], None))
        elif event.event_id in inserted and event.event_id not in claimed:
            # The first of repeated event ids within one request is the stored one.
            claimed.add(event.event_id)
            results.append(Stored(Outcome.ACCEPTED, inserted[event.event_id], event.event_id))
        else:
            pk, stored_hash = existing.get(event.event_id) or _same_request(events, index, inserted)
            outcome = Outcome.DUPLICATE if stored_hash == event.body_hash else Outcome.CONFLICT
            results.append(Stored(outcome, pk, event.event_id))
    return results


def _same_request(events: Sequence[ValidatedEvent], index: int, inserted: dict[str | int, int]) -> tuple[int, str]:
    """The earlier event of this request that took this event_id."""
    event_id = events[index].event_id
    first = next(e for e in events[:index] if e.event_id == event_id)
    return inserted[event_id], first.body_hash  # type: ignore[index]  # only called for an event with an event_id
