"""decide(): address, readiness, consent, the frequency cap and quiet hours."""

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.utils import timezone

from content.models import ContentStatus
from journeys.consent import subscribe, unsubscribe
from journeys.models import Delivery, DeliveryStatus, SendingPolicy
from journeys.policy import Decision, decide


def _decide(contact, content, *, address="ana@example.com", journey_time_zone="Europe/Paris", now=None):
    return decide(
        contact=contact,
        content=content,
        address=address,
        journey_time_zone=journey_time_zone,
        now=now or timezone.now(),
    )


def test_an_empty_address_is_blocked_for_no_address(contact, email):
    assert _decide(contact, email, address="  ") == Decision("block", "no_address")


def test_draft_content_is_blocked_as_not_ready(contact, email):
    email.status = ContentStatus.DRAFT
    email.save()

    assert _decide(contact, email) == Decision("block", "content_not_ready")


def test_a_ready_message_with_no_policy_is_sent(contact, email):
    assert _decide(contact, email) == Decision("send")


def test_an_unsubscribed_contact_gets_no_commercial_message_on_that_channel(contact, email, text):
    unsubscribe(contact, "email", source="unsubscribe link")

    assert _decide(contact, email) == Decision("block", "unsubscribed")
    assert _decide(contact, text, address="+15551234567") == Decision("send")


def test_an_unsubscribed_contact_still_gets_transactional_messages(contact, email):
    email.purpose = "transactional"
    email.save()
    unsubscribe(contact, "email", source="unsubscribe link")

    assert _decide(contact, email) == Decision("send")


def test_subscribing_again_lifts_the_block(contact, email):
    unsubscribe(contact, "email", source="unsubscribe link")
    subscribe(contact, "email", source="api: sign-up form")  # the contact opts in again

    assert _decide(contact, email) == Decision("send")


def _past_delivery(make_delivery, content, status, *, sent_at=None, created_at=None, key=None):
    delivery = make_delivery(content)
    Delivery.objects.filter(pk=delivery.pk).update(
        status=status, sent_at=sent_at, created_at=created_at or sent_at or timezone.now()
    )
    return delivery


@pytest.fixture
def three_per_week(db):
    return SendingPolicy.objects.create(channel="email", cap_count=3, cap_window=timedelta(days=7))


def _other_emails(email, n):
    from content.models import Email

    return [
        Email.objects.create(
            key=f"other-{i}", name=f"Other {i}", status="ready", subject="s", from_email="shop@example.com"
        )
        for i in range(n)
    ]


def test_the_frequency_cap_blocks_the_fourth_commercial_email_in_seven_days_and_lifts_when_the_window_rolls(
    contact, email, make_delivery, three_per_week
):
    others = _other_emails(email, 3)
    with time_machine.travel(datetime(2026, 3, 1, 12, tzinfo=UTC), tick=False):
        now = timezone.now()
        _past_delivery(make_delivery, others[0], DeliveryStatus.OPENED, sent_at=now - timedelta(days=6))
        _past_delivery(make_delivery, others[1], DeliveryStatus.SENT, sent_at=now - timedelta(days=2))
        _past_delivery(make_delivery, others[2], DeliveryStatus.QUEUED, created_at=now - timedelta(minutes=5))

        assert _decide(contact, email) == Decision("block", "frequency_cap")

    # A day later the oldest one has left the rolling window.
    with time_machine.travel(datetime(2026, 3, 2, 12, 1, tzinfo=UTC), tick=False):
        assert _decide(contact, email) == Decision("send")


def test_blocked_failed_held_and_transactional_messages_do_not_count_toward_the_cap(
    contact, email, make_delivery, three_per_week
):
    others = _other_emails(email, 4)
    now = timezone.now()
    _past_delivery(make_delivery, others[0], DeliveryStatus.BLOCKED)
    _past_delivery(make_delivery, others[1], DeliveryStatus.FAILED)
    _past_delivery(make_delivery, others[2], DeliveryStatus.HELD)
    transactional = _past_delivery(make_delivery, others[3], DeliveryStatus.SENT, sent_at=now - timedelta(hours=1))
    Delivery.objects.filter(pk=transactional.pk).update(commercial=False)
    _past_delivery(make_delivery, email, DeliveryStatus.SENT, sent_at=now - timedelta(hours=2))

    assert _decide(contact, email) == Decision("send")


def test_the_cap_is_per_channel_and_does_not_apply_to_transactional_content(
    contact, email, text, make_delivery, three_per_week
):
    others = _other_emails(email, 3)
    now = timezone.now()
    for other in others:
        _past_delivery(make_delivery, other, DeliveryStatus.SENT, sent_at=now - timedelta(hours=1))

    assert _decide(contact, text, address="+15551234567") == Decision("send")
    email.purpose = "transactional"
    email.save()
    assert _decide(contact, email) == Decision("send")


@pytest.fixture
def quiet_nights(db):
    return SendingPolicy.objects.create(channel="email", quiet_hours_start=time(21), quiet_hours_end=time(8))


def test_a_message_at_night_in_the_contacts_time_zone_is_held_until_eight_local(contact, email, quiet_nights):
    # Lisbon is UTC+0 in January: 23:30 local, held until 08:00 the next morning.
    with time_machine.travel(datetime(2026, 1, 10, 23, 30, tzinfo=UTC), tick=False):
        decision = _decide(contact, email)

    assert decision == Decision("hold", until=datetime(2026, 1, 11, 8, 0, tzinfo=UTC))


