"""Typed wrappers around django-q2's `async_task`, always enqueued after commit.

The database is the truth and the queue is a doorbell: if the process dies between the
commit and the enqueue, the periodic sweep finds the row and rings again.
"""

from django.db import transaction
from django_q.tasks import async_task


def _enqueue_after_commit(func: str, *args, group: str) -> None:
    transaction.on_commit(lambda: async_task(func, *args, group=group))


def enqueue_dispatch(delivery_id: int) -> None:
    _enqueue_after_commit("journeys.tasks.dispatch_delivery", delivery_id, group="dispatch")


def enqueue_process_events(event_ids: list[int]) -> None:
    _enqueue_after_commit("journeys.tasks.process_events", list(event_ids), group="events")


def enqueue_advance_batch(participant_ids: list[int]) -> None:
    _enqueue_after_commit("journeys.tasks.advance_batch", list(participant_ids), group="advance")


def enqueue_sweep() -> None:
    _enqueue_after_commit("journeys.tasks.advance_participants", group="sweep")
