"""Every change of a delivery, and the table of the status changes allowed.

A delivery is created by the runtime (a message step), claimed and sent by journeys.sending,
and moved on by provider callbacks, opens and clicks (journeys.tracking); each of them asks
this module. Every status change goes through `_move`, a conditional UPDATE from the statuses
the caller expects: a row another writer moved first is left alone (exactly one of two racing
writers wins), and a change the table does not allow raises `ForbiddenTransition` before
anything is written.
"""

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import F, Field, Q, QuerySet
from django.utils import timezone

from .inserts import prepared
from .models import WEBHOOK, Delivery, DeliveryStatus
from .queue import enqueue_dispatch, take_claim

if TYPE_CHECKING:
    from .models import Participant, Step
    from .transitions import Writes

logger = logging.getLogger(__name__)
S = DeliveryStatus

# status -> the statuses it may move to. Staying queued is a change too: a claim takes a
# lease, a transient error schedules a retry.
TRANSITIONS: dict[str, frozenset[str]] = {
    # Held for quiet hours: released (queued) or, on a second look, blocked, or expired (its
    # step's expires_after passed before the quiet hours ended).
    S.HELD: frozenset({S.QUEUED, S.BLOCKED, S.EXPIRED}),
    # Queued: sent, or never (blocked, failed). A queued delivery that gets news from the
    # provider (the process died between the provider's accept and recording "sent") moves
    # forward too, so it is never sent again.
    # A queued message whose expires_after passes before it goes out (a retry or a re-drive
    # after it) expires instead.
    S.QUEUED: frozenset(
        {S.QUEUED, S.SENT, S.BLOCKED, S.FAILED, S.DELIVERED, S.OPENED, S.CLICKED, S.BOUNCED, S.UNKNOWN, S.EXPIRED}
    ),
    # After the provider took it, status only moves forward; text and push fail where email bounces.
    S.SENT: frozenset({S.DELIVERED, S.OPENED, S.CLICKED, S.BOUNCED, S.FAILED}),
    S.DELIVERED: frozenset({S.OPENED, S.CLICKED, S.BOUNCED, S.FAILED}),
    S.OPENED: frozenset({S.CLICKED}),
    S.CLICKED: frozenset(),
    S.BOUNCED: frozenset(),
    S.BLOCKED: frozenset(),
    S.FAILED: frozenset(),
    # A worker stopped during the send and the guarantee is at most once: never sent again,
    # left for an operator to look at.
    S.UNKNOWN: frozenset(),
    # Never sent: the message was too late.
    S.EXPIRED: frozenset(),
}

# Longer than any provider call (PROVIDER_TIMEOUT) so a slow send is never claimed twice;
# DELIVERY_LEASE_SECONDS overrides it (the chaos suite shortens it to see outcomes sooner).
LEASE = timedelta(minutes=5)
AT_MOST_ONCE = "at-most-once"
AT_LEAST_ONCE = "at-least-once"
UNKNOWN_REASON = "a worker stopped during the send; not sent again (DELIVERY_GUARANTEE=at-most-once)"


def lease() -> timedelta:
    seconds = getattr(settings, "DELIVERY_LEASE_SECONDS", None)
    return timedelta(seconds=seconds) if seconds else LEASE


def at_most_once() -> bool:
    return getattr(settings, "DELIVERY_GUARANTEE", AT_MOST_ONCE) != AT_LEAST_ONCE


class ForbiddenTransition(ValueError):
    """A status change the TRANSITIONS table does not allow (a bug in the caller)."""


def allowed(source: str, target: str) -> bool:
    return target in TRANSITIONS.get(source, frozenset())


def _move(deliveries: QuerySet[Delivery], source: Iterable[str], target: str, **fields: Any) -> int:
    """The one writer of a delivery's status: move the rows still in one of `source` to
    `target`, with `fields`. Returns how many rows moved."""
    source = list(source)
    forbidden = [s for s in source if not allowed(s, target)]
    if forbidden:
        raise ForbiddenTransition(f"a delivery cannot go from {', '.join(forbidden)} to {target}")
    return deliveries.filter(status__in=source).update(status=target, updated_at=timezone.now(), **fields)


