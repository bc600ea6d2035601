"""Thin django-q2 entry points. Each takes ids, reloads, and delegates to a domain module;
each is harmless to run twice. Enqueue them with journeys.queue (after commit)."""

from journeys.queue import collecting_dispatches, dispatch_collected


def process_events(event_ids: list[int]) -> int:
    """React to newly stored events (goals, exits, Yes paths, entries), then send the
    messages that queued."""
    from journeys.reactions import process_events as process

    with collecting_dispatches() as deliveries:
        processed = process(event_ids)
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

    report = sweep()
    return f"{report.participants_due} due, {report.events_redriven} events and {report.deliveries_redriven} deliveries re-driven"


def dispatch_delivery(delivery_id: int) -> None:
    """Send one queued delivery through its channel's backend (at most once)."""
    from journeys.sending import dispatch_delivery as dispatch

    dispatch(delivery_id)


def dispatch_deliveries(delivery_ids: list[int]) -> None:
    """Send a chunk of queued deliveries (each at most once)."""
    from journeys.sending import dispatch_deliveries as dispatch

    dispatch(delivery_ids)
