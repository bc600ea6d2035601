"""A web process that saw the events' doorbell rung less than half a second ago does not ask
the database again; the rings it skipped are owed, and paid when that half second is over,
so a task that started (answered) meanwhile still gets a successor for the skipped events.

These tests commit and queue real tasks (the ORM broker, no inline tasks), as production
does: inside a transaction or with inline tasks the process always asks.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_q.conf import Conf
from django_q.models import OrmQ

from journeys.queue import DOORBELL_TRUST_SECONDS, _Doorbell
from journeys.workers.heartbeats import answer_events_doorbell

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def queued_tasks(monkeypatch):
    """Tasks go to the broker's table instead of running inline (django-q2 reads its
    configuration once, at import)."""
    monkeypatch.setattr(Conf, "SYNC", False)


def test_a_doorbell_seen_rung_is_trusted_for_half_a_second(queued_tasks):
    doorbell = _Doorbell(thread=False)
    doorbell.ring([1], now=100.0)  # rings: its task is queued
    with CaptureQueriesContext(connection) as within_the_trust:
        for tenth in range(1, 5):
            doorbell.ring([1 + tenth], now=100.0 + tenth / 10)
    with CaptureQueriesContext(connection) as after_it:
        doorbell.ring([6], now=100.0 + DOORBELL_TRUST_SECONDS)

    assert len(within_the_trust) == 0
    assert len(after_it) == 1  # asks again: still rung by the queued task, nothing to enqueue
    assert OrmQ.objects.count() == 1


def test_a_skipped_ring_is_paid_when_the_trust_runs_out(queued_tasks):
    doorbell = _Doorbell(thread=False)
    doorbell.ring([1], now=100.0)
    answer_events_doorbell()  # its task started, took what was waiting, and may be done
    doorbell.ring([2], now=100.2)  # trusted: no question, but event 2 is owed a ring

    assert OrmQ.objects.count() == 1
    assert not doorbell.settle(now=100.0 + DOORBELL_TRUST_SECONDS / 2)
    assert doorbell.settle(now=100.0 + DOORBELL_TRUST_SECONDS)
    assert OrmQ.objects.count() == 2  # rung again: a task takes event 2
    assert not doorbell.settle(now=101.0 + DOORBELL_TRUST_SECONDS)  # nothing owed any more


def test_a_question_asked_for_a_later_request_pays_what_was_owed(queued_tasks):
    doorbell = _Doorbell(thread=False)
    doorbell.ring([1], now=100.0)
    answer_events_doorbell()
    doorbell.ring([2], now=100.2)  # owed
    doorbell.ring([3], now=100.6)  # past the trust: asks, rings (answered), its task takes 2 and 3

    assert OrmQ.objects.count() == 2
    assert not doorbell.settle(now=101.0)


def test_with_inline_tasks_every_ring_asks():
    doorbell = _Doorbell(thread=False)
    with CaptureQueriesContext(connection) as queries:
        doorbell.ring([], now=100.0)
        doorbell.ring([], now=100.1)

    # Each ring asks the row (an inline task answers it at once: trusting it would be wrong).
    assert sum(q["sql"].startswith('INSERT INTO "journeys_heartbeat"') for q in queries) == 2