def _move_each(moves: Mapping[int, tuple[str, dict[str, Any]]], source: Iterable[str]) -> int:
    """`_move` for a few rows in one UPDATE, each row (by id) to its own status with its own
    fields: a CASE on the id per column, the columns a row does not name left as they are.
    The rows still in one of `source` move together (one statement, one instant). Returns
    how many moved.

    The sending loop's statement: written as SQL here, once per shape (which row sets which
    columns), not compiled by the ORM per message (resolving a CASE of When(pk=…) per column
    cost more CPU than the send it records).

    A row that only notes its attempt started (`_bookkeeping`) keeps its `updated_at`:
    analytics counts nothing that changed, and with no indexed column changed PostgreSQL
    updates the row in place (a HOT update: none of the table's eight indexes written)."""
    source = list(source)
    for target, _ in moves.values():
        forbidden = [s for s in source if not allowed(s, target)]
        if forbidden:
            raise ForbiddenTransition(f"a delivery cannot go from {', '.join(forbidden)} to {target}")
    now = timezone.now()
    rows = [
        (
            pk,
            {"status": target, **fields}
            if _bookkeeping(target, fields)
            else {"status": target, **fields, "updated_at": now},
        )
        for pk, (target, fields) in moves.items()
    ]
    sql, columns = _move_each_statement(tuple(tuple(fields) for _, fields in rows), len(source))
    own = connections[DEFAULT_DB_ALIAS]
    params: list[Any] = []
    for field, setting in columns:
        for index in setting:
            pk, fields = rows[index]
            params += [pk, prepared(field, fields[field.name], own)]
    params += [pk for pk, _ in rows]
    params += source
    with own.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


# Columns no figure counts: a move that sets only these (and stays queued) is not a change
# for analytics (analytics.rollup finds changed deliveries by updated_at).
_BOOKKEEPING = frozenset({"sending_started_at"})


def _bookkeeping(target: str, fields: Mapping[str, Any]) -> bool:
    return target == S.QUEUED and fields.keys() <= _BOOKKEEPING


@lru_cache(maxsize=64)
def _move_each_statement(shape: tuple[tuple[str, ...], ...], sources: int) -> tuple[str, list[tuple[Field, list[int]]]]:
    """The UPDATE for rows that set these columns (`shape`: each row's field names, in order)
    from `sources` statuses, and for each column its field and the rows (by position) that
    set it, in the order of the statement's parameters."""
    quote, meta = connection.ops.quote_name, Delivery._meta
    id_column = quote(meta.pk.column)  # type: ignore[union-attr]  # a model has a primary key
    assignments, columns = [], []
    for name in dict.fromkeys(name for names in shape for name in names):
        field = meta.get_field(name)
        assert isinstance(field, Field), name
        setting = [index for index, names in enumerate(shape) if name in names]
        whens = " ".join([f"WHEN {id_column} = %s THEN %s"] * len(setting))
        column = quote(field.column)
        assignments.append(f"{column} = CASE {whens} ELSE {column} END")
        columns.append((field, setting))
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {', '.join(assignments)} "
        f"WHERE {id_column} IN ({', '.join(['%s'] * len(shape))}) "
        f"AND {quote('status')} IN ({', '.join(['%s'] * sources)})"
    )
    return sql, columns


def _one(delivery_id: int) -> QuerySet[Delivery]:
    return Delivery.objects.filter(pk=delivery_id)


# --- Created by the runtime ----------------------------------------------------------------------


def create(
    participant: "Participant",
    step: "Step",
    *,
    address: str,
    status: str,
    reason: str,
    next_attempt_at: datetime | None,
    now: datetime,
    writes: "Writes | None" = None,
) -> Delivery:
    """The participant's one delivery for this message (or webhook) step (unique in the
    schema); a queued one is handed to the workers after commit. With `writes` that batches
    deliveries (a sweep batch) it is inserted with the batch's others, and has no id until
    then. A message that is already too late (its expires_after passed) starts expired.

    A queued one that this worker will send itself right after the commit (queue.take_claim)
    is inserted claimed, as `claim` would leave it (one attempt, leased): the claim's UPDATE
    is spared, and if the worker dies before sending it the sweep claims it after the lease,
    as any claim whose sender died."""
    if status not in (S.QUEUED, S.HELD, S.BLOCKED, S.EXPIRED):
        raise ForbiddenTransition(f"a delivery cannot start as {status}")
    claimed = status == S.QUEUED and next_attempt_at is None and take_claim()
    content = step.content
    if step.kind == WEBHOOK:
        channel, commercial = WEBHOOK, False
    else:
        assert content is not None, "a message step has content (a check constraint)"
        channel, commercial = content.channel, content.purpose == "commercial"
    delivery = Delivery(
        participant=participant,
        step=step,
        contact_id=participant.contact_id,
        channel=channel,
        content=content if channel != WEBHOOK else None,
        commercial=commercial,
        address=address,
        status=status,
        reason=reason,
        next_attempt_at=now + lease() if claimed else next_attempt_at,
        attempts=1 if claimed else 0,
        created_at=now,
    )
    if writes is not None and writes.deliveries:
        writes.new_deliveries.append(delivery)
        return delivery
    delivery.save(force_insert=True)
    queued(delivery)
    return delivery


