"""How the journeys app hears about the rest of the product."""

from triggers.signals import events_stored


def _on_events_stored(sender, event_ids: list[int], **kwargs) -> None:
    # Sent after the storing transaction committed: ring the doorbell for the workers.
    from .queue import enqueue_process_events

    enqueue_process_events(event_ids)


def connect_signals() -> None:
    events_stored.connect(_on_events_stored, dispatch_uid="journeys.process_events")
