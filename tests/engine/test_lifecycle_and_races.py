"""Pause, resume, stop, versions, repeat policies, and the races that break journey engines."""

from datetime import timedelta

import pytest

from journeys import publishing
from journeys.bundles import import_bundle
from journeys.models import Delivery, Journey, JourneyVersion, Participant
from journeys.reactions import process_event
from journeys.sweep import advance_due

ANA = {"id": "cust-ana", "email": "ana@example.com", "phone": "+15551230001", "push_token": "tok-ana"}


def _steps_sent(contact="cust-ana") -> list[str]:
    return list(
        Delivery.objects.filter(contact__external_id=contact).order_by("pk").values_list("step__key", flat=True)
    )


def test_a_paused_journey_takes_no_one_and_holds_participants_until_resumed(
    seed_journey, raise_event, run_sweep, clock
):
    raise_event("abandoned_cart", ANA, {"cart_total": 80})
    publishing.pause(seed_journey)

    raise_event("abandoned_cart", {"id": "cust-bo", "email": "bo@example.com"}, {"cart_total": 80})
    clock.shift(timedelta(hours=30))
    run_sweep()
    assert _steps_sent() == ["initial-email"]
    assert not Participant.objects.filter(contact__external_id="cust-bo").exists()

    publishing.resume(seed_journey)
    run_sweep()
    assert _steps_sent() == ["initial-email", "second-text"]


def test_stopping_a_journey_ends_every_participant(seed_journey, raise_event, run_sweep, clock):
    raise_event("abandoned_cart", ANA, {"cart_total": 80})

    stopped = publishing.stop(seed_journey)
    clock.shift(timedelta(days=3))
    run_sweep()

    participant = Participant.objects.get()
    assert stopped == 1
    assert (participant.state, participant.exit_reason) == ("stopped", "stopped")
    assert _steps_sent() == ["initial-email"]
    assert Journey.objects.get().status == "stopped"


def test_a_paused_journey_cannot_be_paused_again(seed_journey):
    publishing.pause(seed_journey)

    with pytest.raises(publishing.LifecycleError):
        publishing.pause(seed_journey)


def test_a_live_journey_cannot_be_resumed_and_the_error_says_what_can(seed_journey):
    with pytest.raises(publishing.LifecycleError, match="only a paused journey can be resumed; this one is live"):
        publishing.resume(seed_journey)


def test_participants_finish_the_version_they_entered(seed_journey, seed_bundle, raise_event, run_sweep, clock):
    raise_event("abandoned_cart", ANA, {"cart_total": 80})
    seed_bundle["journeys"][0]["steps"][1]["within"] = "3d"
    import_bundle(seed_bundle, publish_journeys=True)
    raise_event(
        "abandoned_cart", {"id": "cust-bo", "email": "bo@example.com", "phone": "+15551230002"}, {"cart_total": 80}
    )

    clock.shift(timedelta(hours=25))
    run_sweep()

    assert Participant.objects.get(contact__external_id="cust-ana").version.number == 1
    assert Participant.objects.get(contact__external_id="cust-bo").version.number == 2
    assert _steps_sent("cust-ana") == ["initial-email", "second-text"]
    assert _steps_sent("cust-bo") == ["initial-email"]


def test_opening_a_draft_of_a_live_journey_copies_it_and_keeps_the_live_one(seed_journey):
    draft = publishing.open_draft(seed_journey)

    assert draft.number == 2
    assert draft.steps.count() == JourneyVersion.objects.get(number=1).steps.count()
    assert JourneyVersion.objects.get(number=1).state == "published"
    assert publishing.open_draft(seed_journey) == draft


def test_discarding_a_draft_leaves_the_live_version_running(seed_journey, raise_event):
    draft = publishing.open_draft(seed_journey)

    publishing.discard_draft(seed_journey)

    assert not JourneyVersion.objects.filter(pk=draft.pk).exists()
    assert list(seed_journey.versions.values_list("number", "state")) == [(1, "published")]
    raise_event("abandoned_cart", ANA, {"cart_total": 80})
    assert Participant.objects.get().version.number == 1
    assert publishing.open_draft(seed_journey).number == 2  # a new draft can be opened again
    with pytest.raises(publishing.LifecycleError, match="no draft"):
        publishing.discard_draft(Journey.objects.create(key="empty", name="Empty"))


