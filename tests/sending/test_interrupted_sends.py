"""A send whose worker died after the claim: its outcome is unknown. At most once (the
default) records it as `unknown` and never sends it; at least once sends it again after
the lease."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.test import override_settings

from content.backends import common
from journeys.models import Delivery, DeliveryStatus
from journeys.sending import LEASE, LOST_TASK_GRACE, begin_attempt, claim, dispatch_delivery, retry_due_deliveries

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def _claimed_by_a_worker_that_then_died(delivery: Delivery) -> None:
    """Claimed, handed to the provider, and then the worker was killed."""
    assert claim(delivery.pk, T0)
    with time_machine.travel(T0, tick=False):
        begin_attempt(delivery)


def test_a_worker_killed_before_it_reached_the_provider_leaves_a_send_that_goes_out_after_the_lease(
    make_delivery, text
):
    delivery = make_delivery(text)
    assert claim(delivery.pk, T0)

    with time_machine.travel(T0 + LEASE + timedelta(seconds=1), tick=False):
        assert retry_due_deliveries() == 1
        dispatch_delivery(delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 2)
    assert len(common.text_outbox) == 1


def test_a_send_interrupted_by_a_dead_worker_is_recorded_unknown_and_never_sent(make_delivery, text):
    delivery = make_delivery(text)
    _claimed_by_a_worker_that_then_died(delivery)

    with time_machine.travel(T0 + LEASE + timedelta(seconds=1), tick=False):
        assert retry_due_deliveries() == 0
        dispatch_delivery(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.UNKNOWN
    assert "not sent again" in delivery.reason
    assert delivery.next_attempt_at is None
    assert common.text_outbox == []


def test_before_its_lease_ends_an_interrupted_send_is_left_alone(make_delivery, text):
    delivery = make_delivery(text)
    _claimed_by_a_worker_that_then_died(delivery)

    with time_machine.travel(T0 + LEASE - timedelta(seconds=5), tick=False):
        assert retry_due_deliveries() == 0

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.QUEUED
    assert delivery.sending_started_at == T0


@override_settings(DELIVERY_GUARANTEE="at-least-once")
def test_at_least_once_sends_an_interrupted_send_again_after_its_lease(make_delivery, email):
    delivery = make_delivery(email)
    _claimed_by_a_worker_that_then_died(delivery)

    with time_machine.travel(T0 + LEASE + timedelta(seconds=1), tick=False):
        assert retry_due_deliveries() == 1
        dispatch_delivery(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.attempts == 2
    assert delivery.sending_started_at is None
    assert len(mail.outbox) == 1


@pytest.mark.parametrize("guarantee", ["at-most-once", "at-least-once"])
def test_a_completed_send_clears_its_attempt_mark(make_delivery, text, guarantee):
    delivery = make_delivery(text)
    with override_settings(DELIVERY_GUARANTEE=guarantee):
        dispatch_delivery(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.sending_started_at) == (DeliveryStatus.SENT, None)


@override_settings(DELIVERY_LEASE_SECONDS=30)
def test_the_lease_is_a_setting(make_delivery, text):
    delivery = make_delivery(text)
    _claimed_by_a_worker_that_then_died(delivery)

    with time_machine.travel(T0 + timedelta(seconds=31), tick=False):
        retry_due_deliveries()

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.UNKNOWN


def test_a_misspelt_guarantee_stops_the_project_at_start_up():
    from journeys.checks import delivery_guarantee_errors

    assert delivery_guarantee_errors("at-least-once") == []
    assert [error.id for error in delivery_guarantee_errors("exactly-once")] == ["journeys.E006"]


def test_a_queued_send_whose_task_was_lost_is_dispatched_again_after_two_minutes(make_delivery, text):
    with time_machine.travel(T0, tick=False):
        make_delivery(text)

    with time_machine.travel(T0 + LOST_TASK_GRACE - timedelta(seconds=5), tick=False):
        assert retry_due_deliveries() == 0
    with time_machine.travel(T0 + LOST_TASK_GRACE + timedelta(seconds=1), tick=False):
        assert retry_due_deliveries() == 1


@override_settings(DELIVERY_LEASE_SECONDS=30)
def test_with_a_shorter_lease_a_lost_send_goes_out_after_the_lease_and_only_once(make_delivery, text):
    with time_machine.travel(T0, tick=False):
        delivery = make_delivery(text)

    with time_machine.travel(T0 + timedelta(seconds=25), tick=False):
        assert retry_due_deliveries() == 0
    with time_machine.travel(T0 + timedelta(seconds=31), tick=False):
        assert retry_due_deliveries() == 1
        dispatch_delivery(delivery.pk)
        # Its first task was only late, not lost: it finds the send done and does nothing.
        dispatch_delivery(delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 1)
    assert len(common.text_outbox) == 1
