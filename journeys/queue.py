"""Typed wrappers around django-q2's `async_task`, always enqueued after commit.

The database is the truth and the queue is a doorbell: if the process dies between the
commit and the enqueue, the periodic sweep finds the row and rings again.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction
from django_q.brokers import Broker, get_broker
from django_q.tasks import async_task

# A worker that just processed events (or a sweep batch) sends their messages itself: one
# broker hop less on the real-time path, and under load no wait behind the queue's backlog
# (a group of 50 events sends about 50 messages, a second or less over one SMTP session).
# Larger fan-outs go back to the queue in chunks, for other workers to share.
INLINE_DISPATCH_LIMIT = 100
DISPATCH_CHUNK = 50

_collected: ContextVar[list[int] | None] = ContextVar("collected_dispatches", default=None)


_broker_of_process: tuple[int, Broker] | None = None


def _broker() -> Broker:
    """One broker per process: django-q2 builds a new one (with Redis, a new connection) on
    every `async_task` otherwise, 1 ms of the ingest API's 4. Per process id, because a
    connection must not be shared across a fork."""
    global _broker_of_process
    if _broker_of_process is None or _broker_of_process[0] != os.getpid():
        _broker_of_process = (os.getpid(), get_broker())
    return _broker_of_process[1]


def _enqueue(func: str, *args, group: str) -> None:
    async_task(func, *args, group=group, broker=_broker())


def _enqueue_after_commit(func: str, *args, group: str) -> None:
    transaction.on_commit(lambda: _enqueue(func, *args, group=group))


def enqueue_dispatch(delivery_id: int) -> None:
    collected = _collected.get()
    if collected is not None:
        collected.append(delivery_id)
        return
    _enqueue_after_commit("journeys.tasks.dispatch_delivery", delivery_id, group="dispatch")


@contextmanager
def collecting_dispatches() -> Iterator[list[int]]:
    """Collect the deliveries queued inside the block instead of enqueueing one task each.

    Hand the list to `dispatch_collected` once the block's transactions have committed. An
    id whose transaction rolled back is harmless: dispatch finds no queued row and stops.
    """
    collected: list[int] = []
    token = _collected.set(collected)
    try:
        yield collected
    finally:
        _collected.reset(token)


def dispatch_collected(delivery_ids: list[int]) -> None:
    from .sending import dispatch_deliveries, dispatch_delivery

    if len(delivery_ids) == 1:
        dispatch_delivery(delivery_ids[0])
        return
    if len(delivery_ids) <= INLINE_DISPATCH_LIMIT:
        dispatch_deliveries(delivery_ids)
        return
    for start in range(0, len(delivery_ids), DISPATCH_CHUNK):
        chunk = delivery_ids[start : start + DISPATCH_CHUNK]
        _enqueue_after_commit("journeys.tasks.dispatch_deliveries", chunk, group="dispatch")


def enqueue_process_events(event_ids: list[int]) -> None:
    _enqueue_after_commit("journeys.tasks.process_events", list(event_ids), group="events")


def ring_for_events(event_ids: list[int]) -> None:
    """Newly stored events: enqueue their task, unless a task rung for earlier events has not
    started yet (it takes these too; journeys.workers.heartbeats.ring_events_doorbell). Under
    load this spares the web process an enqueue and the workers a task per request."""
    from .workers.heartbeats import ring_events_doorbell

    ids = list(event_ids)

    def ring() -> None:
        if ring_events_doorbell():
            _enqueue("journeys.tasks.process_events", ids, group="events")

    transaction.on_commit(ring)


def enqueue_advance_batch(participant_ids: list[int]) -> None:
    _enqueue_after_commit("journeys.tasks.advance_batch", list(participant_ids), group="advance")


def enqueue_sweep() -> None:
    _enqueue_after_commit("journeys.tasks.advance_participants", group="sweep")


def enqueue_segment_joined(segment_id: int, contact_ids: list[int]) -> None:
    _enqueue_after_commit("journeys.tasks.segment_joined", segment_id, list(contact_ids), group="segments")


def enqueue_rebuild_segment(segment_id: int, cursor: int) -> None:
    _enqueue_after_commit("journeys.tasks.rebuild_segment", segment_id, cursor, group="segments")


def enqueue_segment_entry(entry_id: int) -> None:
    _enqueue_after_commit("journeys.tasks.enter_segment_batch", entry_id, group="segment-entry")
