"""Thin django-q2 entry points. Each takes ids, reloads, and delegates to a domain module;
each is harmless to run twice. Enqueue them with journeys.queue (after commit)."""


def dispatch_delivery(delivery_id: int) -> None:
    """Send one queued delivery through its channel's backend (at most once)."""
    from journeys.sending import dispatch_delivery as dispatch

    dispatch(delivery_id)
