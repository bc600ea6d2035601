"""The seed scenario, end to end: abandoned cart → email; not opened in a day → text;
a day later → push; Purchase completed exits and counts toward the goal."""

from datetime import timedelta

from journeys.models import Delivery, Participant

ANA = {"id": "cust-ana", "email": "ana@example.com", "phone": "+15551230001", "push_token": "tok-ana"}


def _deliveries(contact_id: str) -> list[tuple[str, str]]:
    return list(
        Delivery.objects.filter(contact__external_id=contact_id)
        .order_by("created_at", "pk")
        .values_list("step__key", "status")
    )


def _history(participant: Participant) -> list[tuple[str, str]]:
    return list(participant.history.order_by("at", "pk").values_list("step_key", "outcome"))


def test_a_cart_over_50_gets_the_email_at_once(seed_journey, raise_event):
    raise_event("abandoned_cart", ANA, {"cart_total": 80})

    participant = Participant.objects.get(contact__external_id="cust-ana")
    assert participant.state == "active"
    assert participant.current_step.key == "opened"
    assert [key for key, _ in _deliveries("cust-ana")] == ["initial-email"]
    assert _deliveries("cust-ana")[0][1] in ("queued", "sent")


def test_a_cart_of_40_does_not_enter(seed_journey, raise_event):
    raise_event("abandoned_cart", {"id": "cust-low", "email": "low@example.com"}, {"cart_total": 40})

    assert not Participant.objects.filter(contact__external_id="cust-low").exists()
    assert _deliveries("cust-low") == []


def test_without_an_open_the_text_follows_a_day_later_and_the_push_a_day_after(
    seed_journey, raise_event, run_sweep, clock
):
    raise_event("abandoned_cart", ANA, {"cart_total": 80})

    clock.shift(timedelta(hours=23))
    run_sweep()
    assert [key for key, _ in _deliveries("cust-ana")] == ["initial-email"]

    clock.shift(timedelta(hours=2))
    run_sweep()
    assert [key for key, _ in _deliveries("cust-ana")] == ["initial-email", "second-text"]
    participant = Participant.objects.get(contact__external_id="cust-ana")
    assert participant.current_step.key == "wait-a-day"

    clock.shift(timedelta(hours=23))
    run_sweep()
    assert [key for key, _ in _deliveries("cust-ana")] == ["initial-email", "second-text"]

    clock.shift(timedelta(hours=2))
    run_sweep()
    participant.refresh_from_db()
    assert [key for key, _ in _deliveries("cust-ana")] == ["initial-email", "second-text", "final-push"]
    assert participant.state == "completed"
    assert _history(participant) == [
        ("", "entered"),
        ("initial-email", "sent"),
        ("opened", "waiting"),
        ("opened", "no"),
        ("second-text", "sent"),
        ("wait-a-day", "waiting"),
        ("wait-a-day", "waited"),
        ("final-push", "sent"),
        ("final-push", "completed"),
    ]


def test_opening_the_email_takes_the_yes_path_and_no_text_is_sent(seed_journey, raise_event, run_sweep, clock):
    raise_event("abandoned_cart", ANA, {"cart_total": 80})
    email = Delivery.objects.get(contact__external_id="cust-ana", step__key="initial-email")

    clock.shift(timedelta(hours=3))
    raise_event("email_opened", {"id": "cust-ana"}, {"delivery_id": str(email.pk)})
    clock.shift(timedelta(days=3))
    run_sweep()

    participant = Participant.objects.get(contact__external_id="cust-ana")
    assert participant.state == "completed"
    assert [key for key, _ in _deliveries("cust-ana")] == ["initial-email"]
    assert ("opened", "yes") in _history(participant)


def test_opening_another_email_does_not_count(seed_journey, raise_event, run_sweep, clock):
    raise_event("abandoned_cart", ANA, {"cart_total": 80})

    clock.shift(timedelta(hours=3))
    raise_event("email_opened", {"id": "cust-ana"}, {"delivery_id": "999999"})
    clock.shift(timedelta(hours=22))
    run_sweep()

    assert [key for key, _ in _deliveries("cust-ana")] == ["initial-email", "second-text"]


def test_a_purchase_exits_the_journey_meets_the_goal_and_nothing_more_is_sent(
    seed_journey, raise_event, run_sweep, clock
):
    raise_event("abandoned_cart", ANA, {"cart_total": 80})

    clock.shift(timedelta(hours=5))
    raise_event("purchase_completed", {"id": "cust-ana"}, {"order_total": 80})
    clock.shift(timedelta(days=5))
    run_sweep()

    participant = Participant.objects.get(contact__external_id="cust-ana")
    assert participant.state == "exited"
    assert participant.exit_reason == "exit_trigger"
    assert participant.goal_met
    assert [key for key, _ in _deliveries("cust-ana")] == ["initial-email"]


def test_a_contact_in_the_journey_does_not_enter_twice_but_may_after_leaving(seed_journey, raise_event, clock):
    raise_event("abandoned_cart", ANA, {"cart_total": 80})
    raise_event("abandoned_cart", ANA, {"cart_total": 90})
    assert Participant.objects.filter(contact__external_id="cust-ana").count() == 1

    raise_event("purchase_completed", {"id": "cust-ana"})
    clock.shift(timedelta(minutes=1))
    raise_event("abandoned_cart", ANA, {"cart_total": 95})

    states = sorted(Participant.objects.filter(contact__external_id="cust-ana").values_list("state", flat=True))
    assert states == ["active", "exited"]