def queued(delivery: Delivery) -> None:
    """Hand a delivery `create` just inserted to the workers after commit, if it is queued
    (with the lease it was inserted with, when it was claimed: a new row has an attempt only then)."""
    if delivery.status == S.QUEUED:
        enqueue_dispatch(delivery.pk, claimed_until=delivery.next_attempt_at if delivery.attempts else None)


def still_claimed(claimed: Mapping[int, datetime], now: datetime) -> Q:
    """The deliveries among `claimed` (id -> the lease their INSERT wrote, queue.Collected)
    that are still this sender's: queued, not started, with that very lease, not over. A row
    whose lease ran out is the sweep's to claim again (then its lease is another), and an id
    that names another row (SQLite may give a rolled-back row's id again) has another lease."""
    by_lease: dict[datetime, list[int]] = {}
    for pk, until in claimed.items():
        if until > now:
            by_lease.setdefault(until, []).append(pk)
    ours = Q(pk__in=[])
    for until, pks in by_lease.items():
        ours |= Q(pk__in=pks, next_attempt_at=until)
    return ours & Q(status=S.QUEUED, sending_started_at__isnull=True)


def release_held(delivery: Delivery, *, status: str, reason: str, next_attempt_at: datetime | None) -> None:
    """A message held for quiet hours is released (queued, then handed to the workers after
    commit) or, on a second look, blocked, or expired (too late to go out)."""
    _move(_one(delivery.pk), [S.HELD], status, reason=reason, next_attempt_at=next_attempt_at)
    delivery.status, delivery.reason, delivery.next_attempt_at = status, reason, next_attempt_at
    if status == S.QUEUED:
        enqueue_dispatch(delivery.pk)


def block_unsent(deliveries: QuerySet[Delivery], now: datetime) -> None:
    """Nothing queued for a participant is sent after it left.

    Held messages and queued ones no worker has claimed are blocked here. The claim is a
    conditional UPDATE of the same row, so exactly one of the two wins: a message claimed
    first was being sent before the participant left (and is recorded as sent); one blocked
    first is never claimed. A queued message waiting for a retry is blocked by the dispatch
    itself, which re-checks the participant.
    """
    # An attempt whose claimer died (sending_started_at still set) may have been sent: it is
    # left to the sweep, which records it as unknown (at most once) or sends it (at least once).
    unclaimed = (
        Q(status=S.QUEUED)
        & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        & Q(sending_started_at__isnull=True)
    )
    _move(
        deliveries.filter(Q(status=S.HELD) | unclaimed),
        [S.HELD, S.QUEUED],
        S.BLOCKED,
        reason="participant_left",
        next_attempt_at=None,
    )


# --- Sending (journeys.sending) --------------------------------------------------------------------


def _due(now: datetime) -> Q:
    """Due for an attempt: never claimed, or waiting for its retry time, or (at least once
    only) claimed by a process that died before recording the outcome."""
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    return due & Q(sending_started_at__isnull=True) if at_most_once() else due


def claim(delivery_id: int, now: datetime) -> bool:
    """Take the delivery for one send attempt: exactly one caller wins."""
    return (
        _move(
            _one(delivery_id).filter(_due(now)),
            [S.QUEUED],
            S.QUEUED,
            next_attempt_at=now + lease(),
            attempts=F("attempts") + 1,
        )
        == 1
    )


def claim_many(delivery_ids: list[int], now: datetime) -> list[int]:
    """`claim` for a chunk: the ids this caller won. Rows another worker is claiming are
    skipped (PostgreSQL), or wait for it (SQLite has one writer) and are then no longer due."""
    skip_locked = connection.features.has_select_for_update_skip_locked
    with transaction.atomic():
        won = list(
            Delivery.objects.filter(pk__in=delivery_ids, status=S.QUEUED)
            .filter(_due(now))
            .select_for_update(skip_locked=skip_locked)
            .values_list("pk", flat=True)
        )
        _move(
            Delivery.objects.filter(pk__in=won),
            [S.QUEUED],
            S.QUEUED,
            next_attempt_at=now + lease(),
            attempts=F("attempts") + 1,
        )
    return won


@dataclass(frozen=True)
class Sent:
    """A message the provider accepted whose "sent" is not written yet (a chunk writes it
    with the next message's `begin_attempt`)."""

    delivery: Delivery
    provider_message_id: str
    response_code: int | None = None