def test_quiet_hours_after_midnight_end_the_same_morning(contact, email, quiet_nights):
    with time_machine.travel(datetime(2026, 1, 10, 5, 0, tzinfo=UTC), tick=False):
        assert _decide(contact, email) == Decision("hold", until=datetime(2026, 1, 10, 8, 0, tzinfo=UTC))


def test_daytime_messages_are_sent(contact, email, quiet_nights):
    with time_machine.travel(datetime(2026, 1, 10, 8, 0, tzinfo=UTC), tick=False):
        assert _decide(contact, email) == Decision("send")
    with time_machine.travel(datetime(2026, 1, 10, 20, 59, tzinfo=UTC), tick=False):
        assert _decide(contact, email) == Decision("send")


def test_without_a_contact_time_zone_the_journeys_is_used(contact, email, quiet_nights):
    contact.time_zone = ""
    contact.save()
    # 20:30 UTC is 21:30 in Paris (UTC+1 in January): quiet until 08:00 Paris = 07:00 UTC.
    with time_machine.travel(datetime(2026, 1, 10, 20, 30, tzinfo=UTC), tick=False):
        decision = _decide(contact, email, journey_time_zone="Europe/Paris")

    assert decision == Decision("hold", until=datetime(2026, 1, 11, 7, 0, tzinfo=UTC))


def test_an_unknown_contact_time_zone_falls_back_to_the_journeys(contact, email, quiet_nights):
    contact.time_zone = "Mars/Olympus"
    contact.save()
    with time_machine.travel(datetime(2026, 1, 10, 20, 30, tzinfo=UTC), tick=False):
        decision = _decide(contact, email, journey_time_zone="Europe/Paris")

    assert decision == Decision("hold", until=datetime(2026, 1, 11, 7, 0, tzinfo=UTC))


def test_quiet_hours_end_at_eight_local_across_the_spring_daylight_saving_change(contact, email, quiet_nights):
    contact.time_zone = "Europe/Paris"
    contact.save()
    # The night of 28-29 March 2026 Paris moves from UTC+1 to UTC+2: 08:00 local is 06:00 UTC.
    with time_machine.travel(datetime(2026, 3, 28, 22, 0, tzinfo=UTC), tick=False):
        decision = _decide(contact, email)

    assert decision == Decision("hold", until=datetime(2026, 3, 29, 6, 0, tzinfo=UTC))


def test_a_daytime_quiet_window_holds_until_it_ends(contact, email):
    SendingPolicy.objects.create(channel="email", quiet_hours_start=time(12), quiet_hours_end=time(14))
    with time_machine.travel(datetime(2026, 7, 1, 12, 30, tzinfo=UTC), tick=False):
        # Lisbon is UTC+1 in July: 13:30 local, quiet until 14:00 local = 13:00 UTC.
        assert _decide(contact, email) == Decision("hold", until=datetime(2026, 7, 1, 13, 0, tzinfo=UTC))


def test_a_blocked_decision_wins_over_quiet_hours(contact, email, quiet_nights):
    unsubscribe(contact, "email", source="unsubscribe link")
    with time_machine.travel(datetime(2026, 1, 10, 23, 30, tzinfo=UTC), tick=False):
        assert _decide(contact, email) == Decision("block", "unsubscribed")


def test_deciding_takes_at_most_two_queries(contact, email, three_per_week, django_assert_max_num_queries):
    three_per_week.quiet_hours_start, three_per_week.quiet_hours_end = time(21), time(8)
    three_per_week.save()
    unsubscribe(contact, "text", source="admin")

    with django_assert_max_num_queries(2):
        decision = _decide(contact, email, now=datetime(2026, 1, 10, 12, tzinfo=UTC))

    assert decision == Decision("send")


def test_a_marketer_sets_the_cap_and_quiet_hours_in_the_admin(client, marketer, contact, email, make_delivery):
    from django.urls import reverse

    client.force_login(marketer)
    response = client.post(
        reverse("admin:journeys_sendingpolicy_add"),
        {
            "channel": "email",
            "cap_count": "3",
            "cap_window": "7 00:00:00",
            "quiet_hours_start": "21:00",
            "quiet_hours_end": "08:00",
        },
    )

    assert response.status_code == 302
    policy = SendingPolicy.objects.get(channel="email")
    assert (policy.cap_count, policy.cap_window) == (3, timedelta(days=7))
    others = _other_emails(email, 3)
    with time_machine.travel(datetime(2026, 3, 2, 12, tzinfo=UTC), tick=False):
        for other in others:
            _past_delivery(make_delivery, other, DeliveryStatus.SENT, sent_at=timezone.now() - timedelta(days=1))
        assert _decide(contact, email) == Decision("block", "frequency_cap")
    Delivery.objects.update(status=DeliveryStatus.FAILED)
    # 23:00 in Lisbon: held until 08:00 there.
    with time_machine.travel(datetime(2026, 3, 2, 23, tzinfo=UTC), tick=False):
        assert _decide(contact, email) == Decision("hold", until=datetime(2026, 3, 3, 8, tzinfo=UTC))


def test_a_contact_created_in_a_group_is_capped_by_the_messages_the_group_queued(contact, email, three_per_week):
    from journeys.policy import contact_created, policies_read_once

    with policies_read_once():
        contact_created(contact.pk)  # first seen in this group's event: nothing to read
        assert [_decide(contact, email) for _ in range(4)] == [Decision("send")] * 3 + [
            Decision("block", "frequency_cap")
        ]
