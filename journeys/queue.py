"""Typed wrappers around django-q2's `async_task`, always enqueued after commit.

The database is the truth and the queue is a doorbell: if the process dies between the
commit and the enqueue, the periodic sweep finds the row and rings again.
"""

import logging
import math
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from django.db import close_old_connections, connection, transaction
from django_q.brokers import Broker, get_broker
from django_q.conf import Conf
from django_q.tasks import async_task

# A worker that just processed events (or a sweep batch) sends their messages itself: one
# broker hop less on the real-time path, and under load no wait behind the queue's backlog
# (a group of 50 events sends about 50 messages, a second or less over one SMTP session).
# Larger fan-outs go back to the queue in chunks, for other workers to share.
INLINE_DISPATCH_LIMIT = 100
DISPATCH_CHUNK = 50

logger = logging.getLogger(__name__)


class Collected:
    """The deliveries queued inside a `collecting_dispatches` block, for `dispatch_collected`.

    `claimed` were claimed by their own INSERT (journeys.deliveries.create asked `take_claim`):
    the worker that inserted them sends them right after the block, so the claim's UPDATE of
    every row (and its SELECT … FOR UPDATE) is spared. At most INLINE_DISPATCH_LIMIT are, so
    every claimed one is sent inline; the rest (a larger fan-out, and deliveries queued by
    other changes, a release from quiet hours) go the usual way and are claimed by their sender.
    """

    def __init__(self) -> None:
        self.claimed: dict[int, datetime] = {}  # id -> the lease its INSERT wrote
        self.unclaimed: list[int] = []
        self.claims = 0  # claims given out (a delivery rolled back with its savepoint keeps its claim)

    def __len__(self) -> int:
        return len(self.claimed) + len(self.unclaimed)


_collected: ContextVar[Collected | None] = ContextVar("collected_dispatches", default=None)


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


def enqueue_dispatch(delivery_id: int, *, claimed_until: datetime | None = None) -> None:
    """Send a queued delivery after commit; `claimed_until` is the lease its INSERT wrote when
    it claimed it (take_claim)."""
    collected = _collected.get()
    if collected is None:
        if claimed_until is not None:
            raise ValueError("only a collecting block claims at insert")
        _enqueue_after_commit("journeys.tasks.dispatch_delivery", delivery_id, group="dispatch")
    elif claimed_until is None:
        collected.unclaimed.append(delivery_id)
    else:
        collected.claimed[delivery_id] = claimed_until


def take_claim() -> bool:
    """May a delivery being inserted now be claimed by its INSERT? Yes inside a collecting
    block with room left to send it inline (the block's worker sends it right after)."""
    collected = _collected.get()
    if collected is None or collected.claims >= INLINE_DISPATCH_LIMIT:
        return False
    collected.claims += 1
    return True


@contextmanager
def collecting_dispatches() -> Iterator[Collected]:
    """Collect the deliveries queued inside the block instead of enqueueing one task each.

    Hand them to `dispatch_collected` once the block's transactions have committed. An id
    whose transaction rolled back is harmless: dispatch finds no queued row and stops. A
    block that raises before then leaves its claimed deliveries to the sweep, after their
    lease (the bound of any claim whose sender died).
    """
    collected = Collected()
    token = _collected.set(collected)
    try:
        yield collected
    finally:
        _collected.reset(token)


def dispatch_collected(collected: Collected) -> None:
    from .sending import dispatch_deliveries

    if len(collected) <= INLINE_DISPATCH_LIMIT:
        if collected:
            dispatch_deliveries(collected.unclaimed, claimed=collected.claimed)
        return
    # A larger fan-out: the unclaimed go to other workers first, not after this one's sends.
    unclaimed = collected.unclaimed
    for start in range(0, len(unclaimed), DISPATCH_CHUNK):
        chunk = unclaimed[start : start + DISPATCH_CHUNK]
        _enqueue_after_commit("journeys.tasks.dispatch_deliveries", chunk, group="dispatch")
    if collected.claimed:
        dispatch_deliveries([], claimed=collected.claimed)


def enqueue_process_events(event_ids: list[int]) -> None:
    _enqueue_after_commit("journeys.tasks.process_events", list(event_ids), group="events")


