"""A task drains waiting events for a few seconds at most; cut short with events left, it
rings the doorbell again so another task goes on (journeys.tasks.process_events)."""

import itertools

from journeys import tasks
from journeys.models import Participant
from triggers.models import Event, Trigger


def _stored(contact_id: str) -> Event:
    return Event.objects.create(
        trigger=Trigger.objects.get(key="abandoned_cart"),
        source="test",
        contact_key=contact_id,
        contact={"email": f"{contact_id}@example.com"},
        attributes={"cart_total": 80},
    )


def _clock_taking(seconds_per_look: float):
    ticks = itertools.count()
    return lambda: next(ticks) * seconds_per_look


def test_a_drain_cut_short_by_its_deadline_rings_again_for_what_is_left(
    seed_journey, monkeypatch, django_capture_on_commit_callbacks
):
    for name in ("ana", "ben", "cy", "di", "ed"):
        _stored(name)
    monkeypatch.setattr(tasks, "DRAIN_GROUP", 2)
    # Each look at the clock is 3 s later: a task has time for one group of two, then its
    # deadline (DRAIN_SECONDS = 5) has passed with three events still waiting.
    monkeypatch.setattr(tasks, "monotonic", _clock_taking(3.0))
    runs = []
    real_process_events = tasks.process_events

    def counted(event_ids):
        runs.append(event_ids)
        return real_process_events(event_ids)

    monkeypatch.setattr(tasks, "process_events", counted)
    with django_capture_on_commit_callbacks(execute=True):
        assert real_process_events([]) == 2  # the first task's own share: one group

    # The tasks it rang (run inline in tests) took the rest, a group each.
    assert len(runs) == 3
    assert not Event.objects.filter(processed_at__isnull=True).exists()
    assert Participant.objects.count() == 5


def test_a_drain_that_finds_nothing_waiting_rings_no_one(seed_journey, monkeypatch, django_capture_on_commit_callbacks):
    _stored("ana")
    runs = []
    real_process_events = tasks.process_events
    monkeypatch.setattr(tasks, "process_events", lambda ids: runs.append(ids) or real_process_events(ids))

    with django_capture_on_commit_callbacks(execute=True):
        assert real_process_events([]) == 1

    assert runs == []
