import json
from datetime import UTC, datetime

import pytest
import time_machine

from journeys.bundles import import_bundle
from journeys.demo import SEED_BUNDLE
from journeys.models import Journey
from triggers.events import announce_after_commit
from triggers.models import Event, Trigger

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    """Time stands still at START until a test moves it (traveller.shift / move_to)."""
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def seed_bundle() -> dict:
    return json.loads(SEED_BUNDLE.read_text())


@pytest.fixture
def seed_journey(db, clock, seed_bundle) -> Journey:
    import_bundle(seed_bundle, publish_journeys=True)
    return Journey.objects.get(key="abandoned-cart")


@pytest.fixture
def raise_event(django_capture_on_commit_callbacks):
    """Store an event the way the ingest API does and let the workers (sync) react."""

    def _raise(trigger: str, contact: dict, attributes: dict | None = None, binding_id: str = "") -> Event:
        contact = dict(contact)
        contact_key = contact.pop("id")
        with django_capture_on_commit_callbacks(execute=True):
            event = Event.objects.create(
                trigger=Trigger.objects.get(key=trigger),
                source="test",
                contact_key=contact_key,
                contact=contact,
                attributes=attributes or {},
                binding_id=binding_id,
            )
            announce_after_commit([event.pk])
        return event

    return _raise


@pytest.fixture
def run_sweep(django_capture_on_commit_callbacks):
    """The one-minute sweep, done inline, with what it enqueues run too."""
    from journeys.sweep import sweep

    def _sweep():
        with django_capture_on_commit_callbacks(execute=True):
            return sweep(inline=True)

    return _sweep
