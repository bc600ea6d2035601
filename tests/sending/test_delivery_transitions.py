"""journeys.deliveries: every status change goes through one table; a change it does not
allow is an error, and writes nothing."""

import pytest
from django.utils import timezone

from journeys import deliveries
from journeys.deliveries import TRANSITIONS, ForbiddenTransition
from journeys.models import Delivery, DeliveryStatus

S = DeliveryStatus


def test_the_table_names_every_status():
    assert set(TRANSITIONS) == set(S.values)
    assert all(set(targets) <= set(S.values) for targets in TRANSITIONS.values())


def test_nothing_leaves_a_final_status():
    for final in (S.CLICKED, S.BOUNCED, S.BLOCKED, S.FAILED):
        assert TRANSITIONS[final] == frozenset()


@pytest.mark.parametrize(
    ("source", "target"),
    [(S.SENT, S.QUEUED), (S.SENT, S.HELD), (S.BLOCKED, S.QUEUED), (S.CLICKED, S.OPENED), (S.FAILED, S.SENT)],
)
def test_a_forbidden_change_raises_and_writes_nothing(make_delivery, text, source, target):
    delivery = make_delivery(text, status=source)
    before = Delivery.objects.get(pk=delivery.pk).updated_at

    with pytest.raises(ForbiddenTransition):
        deliveries._move(Delivery.objects.filter(pk=delivery.pk), [source], target)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.updated_at) == (source, before)


def test_a_delivery_cannot_start_as_sent(participant, text):
    step = participant.version.steps.create(key="t", kind="text", content=text, position=0)

    with pytest.raises(ForbiddenTransition):
        deliveries.create(
            participant, step, address="+1555", status=S.SENT, reason="", next_attempt_at=None, now=timezone.now()
        )
    assert not Delivery.objects.exists()


def test_a_writer_that_lost_the_race_changes_nothing(make_delivery, text):
    delivery = make_delivery(text)
    deliveries.block(delivery, "unsubscribed")

    deliveries.mark_sent(delivery, "pm-1")  # the send finished after the block won

    delivery.refresh_from_db()
    assert (delivery.status, delivery.reason, delivery.provider_message_id) == (S.BLOCKED, "unsubscribed", "")
