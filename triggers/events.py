"""Storing events: the one place that writes the event store.

The REST API, the Segment endpoints and the product's own interaction triggers (opens,
clicks, deliveries) all come through here, so idempotency and the after-commit announcement
work the same way for every source.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import Event, Trigger
from .signals import events_stored

INTERNAL_SOURCE = "internal"


def announce_after_commit(event_ids: list[int]) -> None:
    """Tell listeners (the journeys app) about new events once they are durably stored."""
    if event_ids:
        transaction.on_commit(lambda: events_stored.send(sender=Event, event_ids=list(event_ids)))


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
