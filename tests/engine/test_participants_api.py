"""GET /api/v1/participants/: what happened, for the website team (scope `read`)."""

import pytest
from rest_framework.test import APIClient

from triggers.keys import create_api_key

ANA = {"id": "cust-42", "email": "ana@example.com", "phone": "+15551230001"}


def _client(scope: str) -> APIClient:
    _, raw = create_api_key(f"{scope} key", scope=scope, source="shop")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def reporting(db) -> APIClient:
    return _client("read")


def test_the_participant_shows_its_history_and_deliveries(seed_journey, raise_event, reporting):
    raise_event("abandoned_cart", ANA, {"cart_total": 80})
    raise_event("abandoned_cart", {"id": "someone-else", "email": "x@example.com"}, {"cart_total": 80})

    response = reporting.get("/api/v1/participants/", {"journey": "abandoned-cart", "contact": "cust-42"})

    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["next"], body["previous"]) == (1, None, None)
    result = body["results"][0]
    assert {
        k: result[k] for k in ("journey", "version", "contact", "state", "current_step", "goal_met", "finished_at")
    } == {
        "journey": "abandoned-cart",
        "version": 1,
        "contact": "cust-42",
        "state": "active",
        "current_step": "opened",
        "goal_met": False,
        "finished_at": None,
    }
    assert [(h["step"], h["outcome"]) for h in result["history"]] == [
        ("", "entered"),
        ("initial-email", "sent"),
        ("opened", "waiting"),
    ]
    assert [(d["step"], d["channel"], d["status"], d["reason"]) for d in result["deliveries"]] == [
        ("initial-email", "email", "sent", None)
    ]


def test_a_blocked_message_shows_its_reason(seed_journey, raise_event, reporting):
    raise_event("abandoned_cart", {"id": "no-email"}, {"cart_total": 80})

    result = reporting.get("/api/v1/participants/", {"contact": "no-email"}).json()["results"][0]

    assert [(d["status"], d["reason"]) for d in result["deliveries"]] == [("blocked", "no_address")]


def test_an_events_key_cannot_read_participants(seed_journey):
    response = _client("events:write").get("/api/v1/participants/")

    assert response.status_code == 403


def test_no_key_no_participants(seed_journey):
    assert APIClient().get("/api/v1/participants/").status_code in (401, 403)