def test_the_only_draft_of_a_never_published_journey_cannot_be_discarded(db, seed_bundle):
    import_bundle(seed_bundle)  # not published
    journey = Journey.objects.get(key="abandoned-cart")

    with pytest.raises(publishing.LifecycleError, match="never published"):
        publishing.discard_draft(journey)
    assert journey.versions.count() == 1


def _publish_with_repeat(seed_bundle, repeat: str) -> None:
    seed_bundle["journeys"][0]["start"]["repeat"] = repeat
    import_bundle(seed_bundle, publish_journeys=True)


def test_repeat_never_lets_a_contact_in_once_ever(db, clock, seed_bundle, raise_event):
    _publish_with_repeat(seed_bundle, "never")
    raise_event("abandoned_cart", ANA, {"cart_total": 80})
    raise_event("purchase_completed", {"id": "cust-ana"})

    raise_event("abandoned_cart", ANA, {"cart_total": 80})

    assert Participant.objects.count() == 1


def test_repeat_immediately_starts_an_instance_per_binding(db, clock, seed_bundle, raise_event):
    _publish_with_repeat(seed_bundle, "immediately")
    raise_event("abandoned_cart", ANA, {"cart_total": 80}, binding_id="cart/1")
    raise_event("abandoned_cart", ANA, {"cart_total": 90}, binding_id="cart/2")
    raise_event("abandoned_cart", ANA, {"cart_total": 90}, binding_id="cart/2")

    assert sorted(Participant.objects.values_list("binding_id", flat=True)) == ["cart/1", "cart/2"]

    raise_event("purchase_completed", {"id": "cust-ana"}, binding_id="cart/2")

    states = dict(Participant.objects.values_list("binding_id", "state"))
    assert states == {"cart/1": "active", "cart/2": "exited"}


def test_an_exit_without_binding_reaches_every_instance(db, clock, seed_bundle, raise_event):
    _publish_with_repeat(seed_bundle, "immediately")
    raise_event("abandoned_cart", ANA, {"cart_total": 80}, binding_id="cart/1")
    raise_event("abandoned_cart", ANA, {"cart_total": 90}, binding_id="cart/2")

    raise_event("purchase_completed", {"id": "cust-ana"})

    assert set(Participant.objects.values_list("state", flat=True)) == {"exited"}


def test_an_event_processed_twice_changes_nothing_the_second_time(seed_journey, raise_event):
    event = raise_event("abandoned_cart", ANA, {"cart_total": 80})

    assert process_event(event.pk) is False
    assert Participant.objects.count() == 1
    assert _steps_sent() == ["initial-email"]


def test_a_wake_up_handled_twice_moves_the_participant_once(
    seed_journey, raise_event, clock, django_capture_on_commit_callbacks
):
    raise_event("abandoned_cart", ANA, {"cart_total": 80})
    participant = Participant.objects.get()
    clock.shift(timedelta(hours=25))

    with django_capture_on_commit_callbacks(execute=True):
        first = advance_due(participant.pk, clock_now())
        second = advance_due(participant.pk, clock_now())

    assert (first, second) == (True, False)
    assert _steps_sent() == ["initial-email", "second-text"]


def test_an_open_after_the_timeout_won_does_not_take_the_yes_path(seed_journey, raise_event, run_sweep, clock):
    raise_event("abandoned_cart", ANA, {"cart_total": 80})
    email = Delivery.objects.get(step__key="initial-email")
    clock.shift(timedelta(hours=25))
    run_sweep()

    raise_event("email_opened", {"id": "cust-ana"}, {"delivery_id": str(email.pk)})

    participant = Participant.objects.get()
    outcomes = list(participant.history.filter(step_key="opened").values_list("outcome", flat=True))
    assert outcomes == ["waiting", "no"]
    assert participant.current_step.key == "wait-a-day"


def test_an_open_that_won_leaves_nothing_for_the_timeout(seed_journey, raise_event, run_sweep, clock):
    raise_event("abandoned_cart", ANA, {"cart_total": 80})
    email = Delivery.objects.get(step__key="initial-email")
    clock.shift(timedelta(hours=23, minutes=59))
    raise_event("email_opened", {"id": "cust-ana"}, {"delivery_id": str(email.pk)})

    clock.shift(timedelta(minutes=2))
    report = run_sweep()

    participant = Participant.objects.get()
    assert report.participants_due == 0
    outcomes = list(participant.history.filter(step_key="opened").values_list("outcome", flat=True))
    assert outcomes == ["waiting", "yes", "completed"]
    assert participant.state == "completed"


