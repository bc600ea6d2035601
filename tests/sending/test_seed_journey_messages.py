"""The seed journey's messages through the real engine: the email's own pixel takes the yes
path, and an unsubscribed or capped contact's message is blocked while the participant goes on."""

import re
from datetime import timedelta

from django.core import mail
from django.urls import reverse

from journeys.consent import unsubscribe
from journeys.models import Contact, Delivery, Participant, SendingPolicy
from triggers.models import Event

ANA = {"id": "cust-ana", "email": "ana@example.com", "phone": "+15551230001", "push_token": "tok-ana"}


def _deliveries() -> dict[str, tuple[str, str]]:
    return {
        key: (status, reason) for key, status, reason in Delivery.objects.values_list("step__key", "status", "reason")
    }


def _open_pixel(message) -> str:
    html = message.alternatives[0].content
    return re.search(r'<img src="http://testserver(/t/o/[^"]+\.gif)"', html).group(1)


def test_fetching_the_sent_emails_pixel_takes_the_yes_path_and_sends_no_text(
    seed_journey, raise_event, run_sweep, clock, client, django_capture_on_commit_callbacks
):
    raise_event("abandoned_cart", ANA, {"cart_total": 80})
    [email] = mail.outbox
    assert (email.to, email.subject) == (["ana@example.com"], "Hi there, you left something in your cart")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(_open_pixel(email))
        client.get(_open_pixel(email))  # a second open is recorded, and raises nothing more

    assert response.status_code == 200
    delivery = Delivery.objects.get(step__key="initial-email")
    assert Event.objects.filter(trigger__key="email_opened").count() == 1
    assert delivery.interactions.count() == 2
    participant = Participant.objects.get()
    assert participant.state == "completed"
    clock.shift(timedelta(days=3))
    run_sweep()
    assert set(_deliveries()) == {"initial-email"}
    assert len(mail.outbox) == 1


def test_a_tampered_pixel_answers_404_and_the_journey_still_waits_for_the_open(
    seed_journey, raise_event, clock, client, django_capture_on_commit_callbacks
):
    raise_event("abandoned_cart", ANA, {"cart_total": 80})
    pixel = _open_pixel(mail.outbox[0])
    token = pixel.removeprefix("/t/o/").removesuffix(".gif")
    tampered = reverse("journeys:track-open", args=[token[:-1] + ("A" if token[-1] != "A" else "B")])

    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(tampered).status_code == 404

    assert not Event.objects.filter(trigger__key="email_opened").exists()
    assert Participant.objects.get().current_step.key == "opened"


def test_an_unsubscribed_contact_gets_no_email_and_goes_on_to_the_text(seed_journey, raise_event, run_sweep, clock):
    ana = Contact.objects.create(external_id="cust-ana", email="ana@example.com")
    unsubscribe(ana, "email", source="admin")

    raise_event("abandoned_cart", ANA, {"cart_total": 80})

    assert _deliveries() == {"initial-email": ("blocked", "unsubscribed")}
    assert mail.outbox == []
    assert Participant.objects.get().current_step.key == "opened"
    clock.shift(timedelta(hours=25))
    run_sweep()
    assert _deliveries()["second-text"] == ("sent", "")


def test_a_capped_text_is_blocked_and_the_participant_goes_on_to_the_push(seed_journey, raise_event, run_sweep, clock):
    SendingPolicy.objects.create(channel="text", cap_count=1, cap_window=timedelta(days=7))
    raise_event("abandoned_cart", ANA, {"cart_total": 80})
    clock.shift(timedelta(hours=25))
    run_sweep()
    assert _deliveries()["second-text"] == ("sent", "")
    raise_event("purchase_completed", {"id": "cust-ana"})

    # Three days later Ana abandons another cart: her second text in a week is over the cap.
    clock.shift(timedelta(days=2))
    raise_event("abandoned_cart", ANA, {"cart_total": 90}, binding_id="cart-2")
    clock.shift(timedelta(hours=25))
    run_sweep()

    second = Participant.objects.filter(state="active").get()
    texts = list(Delivery.objects.filter(step__key="second-text").order_by("pk").values_list("status", "reason"))
    assert texts == [("sent", ""), ("blocked", "frequency_cap")]
    assert second.current_step.key == "wait-a-day"
    clock.shift(timedelta(hours=25))
    run_sweep()
    assert Delivery.objects.get(participant=second, step__key="final-push").status == "sent"
