"""A worker that queues messages and sends them itself right after (a group of events, a sweep
batch) inserts them already claimed, and sends them without the claim's UPDATE; a message
only notes its attempt started in place. Each is still sent once, a worker that dies before
sending leaves them to the sweep after the lease, and an exit in between still blocks them."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from journeys import deliveries, queue, reactions, tasks
from journeys.models import Delivery, DeliveryStatus, Participant
from journeys.sending import LEASE, lost_task_grace, retry_due_deliveries
from triggers.models import Event, Trigger

SENT, QUEUED = DeliveryStatus.SENT, DeliveryStatus.QUEUED


def _stored(*names: str) -> list[Event]:
    trigger = Trigger.objects.get(key="abandoned_cart")
    return [
        Event.objects.create(
            trigger=trigger,
            source="test",
            contact_key=name,
            contact={"email": f"{name}@example.com"},
            attributes={"cart_total": 80},
        )
        for name in names
    ]


def _delivery_statements(queries: CaptureQueriesContext) -> list[str]:
    """The statements on the deliveries table (a join to it in a SELECT's WHERE not counted)."""
    return [q["sql"] for q in queries.captured_queries if '"journeys_delivery"' in q["sql"].split(" WHERE ")[0]]


def test_a_group_inserts_its_messages_claimed_and_sends_them_without_a_claim(
    seed_journey, django_capture_on_commit_callbacks
):
    _stored("ana", "ben", "cy")

    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        assert tasks.process_events([]) == 3

    statements = _delivery_statements(queries)
    assert not [
        sql for sql in statements if "FOR UPDATE" in sql or (sql.startswith("UPDATE") and '"attempts" =' in sql)
    ]
    # One INSERT, then "started" for the first, "sent" + "started" for each next, "sent" for the last.
    assert [sql.split(" ")[0] for sql in statements if not sql.startswith("SELECT")] == ["INSERT"] + ["UPDATE"] * 4
    assert sorted(Delivery.objects.values_list("address", "status", "attempts")) == [
        ("ana@example.com", SENT, 1),
        ("ben@example.com", SENT, 1),
        ("cy@example.com", SENT, 1),
    ]
    assert sorted(m.to[0] for m in mail.outbox) == ["ana@example.com", "ben@example.com", "cy@example.com"]


def test_messages_claimed_by_a_worker_that_died_before_sending_go_out_once_after_the_lease(
    seed_journey, monkeypatch, django_capture_on_commit_callbacks
):
    _stored("ana", "ben")
    monkeypatch.setattr(tasks, "dispatch_collected", lambda collected: None)  # killed after the commit
    with django_capture_on_commit_callbacks(execute=True):
        tasks.process_events([])
    assert list(Delivery.objects.values_list("status", "attempts", "sending_started_at")) == [(QUEUED, 1, None)] * 2

    # Claimed: the sweep leaves them alone while the lease lasts, past a lost task's grace too.
    with time_machine.travel(timezone.now() + lost_task_grace() + timedelta(seconds=1)):
        assert retry_due_deliveries() == 0
    with time_machine.travel(timezone.now() + LEASE + timedelta(seconds=1)):
        with django_capture_on_commit_callbacks(execute=True):
            assert retry_due_deliveries() == 2
        assert retry_due_deliveries() == 0  # claimed again and sent by the tasks it enqueued

    assert sorted(Delivery.objects.values_list("status", "attempts")) == [(SENT, 2)] * 2
    assert sorted(m.to[0] for m in mail.outbox) == ["ana@example.com", "ben@example.com"]


@pytest.mark.parametrize("taken_by", ["the sweep after the lease", "another row with the same id"])
def test_a_sender_sends_only_the_claimed_rows_that_are_still_its_own(
    seed_journey, monkeypatch, django_capture_on_commit_callbacks, taken_by
):
    _stored("ana", "ben")
    real_dispatch = tasks.dispatch_collected

    def late(collected: queue.Collected) -> None:
        if not collected:  # the drain's last turn, which took nothing
            return
        ben = Delivery.objects.get(address="ben@example.com")
        if taken_by == "the sweep after the lease":
            # This worker stalled past the lease: the sweep's claim took Ben's message.
            later = timezone.now() + LEASE + timedelta(seconds=1)
            with time_machine.travel(later):
                assert deliveries.claim(ben.pk, later)
        else:
            # The id now names a row this worker did not insert (its lease is another's).
            Delivery.objects.filter(pk=ben.pk).update(next_attempt_at=ben.next_attempt_at + timedelta(microseconds=1))
        real_dispatch(collected)

    monkeypatch.setattr(tasks, "dispatch_collected", late)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.process_events([])

    assert [m.to[0] for m in mail.outbox] == ["ana@example.com"]
    assert Delivery.objects.get(address="ben@example.com").status == QUEUED  # its sender's to send


def test_a_sender_that_stalled_past_the_lease_leaves_its_messages_to_the_sweep(
    seed_journey, monkeypatch, django_capture_on_commit_callbacks
):
    _stored("ana", "ben")
    real_dispatch = tasks.dispatch_collected
    later = timezone.now() + LEASE + timedelta(seconds=1)

    def stalled(collected: queue.Collected) -> None:
        with time_machine.travel(later):
            real_dispatch(collected)

    monkeypatch.setattr(tasks, "dispatch_collected", stalled)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.process_events([])

    assert mail.outbox == []  # the sweep may be claiming them at this very moment
    with time_machine.travel(later), django_capture_on_commit_callbacks(execute=True):
        assert retry_due_deliveries() == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["ana@example.com", "ben@example.com"]


def test_past_the_inline_limit_the_rest_are_queued_unclaimed_for_other_workers(
    seed_journey, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(queue, "INLINE_DISPATCH_LIMIT", 2)
    _stored("ana", "ben", "cy")
    real_enqueue = queue._enqueue_after_commit
    sent_before_enqueued: dict[str, int] = {}

    def enqueue(func: str, *args, group: str) -> None:
        sent_before_enqueued[func] = len(mail.outbox)
        real_enqueue(func, *args, group=group)

    monkeypatch.setattr(queue, "_enqueue_after_commit", enqueue)
    with django_capture_on_commit_callbacks(execute=False) as tasks_enqueued:
        tasks.process_events([])

    # The unclaimed went to other workers before this one sent its own, not after.
    assert sent_before_enqueued["journeys.tasks.dispatch_deliveries"] == 0

    # Two claimed by their INSERT and sent by this worker; the third waits for its own task.
    assert sorted(Delivery.objects.values_list("address", "status", "attempts")) == [
        ("ana@example.com", SENT, 1),
        ("ben@example.com", SENT, 1),
        ("cy@example.com", QUEUED, 0),
    ]
    assert Delivery.objects.get(address="cy@example.com").next_attempt_at is None
    for callback in tasks_enqueued:  # its task among them
        callback()

    assert Delivery.objects.get(address="cy@example.com").status == SENT
    assert sorted(m.to[0] for m in mail.outbox) == ["ana@example.com", "ben@example.com", "cy@example.com"]


def test_a_participant_who_exits_before_its_claimed_message_goes_out_gets_nothing(
    seed_journey, monkeypatch, django_capture_on_commit_callbacks
):
    _stored("ana", "ben")
    real_dispatch = tasks.dispatch_collected

    def exit_ben_first(collected: queue.Collected) -> None:
        # Ben's exit is processed by another worker between the insert's commit and the send:
        # his message is claimed, so the exit does not block it; the sender's re-check does.
        purchase = Event.objects.create(
            trigger=Trigger.objects.get(key="purchase_completed"), source="test", contact_key="ben", attributes={}
        )
        assert reactions.process_events([purchase.pk]) == 1
        assert Participant.objects.get(contact__external_id="ben").state == "exited"
        real_dispatch(collected)

    monkeypatch.setattr(tasks, "dispatch_collected", exit_ben_first)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.process_events([])

    assert dict(Delivery.objects.values_list("address", "status")) == {
        "ana@example.com": SENT,
        "ben@example.com": DeliveryStatus.BLOCKED,
    }
    assert Delivery.objects.get(address="ben@example.com").reason == "participant_left"
    assert [m.to[0] for m in mail.outbox] == ["ana@example.com"]


def test_noting_an_attempt_started_leaves_updated_at_and_every_index_alone(
    seed_journey, django_capture_on_commit_callbacks
):
    """Analytics finds changed deliveries by updated_at: "started" changes nothing it counts.
    On PostgreSQL the row is updated in place (HOT), none of the table's indexes written."""
    _stored("ana")
    with django_capture_on_commit_callbacks(execute=True):
        tasks.process_events([])  # takes the waiting event: Ana's email goes out
    delivery = Delivery.objects.get()
    sent_updated_at = delivery.updated_at
    Delivery.objects.filter(pk=delivery.pk).update(status=QUEUED, sending_started_at=None)

    with time_machine.travel(timezone.now() + timedelta(minutes=1)):
        hot_before = _hot_updates()
        deliveries.begin_attempt(delivery)
        hot_after = _hot_updates()
        started = Delivery.objects.get()
        assert started.sending_started_at is not None
        assert started.updated_at == sent_updated_at
        if connection.vendor == "postgresql":
            assert hot_after == hot_before + 1

        deliveries.mark_sent(delivery, "id-1")
        assert Delivery.objects.get().updated_at > sent_updated_at


def _hot_updates() -> int | None:
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_get_xact_tuples_hot_updated('journeys_delivery'::regclass)")
        return cursor.fetchone()[0]


@pytest.mark.parametrize("limit", [0, 1])
def test_a_collecting_block_gives_no_more_claims_than_it_sends_inline(monkeypatch, limit):
    monkeypatch.setattr(queue, "INLINE_DISPATCH_LIMIT", limit)
    with queue.collecting_dispatches():
        assert [queue.take_claim() for _ in range(3)] == [True] * limit + [False] * (3 - limit)
    assert queue.take_claim() is False  # outside a block nobody sends inline