def begin_attempt(delivery: Delivery, *, record: Sent | None = None) -> None:
    """The message is about to go to the provider: from here until its outcome is written, a
    death of this process leaves the outcome unknown. (A process that dies after the claim
    but before this point leaves a delivery that is simply claimed again after the lease.)

    With `record`, the previous message of a chunk is marked sent in the same statement: one
    UPDATE per message instead of two, and the same states at every instant as writing
    "sent" and then "started" (between the two nothing reaches a provider)."""
    now = timezone.now()
    moves = {delivery.pk: (S.QUEUED, {"sending_started_at": now})}
    if record is not None:
        assert record.delivery.pk != delivery.pk, "a message is sent before the next one begins"
        moves[record.delivery.pk] = (S.SENT, _sent_fields(record, now))
    _move_each(moves, [S.QUEUED])


# Every outcome of an attempt clears `sending_started_at`.


def mark_sent(delivery: Delivery, provider_message_id: str, *, response_code: int | None = None) -> None:
    record = Sent(delivery, provider_message_id, response_code)
    _move_each({delivery.pk: (S.SENT, _sent_fields(record, timezone.now()))}, [S.QUEUED])


def _sent_fields(record: Sent, now: datetime) -> dict[str, Any]:
    return {
        "sent_at": now,
        "provider_message_id": (record.provider_message_id or "")[:255],
        "response_code": record.response_code,
        "next_attempt_at": None,
        "sending_started_at": None,
        "reason": "",
    }


def block(delivery: Delivery, reason: str) -> None:
    """Never sent. `reason` is a code (a BlockReason, or participant_left) that reports group by."""
    _move(_one(delivery.pk), [S.QUEUED], S.BLOCKED, reason=reason, next_attempt_at=None, sending_started_at=None)


def fail(delivery: Delivery, reason: str, *, response_code: int | None = None) -> None:
    _move(
        _one(delivery.pk),
        [S.QUEUED],
        S.FAILED,
        reason=reason[:500],
        failed_at=timezone.now(),
        next_attempt_at=None,
        sending_started_at=None,
        response_code=response_code,
    )


def retry_at(delivery: Delivery, when: datetime, reason: str, *, response_code: int | None = None) -> None:
    """A transient error: stay queued and try again at `when`."""
    _move(
        _one(delivery.pk),
        [S.QUEUED],
        S.QUEUED,
        next_attempt_at=when,
        sending_started_at=None,
        reason=reason[:500],
        response_code=response_code,
    )


def expire(delivery: Delivery, reason: str) -> None:
    """A queued message is too late to go out (its step's expires_after passed): never sent."""
    _move(_one(delivery.pk), [S.QUEUED], S.EXPIRED, reason=reason[:500], next_attempt_at=None, sending_started_at=None)


def mark_abandoned_attempts_unknown(now: datetime, limit: int = 10_000) -> int:
    """At most once: attempts whose claimer died (lease over, outcome never recorded) become
    `unknown`, for an operator to look at; they are never sent again."""
    abandoned = list(
        Delivery.objects.filter(
            status=S.QUEUED, sending_started_at__isnull=False, next_attempt_at__lte=now
        ).values_list("pk", flat=True)[:limit]
    )
    if not abandoned:
        return 0
    count = _move(
        Delivery.objects.filter(pk__in=abandoned, sending_started_at__isnull=False, next_attempt_at__lte=now),
        [S.QUEUED],
        S.UNKNOWN,
        reason=UNKNOWN_REASON,
        next_attempt_at=None,
    )
    logger.warning("%s deliveries whose send was interrupted are recorded as unknown (at most once)", count)
    return count


# --- What the provider and the recipient tell (journeys.tracking) ------------------------------------

# Forward order of a delivery's life after it is handed to the provider.
FORWARD: list[str] = [S.QUEUED, S.SENT, S.DELIVERED, S.OPENED, S.CLICKED]


def move_forward(delivery_id: int, status: str) -> bool:
    """Move a delivery's status forward to `status`; never back."""
    return _move(_one(delivery_id), FORWARD[: FORWARD.index(status)], status) == 1


def stamp_first(delivery_id: int, name: str, at: datetime) -> bool:
    """Set the timestamp `name` (opened_at, clicked_at, delivered_at) unless it is set: True
    for the call that set it (the conditional update decides even when two arrive at once)."""
    assert name in ("opened_at", "clicked_at", "delivered_at"), name
    return _one(delivery_id).filter(**{f"{name}__isnull": True}).update(**{name: at, "updated_at": timezone.now()}) == 1


def bounce(delivery: Delivery, *, reason: str, at: datetime) -> bool:
    """The receiving side refused the message (email: bounced) or it could not be delivered
    (text, push: failed). Only a message that was sent can bounce; an opened or clicked one
    evidently arrived. True when this call changed it."""
    if delivery.channel == "email":
        status, stamp = S.BOUNCED, {"bounced_at": at}
    else:
        status, stamp = S.FAILED, {"failed_at": at}
    return _move(_one(delivery.pk), [S.QUEUED, S.SENT, S.DELIVERED], status, reason=reason[:500], **stamp) == 1
