"""The seed scenario through the real API, the real tracking pixel and the email backend,
with time travelling: the issue's acceptance test."""

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core import mail
from rest_framework.test import APIClient

from journeys.models import Delivery, Participant
from journeys.tracking import open_url
from triggers.keys import create_api_key

CONTACTS = {
    "ana": {
        "id": "ana",
        "email": "ana@example.com",
        "phone": "+15551230001",
        "push_token": "tok-ana",
        "first_name": "Ana",
    },
    "bo": {"id": "bo", "email": "bo@example.com", "phone": "+15551230002", "push_token": "tok-bo"},
    "cy": {"id": "cy", "email": "cy@example.com", "phone": "+15551230003", "push_token": "tok-cy"},
    "di": {"id": "di", "email": "di@example.com", "phone": "+15551230004", "push_token": "tok-di"},
}


@pytest.fixture
def website(db) -> APIClient:
    _, raw = create_api_key("Shop website", scope="events:write", source="shop")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def send(website, django_capture_on_commit_callbacks):
    def _send(trigger: str, who: str, attributes: dict | None = None) -> None:
        body = {"trigger": trigger, "contact": CONTACTS[who], "attributes": attributes or {}}
        with django_capture_on_commit_callbacks(execute=True):
            response = website.post("/api/v1/events", body, format="json")
        assert response.status_code == 202, response.content

    return _send


def _sent(who: str) -> list[str]:
    return list(
        Delivery.objects.filter(contact__external_id=who, status__in=["sent", "delivered", "opened", "clicked"])
        .order_by("pk")
        .values_list("step__key", flat=True)
    )


def test_the_seed_journey_end_to_end(seed_journey, send, run_sweep, clock, client, django_capture_on_commit_callbacks):
    for who in ("ana", "bo", "cy"):
        send("abandoned_cart", who, {"cart_total": 80})
    send("abandoned_cart", "di", {"cart_total": 40})

    assert {who: _sent(who) for who in CONTACTS} == {
        "ana": ["initial-email"],
        "bo": ["initial-email"],
        "cy": ["initial-email"],
        "di": [],
    }
    ana_email = next(m for m in mail.outbox if m.to == ["ana@example.com"])
    assert ana_email.subject == "Ana, you left something in your cart"

    # Bo opens the email: the tracking pixel raises email_opened for that delivery.
    bo_email = Delivery.objects.get(contact__external_id="bo", step__key="initial-email")
    clock.shift(timedelta(hours=2))
    with django_capture_on_commit_callbacks(execute=True):
        pixel = client.get(urlsplit(open_url(bo_email.pk)).path)
    assert pixel.status_code == 200
    bo_email.refresh_from_db()
    assert bo_email.status == "opened"

    # Cy buys: exits, goal met.
    clock.shift(timedelta(hours=1))
    send("purchase_completed", "cy", {"order_total": 80})

    clock.shift(timedelta(hours=22))  # 25 hours after the carts
    run_sweep()
    assert {who: _sent(who) for who in ("ana", "bo", "cy")} == {
        "ana": ["initial-email", "second-text"],
        "bo": ["initial-email"],
        "cy": ["initial-email"],
    }

    clock.shift(timedelta(hours=25))
    run_sweep()
    assert _sent("ana") == ["initial-email", "second-text", "final-push"]

    participants = {p.contact.external_id: p for p in Participant.objects.select_related("contact")}
    assert sorted(participants) == ["ana", "bo", "cy"]
    assert (participants["ana"].state, participants["ana"].goal_met) == ("completed", False)
    assert (participants["bo"].state, participants["bo"].goal_met) == ("completed", False)
    assert (participants["cy"].state, participants["cy"].exit_reason, participants["cy"].goal_met) == (
        "exited",
        "exit_trigger",
        True,
    )
    assert len([m for m in mail.outbox if m.to == ["ana@example.com"]]) == 1
