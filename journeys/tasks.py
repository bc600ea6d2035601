"""Thin django-q2 entry points. Each takes ids, reloads, and delegates to a domain module;
each is harmless to run twice. Enqueue them with journeys.queue (after commit)."""

from dataclasses import asdict
from time import monotonic

from journeys.queue import collecting_dispatches, dispatch_collected

# How long one task may go on taking other waiting events, and how many at a time (see
# process_events). A group's first message waits for the whole group to react, so groups are
# bounded; under a backlog, more events share each group's fixed work (its transaction, the
# reads of journeys and policies, one SMTP session): 50 rather than 20 cut a drained worker's
# CPU per event by about a quarter and raised throughput by about 15 % (docs/performance.md,
# issue 15, fourth round). Without a backlog a group is what is waiting, a few events.
DRAIN_SECONDS = 5.0
DRAIN_GROUP = 50


def process_events(event_ids: list[int]) -> int:
    """React to newly stored events (goals, exits, Yes paths, entries), then send the
    messages that queued.

    The task answers the events' doorbell first (journeys.queue.ring_for_events): requests
    that came while it was queued did not enqueue tasks of their own, so it takes every
    event still waiting, a group at a time (one commit, one policy read and one SMTP session
    per group), for a few seconds at most. Events stored after the answer ring again. A
    drain cut short by its deadline rings again for what is left; one that finds nothing it
    can take (none waiting, or all held by another worker, who drains on) just ends.
    Processing is idempotent (an event is claimed and marked processed in one transaction),
    so a task run twice, or an event taken by two tasks, does nothing the second time.
    """
    from journeys.reactions import process_waiting
    from journeys.workers.heartbeats import answer_events_doorbell

    answer_events_doorbell()
    failed: set[int] = set()  # events that failed in this task: the sweep re-drives them
    total = _react_and_send(event_ids, failed) if event_ids else 0
    deadline = monotonic() + DRAIN_SECONDS
    while monotonic() < deadline:
        with collecting_dispatches() as deliveries:
            taken, processed = process_waiting(DRAIN_GROUP, failed)
        dispatch_collected(deliveries)
        total += processed
        if not taken:
            return total
    from journeys.queue import ring_for_events

    ring_for_events([])  # cut short with events left: another task goes on
    return total


def _react_and_send(event_ids: list[int], failed: set[int]) -> int:
    from journeys.reactions import process_events as process

    with collecting_dispatches() as deliveries:
        processed = process(event_ids, failed)
    dispatch_collected(deliveries)
    return processed


def advance_batch(participant_ids: list[int]) -> int:
    """Advance due participants found by the sweep, then send the messages that queued."""
    from journeys.sweep import advance_batch as advance

    with collecting_dispatches() as deliveries:
        moved = advance(participant_ids)
    dispatch_collected(deliveries)
    return moved


def advance_participants() -> str:
    """The one-minute sweep (a django-q2 schedule): hand due work to the workers."""
    from journeys.sweep import sweep
    from journeys.workers.heartbeats import record_sweep

    started = monotonic()
    report = sweep()
    record_sweep({"seconds": round(monotonic() - started, 3), **asdict(report)})
    return f"{report.participants_due} due, {report.events_redriven} events and {report.deliveries_redriven} deliveries re-driven"


def dispatch_delivery(delivery_id: int) -> None:
    """Send one queued delivery through its channel's backend (at most once)."""
    from journeys.sending import dispatch_delivery as dispatch

    dispatch(delivery_id)


def dispatch_deliveries(delivery_ids: list[int]) -> None:
    """Send a chunk of queued deliveries (each at most once)."""
    from journeys.sending import dispatch_deliveries as dispatch

    dispatch(delivery_ids)


def segment_joined(segment_id: int, contact_ids: list[int]) -> int:
    """Contacts joined a segment: enter them into dynamic journeys of it, and move those who
    wait for it onto their Yes path."""
    from journeys.segment_entry import on_segment_joined

    with collecting_dispatches() as deliveries:
        moved = on_segment_joined(segment_id, contact_ids)
    dispatch_collected(deliveries)
    return moved


def rebuild_segment(segment_id: int, cursor: int) -> int | None:
    """One batch of a segment's rebuild; enqueues the next one."""
    from journeys.queue import enqueue_rebuild_segment
    from journeys.segments import rebuild_segment as rebuild

    next_cursor = rebuild(segment_id, cursor)
    if next_cursor is not None:
        enqueue_rebuild_segment(segment_id, next_cursor)
    return next_cursor


def enter_segment_batch(entry_id: int) -> int:
    """One bounded batch of a segment's members into a journey; enqueues the next one."""
    from journeys.segment_entry import enter_batch

    with collecting_dispatches() as deliveries:
        entered = enter_batch(entry_id)
    dispatch_collected(deliveries)
    return entered


def check_ab_tests() -> str:
    """The A/B tests' check (a django-q2 schedule every few minutes): decide the tests
    whose time has come. Safe to run on two workers at once (journeys.abtest.check_test)."""
    from django.utils import timezone

    from journeys.abtest import check_due_tests

    return f"{check_due_tests(timezone.now())} A/B tests decided"
