"""A task's events are processed in one transaction (together, or one by one in savepoints
once one fails): a broken event is left for the sweep and the rest of its group still counts."""

from importlib import import_module

import pytest
from django.apps import apps as django_apps

from journeys import reactions
from journeys.bundles import import_bundle
from journeys.models import Contact, Participant
from triggers.models import Event, Trigger


def _stored(contact_id: str, cart_total: float) -> Event:
    return Event.objects.create(
        trigger=Trigger.objects.get(key="abandoned_cart"),
        source="test",
        contact_key=contact_id,
        contact={"email": f"{contact_id}@example.com"},
        attributes={"cart_total": cart_total},
    )


def test_a_failing_event_is_left_for_the_sweep_and_its_group_goes_on(
    seed_journey, monkeypatch, django_capture_on_commit_callbacks
):
    events = [_stored("ana", 80), _stored("ben", 90), _stored("cy", 70)]
    real_react = reactions.react

    def broken_for_ben(event, now):
        real_react(event, now)  # writes, then fails: its writes must roll back with it
        if event.contact_key == "ben":
            raise RuntimeError("lost the database for a moment")

    monkeypatch.setattr(reactions, "react", broken_for_ben)
    with django_capture_on_commit_callbacks(execute=False):
        processed = reactions.process_events([e.pk for e in events])

    assert processed == 2
    assert sorted(Participant.objects.values_list("contact__external_id", flat=True)) == ["ana", "cy"]
    assert list(Event.objects.filter(processed_at__isnull=True).values_list("contact_key", flat=True)) == ["ben"]

    # The sweep re-drives it later, and then it enters like the others.
    monkeypatch.setattr(reactions, "react", real_react)
    assert reactions.process_events([events[1].pk]) == 1
    assert Participant.objects.filter(contact__external_id="ben").exists()


def test_a_group_reads_the_sending_policies_once(seed_journey, django_capture_on_commit_callbacks):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    events = [_stored(name, 80) for name in ("ana", "ben", "cy")]

    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=False):
        assert reactions.process_events([e.pk for e in events]) == 3

    policy_reads = [q for q in queries.captured_queries if 'FROM "journeys_sendingpolicy"' in q["sql"]]
    assert len(policy_reads) == 1
    assert Participant.objects.count() == 3


def test_under_load_a_task_takes_the_events_still_waiting_for_theirs(seed_journey, django_capture_on_commit_callbacks):
    from journeys import tasks

    mine, *waiting = [_stored(name, 80) for name in ("ana", "ben", "cy", "di")]

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.process_events([mine.pk]) == 4

    assert not Event.objects.filter(processed_at__isnull=True).exists()
    assert Participant.objects.count() == 4
    # Their own tasks, when they run, find nothing left to do.
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.process_events([e.pk for e in waiting]) == 0
    assert Participant.objects.count() == 4


def test_requests_while_the_doorbell_is_rung_enqueue_nothing_and_its_task_takes_their_events(
    seed_journey, django_capture_on_commit_callbacks
):
    from journeys import tasks
    from journeys.queue import ring_for_events
    from journeys.workers.heartbeats import ring_events_doorbell

    assert ring_events_doorbell()  # a request rang: its task is queued, not started yet
    burst = [_stored(name, 80) for name in ("ana", "ben", "cy")]
    with django_capture_on_commit_callbacks(execute=True):
        ring_for_events([e.pk for e in burst])  # (tasks run inline in tests: none ran)
    assert Event.objects.filter(processed_at__isnull=True).count() == 3

    # The rung task starts: it answers the doorbell and takes every waiting event.
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.process_events([]) == 3
    assert Participant.objects.count() == 3

    # Answered: the next request rings again, and its task runs.
    later = _stored("di", 80)
    with django_capture_on_commit_callbacks(execute=True):
        ring_for_events([later.pk])
    assert not Event.objects.filter(processed_at__isnull=True).exists()


def test_a_doorbell_whose_task_never_started_is_rung_again(seed_journey):
    import time_machine
    from django.utils import timezone

    from journeys.workers.heartbeats import RING_AGAIN_AFTER, answer_events_doorbell, ring_events_doorbell

    now = timezone.now()
    assert ring_events_doorbell(now)
    assert not ring_events_doorbell(now + RING_AGAIN_AFTER / 2)  # one ring per queued task
    # Its task was lost (a Redis task in flight when its worker died): ring again.
    assert ring_events_doorbell(now + RING_AGAIN_AFTER)
    answer_events_doorbell()
    with time_machine.travel(now):
        assert ring_events_doorbell()


