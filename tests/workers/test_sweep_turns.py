"""Between the one-minute schedules, the clusters take turns to enqueue a sweep: due
participants and work a dead worker dropped are found within seconds, by one cluster at a time."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.test import override_settings

from journeys.workers.heartbeats import claim_sweep_turn
from journeys.workers.sentinel import SWEEP_SKIPPED_ABOVE_QUEUED, SupervisedSentinel

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
EVERY = timedelta(seconds=15)


def test_one_cluster_per_turn_wins_the_sweep():
    assert claim_sweep_turn(EVERY, now=T0)
    assert not claim_sweep_turn(EVERY, now=T0 + timedelta(seconds=1))  # the other cluster
    assert not claim_sweep_turn(EVERY, now=T0 + timedelta(seconds=14))
    assert claim_sweep_turn(EVERY, now=T0 + timedelta(seconds=15))


def _guard(queued: int) -> SimpleNamespace:
    return SimpleNamespace(_last_sweep_check=0.0, broker=SimpleNamespace(queue_size=lambda: queued))


@override_settings(SWEEP_EVERY_SECONDS=15)
def test_the_guard_loop_whose_turn_it_is_enqueues_a_sweep(django_capture_on_commit_callbacks):
    guard = _guard(queued=0)
    with django_capture_on_commit_callbacks() as enqueued:
        SupervisedSentinel._ask_for_a_sweep(guard)
        SupervisedSentinel._ask_for_a_sweep(guard)  # the next guard turn: asked a moment ago
    assert len(enqueued) == 1


@override_settings(SWEEP_EVERY_SECONDS=15)
def test_a_backlog_is_worked_through_not_swept_again(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as enqueued:
        SupervisedSentinel._ask_for_a_sweep(_guard(queued=SWEEP_SKIPPED_ABOVE_QUEUED + 1))
    assert enqueued == []


@override_settings(SWEEP_EVERY_SECONDS=0)
def test_without_extra_sweeps_only_the_schedule_sweeps(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as enqueued:
        SupervisedSentinel._ask_for_a_sweep(_guard(queued=0))
    assert enqueued == []
