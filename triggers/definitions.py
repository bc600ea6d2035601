"""Changes to trigger definitions that the admin's actions call."""

from django.db.models import QuerySet
from django.utils import timezone

from .caching import definitions_changed
from .models import Trigger, TriggerStatus


def mark_triggers_ready(triggers: QuerySet[Trigger]) -> int:
    """Move draft triggers to Ready to use: the API accepts their events from now on.

    Built-in triggers are left alone (they are raised by the product, never by websites).
    """
    marked = (
        triggers.filter(builtin=False)
        .exclude(status=TriggerStatus.READY)
        .update(status=TriggerStatus.READY, updated_at=timezone.now())
    )
    if marked:  # An update sends no model signal: tell the web processes' schema caches.
        definitions_changed()
    return marked