def test_a_goal_after_leaving_counts_within_three_days(seed_journey, raise_event, run_sweep, clock):
    _complete_the_journey(raise_event, run_sweep, clock)
    participant = Participant.objects.get()
    assert participant.state == "completed"

    clock.shift(timedelta(days=2))
    raise_event("purchase_completed", {"id": "cust-ana"})

    participant.refresh_from_db()
    assert participant.goal_met


def test_a_goal_long_after_leaving_does_not_count(seed_journey, raise_event, run_sweep, clock):
    _complete_the_journey(raise_event, run_sweep, clock)

    clock.shift(timedelta(days=4))
    raise_event("purchase_completed", {"id": "cust-ana"})

    assert not Participant.objects.get().goal_met


def clock_now():
    from django.utils import timezone

    return timezone.now()


def _complete_the_journey(raise_event, run_sweep, clock):
    raise_event("abandoned_cart", ANA, {"cart_total": 80})
    for _ in range(2):
        clock.shift(timedelta(hours=25))
        run_sweep()


def test_an_exit_before_the_email_is_dispatched_means_it_is_never_sent(
    seed_journey, raise_event, django_capture_on_commit_callbacks
):
    from django.core import mail

    from journeys.tasks import dispatch_delivery

    raise_event("abandoned_cart", {**ANA, "id": "cust-race"}, {"cart_total": 80})
    email = Delivery.objects.get(step__key="initial-email")
    # Rewind the email to "queued, not yet claimed", as if its dispatch task were still in the queue.
    Delivery.objects.filter(pk=email.pk).update(status="queued", sent_at=None, next_attempt_at=None)
    mail.outbox.clear()

    raise_event("purchase_completed", {"id": "cust-race"})
    dispatch_delivery(email.pk)

    email.refresh_from_db()
    assert (email.status, email.reason) == ("blocked", "participant_left")
    assert mail.outbox == []


def test_quiet_hours_hold_the_participant_and_send_when_they_end(seed_journey, raise_event, run_sweep, clock):
    from datetime import time

    from journeys.models import SendingPolicy

    SendingPolicy.objects.create(channel="email", quiet_hours_start=time(21), quiet_hours_end=time(8))
    clock.move_to("2026-11-02T22:30:00Z")
    raise_event("abandoned_cart", ANA, {"cart_total": 80})

    email = Delivery.objects.get(step__key="initial-email")
    participant = Participant.objects.get()
    assert (email.status, participant.current_step.key) == ("held", "initial-email")
    assert participant.wake_at.isoformat() == "2026-11-03T08:00:00+00:00"

    clock.move_to("2026-11-03T08:00:30Z")
    run_sweep()

    email.refresh_from_db()
    participant.refresh_from_db()
    assert email.status == "sent"
    assert participant.current_step.key == "opened"
    assert participant.wake_at.isoformat() == "2026-11-04T08:00:30+00:00"


def test_an_exit_during_quiet_hours_blocks_the_held_message(seed_journey, raise_event, run_sweep, clock):
    from datetime import time

    from journeys.models import SendingPolicy

    SendingPolicy.objects.create(channel="email", quiet_hours_start=time(21), quiet_hours_end=time(8))
    clock.move_to("2026-11-02T22:30:00Z")
    raise_event("abandoned_cart", ANA, {"cart_total": 80})
    raise_event("purchase_completed", {"id": "cust-ana"})
    clock.move_to("2026-11-03T09:00:00Z")
    run_sweep()

    email = Delivery.objects.get(step__key="initial-email")
    assert (email.status, email.reason) == ("blocked", "participant_left")


def test_a_contact_without_a_phone_gets_no_text_and_goes_on(seed_journey, raise_event, run_sweep, clock):
    raise_event(
        "abandoned_cart", {"id": "no-phone", "email": "np@example.com", "push_token": "tok"}, {"cart_total": 80}
    )
    clock.shift(timedelta(hours=25))
    run_sweep()

    statuses = dict(Delivery.objects.values_list("step__key", "status"))
    reasons = dict(Delivery.objects.values_list("step__key", "reason"))
    assert statuses == {"initial-email": "sent", "second-text": "blocked"}
    assert reasons["second-text"] == "no_address"
    assert Participant.objects.get().current_step.key == "wait-a-day"