def test_a_drain_goes_past_events_that_fail(seed_journey, monkeypatch, django_capture_on_commit_callbacks):
    from journeys import tasks

    for name in ("ana", "ben", "cy", "di"):
        _stored(name, 80)
    real_react = reactions.react

    def broken_for_the_first_two(event, now):
        if event.contact_key in ("ana", "ben"):
            raise RuntimeError("a bug in one journey")
        real_react(event, now)

    monkeypatch.setattr(reactions, "react", broken_for_the_first_two)
    monkeypatch.setattr(tasks, "DRAIN_GROUP", 2)  # the two broken ones are a whole group
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.process_events([]) == 2

    assert sorted(Participant.objects.values_list("contact__external_id", flat=True)) == ["cy", "di"]
    assert sorted(Event.objects.filter(processed_at__isnull=True).values_list("contact_key", flat=True)) == [
        "ana",
        "ben",
    ]


def test_a_group_reads_the_journeys_and_segments_once_and_no_consent_of_new_contacts(
    seed_journey, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from journeys.models import Delivery, DeliveryStatus

    events = [_stored(name, 80) for name in ("ana", "ben", "cy")]

    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=False):
        assert reactions.process_events([e.pk for e in events]) == 3

    def reads(table: str) -> int:
        return sum(
            1 for q in queries.captured_queries if q["sql"].startswith("SELECT") and f'FROM "{table}"' in q["sql"]
        )

    assert reads("journeys_journeyversion") == 1
    assert len([q for q in queries.captured_queries if '"journeys_segment"."kind" =' in q["sql"]]) == 1
    # Three contacts first seen in these events: nobody can have unsubscribed them yet.
    assert not [q for q in queries.captured_queries if '"journeys_consent"' in q["sql"]]
    assert Delivery.objects.filter(status=DeliveryStatus.QUEUED).count() == 3


@pytest.mark.django_db(transaction=True)
def test_two_workers_whose_groups_share_new_contacts_in_opposite_order_do_not_deadlock(seed_bundle, clock):
    """Two threads, two PostgreSQL connections, each processing one group of events for the
    same new contacts, received in opposite orders, both starting at once; many rounds. Each
    group takes its contacts in key order, so the second waits for the first on each
    contact's unique key instead of the two waiting for each other (PostgreSQL would break
    such a cycle by failing one event, left for the sweep)."""
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite has one writer)")
    import_module("triggers.migrations.0002_builtin_triggers").create_builtin_triggers(django_apps, None)
    import_bundle(seed_bundle, publish_journeys=True)
    failures: list[BaseException] = []

    def worker(barrier: threading.Barrier, group: list[int]) -> None:
        try:
            barrier.wait()
            reactions.process_events(group)
        except BaseException as error:  # pragma: no cover - reported below
            failures.append(error)
        finally:
            connections.close_all()

    for round_ in range(15):
        keys = [f"r{round_}-c{i:02d}" for i in range(8)]
        # Cart totals below the journey's condition: contacts only, no sends to wait for.
        forward = [_stored(key, 10).pk for key in keys]
        backward = [_stored(key, 10).pk for key in reversed(keys)]
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=worker, args=(barrier, group)) for group in (forward, backward)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failures
        left = Event.objects.filter(pk__in=forward + backward, processed_at__isnull=True)
        assert list(left.values_list("contact_key", flat=True)) == [], f"round {round_}: left for the sweep"
        assert Contact.objects.filter(external_id__in=keys).count() == len(keys)


def test_a_tasks_own_event_that_fails_is_tried_once_in_that_task(
    seed_journey, monkeypatch, django_capture_on_commit_callbacks
):
    from journeys import tasks

    broken, fine = _stored("ana", 80), _stored("ben", 80)
    real_react, tried = reactions.react, []

    def broken_for_ana(event, now):
        tried.append(event.contact_key)
        if event.contact_key == "ana":
            raise RuntimeError("a bug in one journey")
        real_react(event, now)

    monkeypatch.setattr(reactions, "react", broken_for_ana)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.process_events([broken.pk]) == 1  # ben's, taken by the drain

    assert tried == ["ana", "ben"]  # the drain does not take ana's again
    assert list(Event.objects.filter(processed_at__isnull=True).values_list("pk", flat=True)) == [broken.pk]
    assert fine.pk not in Event.objects.filter(processed_at__isnull=True).values_list("pk", flat=True)