def ring_for_events(event_ids: list[int]) -> None:
    """Newly stored events: enqueue their task, unless a task rung for earlier events has not
    started yet (it takes these too; journeys.workers.heartbeats.ring_events_doorbell). Under
    load this spares the web process an enqueue and the workers a task per request; and a
    process that saw the doorbell rung less than DOORBELL_TRUST_SECONDS ago does not even
    ask the database (_Doorbell)."""
    ids = list(event_ids)
    transaction.on_commit(lambda: _doorbell().ring(ids))


# How long a process takes a doorbell it saw rung as still rung, without asking the database.
DOORBELL_TRUST_SECONDS = 0.5
# The doorbell's thread closes its database connection after this long with nothing owed.
IDLE_SECONDS = 10.0


class _Doorbell:
    """This process's memory of the events' doorbell.

    The database row decides who rings (ring_events_doorbell). A process that asked it less
    than DOORBELL_TRUST_SECONDS ago and found it rung (by itself or another) skips the query:
    a task rung for earlier events is queued and takes these too. But that task may start,
    answer the doorbell and finish its drain before these events were committed; so a skipped
    ring is owed, and paid when the trust runs out: the process asks the row again (from a
    thread of its own if no request comes first) and rings if it was answered meanwhile. So
    an event's ring is at most DOORBELL_TRUST_SECONDS late, and under load one query per
    process every DOORBELL_TRUST_SECONDS serves every request in between. A lost task is rung
    again as before (RING_AGAIN_AFTER). Never skipped where a task may have run already
    without the trust knowing: inside a transaction (tests wrap theirs) or with inline tasks.
    """

    def __init__(self, *, thread: bool = True) -> None:
        self._lock = threading.Lock()
        self._owed = threading.Condition(self._lock)
        self._asked_at = -math.inf  # time.monotonic() of the last question to the row
        self._owing = False
        self._thread_wanted = thread
        self._thread: threading.Thread | None = None

    def ring(self, event_ids: list[int], now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if self._may_skip():
            with self._lock:
                if now - self._asked_at < DOORBELL_TRUST_SECONDS:
                    self._owing = True
                    self._start_thread()
                    self._owed.notify()
                    return
        self._ask(event_ids, now)

    def settle(self, now: float | None = None) -> bool:
        """Pay an owed ring whose trust ran out; True if one was paid."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if not self._owing or now - self._asked_at < DOORBELL_TRUST_SECONDS:
                return False
            self._owing = False
        self._ask([], now)  # the task takes every waiting event, the skipped ones with them
        return True

    def _ask(self, event_ids: list[int], now: float) -> None:
        from .workers.heartbeats import ring_events_doorbell

        with self._lock:
            self._asked_at = now
            self._owing = False  # this question serves every event committed before it
        if ring_events_doorbell():
            _enqueue("journeys.tasks.process_events", event_ids, group="events")

    @staticmethod
    def _may_skip() -> bool:
        return not connection.in_atomic_block and not Conf.SYNC

    def _start_thread(self) -> None:  # with the lock held
        if self._thread_wanted and (self._thread is None or not self._thread.is_alive()):
            self._thread = threading.Thread(target=self._pay_owed_rings, name="events-doorbell", daemon=True)
            self._thread.start()

    def _pay_owed_rings(self) -> None:
        while True:
            with self._lock:
                while not self._owing:
                    if not self._owed.wait(timeout=IDLE_SECONDS):
                        connection.close()  # idle: give the database its connection back
                delay = self._asked_at + DOORBELL_TRUST_SECONDS - time.monotonic()
            if delay > 0:
                time.sleep(delay)
                continue
            close_old_connections()  # this thread's own connection: kept, unless too old or broken
            try:
                self.settle()
            except Exception:
                logger.exception("The events' doorbell could not be rung; trying again.")
                with self._lock:
                    self._owing = True
                time.sleep(DOORBELL_TRUST_SECONDS)


_doorbell_of_process: tuple[int, _Doorbell] | None = None


def _doorbell() -> _Doorbell:
    """Per process id: a forked child starts with no memory of its parent's rings or thread."""
    global _doorbell_of_process
    if _doorbell_of_process is None or _doorbell_of_process[0] != os.getpid():
        _doorbell_of_process = (os.getpid(), _Doorbell())
    return _doorbell_of_process[1]


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
