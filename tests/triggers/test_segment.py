"""Segment-compatible endpoints: a site instrumented with Segment only changes its host."""

import base64
import logging
from datetime import UTC, datetime
from importlib import import_module

import pytest
from django.apps import apps as django_apps
from rest_framework.test import APIClient
from segment.analytics import Client
from segment.analytics import request as segment_request

from triggers.models import Event, Trigger

from .conftest import post

BASE = "/api/segment/v1"


@pytest.fixture
def segment(website_key) -> APIClient:
    """A Segment library, sending the write key as the HTTP Basic user name."""
    client = APIClient()
    token = base64.b64encode(f"{website_key[1]}:".encode()).decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {token}")
    return client


def _track(**overrides):
    message = {
        "type": "track",
        "event": "Abandoned Cart",
        "userId": "cust-42",
        "messageId": "m-1",
        "properties": {"cart_total": 80.5, "cart": {"items": 3}},
        "context": {"traits": {"email": "ana@example.com", "phone": "+15551234567"}, "library": {"name": "x"}},
        "timestamp": "2026-11-28T12:00:00.000Z",
        "anonymousId": "anon-1",
        "integrations": {},
    }
    message.update(overrides)
    return message


def test_a_track_call_is_stored_as_an_event_of_the_trigger_it_names(segment, cart_trigger):
    response = post(segment, f"{BASE}/track", _track())

    event = Event.objects.get()
    assert response.status_code == 200
    assert response.json() == {"success": True, "id": event.pk, "event_id": "m-1", "duplicate": False}
    assert (event.trigger, event.source, event.event_id, event.contact_key) == (cart_trigger, "shop", "m-1", "cust-42")
    assert event.contact == {"email": "ana@example.com", "phone": "+15551234567"}
    assert event.attributes == {"cart_total": 80.5, "cart": {"items": 3}}


@pytest.mark.parametrize("name", ["abandoned_cart", "ABANDONED_CART", "abandoned cart", "Abandoned Cart"])
def test_the_event_name_matches_a_key_or_display_name_in_any_case(segment, cart_trigger, name):
    assert post(segment, f"{BASE}/track", _track(event=name)).status_code == 200
    assert Event.objects.get().trigger == cart_trigger


def test_an_identify_call_is_stored_as_the_builtin_identify_trigger(segment, db):
    message = {
        "type": "identify",
        "userId": "cust-42",
        "messageId": "i-1",
        "traits": {"email": "ana@example.com", "firstName": "Ana", "lastName": "Lima", "plan": "gold"},
        "context": {"timezone": "Europe/Lisbon", "device": {"token": "push-tok"}},
    }

    response = post(segment, f"{BASE}/identify", message)

    event = Event.objects.get()
    assert response.status_code == 200
    assert event.trigger == Trigger.objects.get(key="identify", builtin=True)
    assert event.contact == {
        "email": "ana@example.com",
        "first_name": "Ana",
        "last_name": "Lima",
        "time_zone": "Europe/Lisbon",
        "push_token": "push-tok",
        "attributes": {"plan": "gold"},
    }
    assert event.attributes == {}


def test_errors_name_the_segment_fields(segment, cart_trigger):
    response = post(segment, f"{BASE}/track", _track(userId=None, properties={"cart_total": "x"}))

    assert response.status_code == 400
    assert sorted((e["field"], e["code"]) for e in response.json()["errors"]) == [
        ("properties.cart_total", "wrong_type"),
        ("userId", "required"),
    ]
    assert not Event.objects.exists()


def test_a_batch_stores_track_and_identify_calls_and_ignores_page_calls(segment, cart_trigger):
    batch = [
        _track(messageId="a"),
        {"type": "identify", "userId": "cust-42", "messageId": "b", "traits": {"email": "ana@example.com"}},
        {"type": "page", "userId": "cust-42", "messageId": "c", "name": "Home"},
        _track(messageId="d", event="Unknown thing"),
    ]

    response = post(segment, f"{BASE}/batch", {"batch": batch, "sentAt": "2026-11-28T12:00:00Z", "writeKey": "x"})

    assert response.status_code == 207
    assert [r["status"] for r in response.json()["results"]] == ["accepted", "accepted", "ignored", "rejected"]
    assert response.json()["results"][3]["errors"][0]["field"] == "event"
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["a", "b"]


def test_a_segment_retry_is_a_duplicate(segment, cart_trigger):
    post(segment, f"{BASE}/batch", {"batch": [_track()]})
    response = post(segment, f"{BASE}/batch", {"batch": [_track()], "sentAt": "2026-11-28T12:00:05Z"})

    assert response.status_code == 200
    assert response.json()["duplicates"] == 1
    assert Event.objects.count() == 1


def test_a_wrong_write_key_is_a_401(cart_trigger):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"jk_wrong:").decode())

    response = post(client, f"{BASE}/track", _track())

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"
    assert not Event.objects.exists()


def test_a_bearer_key_works_on_segment_endpoints_too(website, cart_trigger):
    assert post(website, f"{BASE}/track", _track()).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_the_official_segment_library_delivers_events_that_are_stored(live_server, website_key, cart_trigger):
    # Transactional tests (here and the browser's) empty the tables, migrations' rows included.
    import_module("triggers.migrations.0004_identify_trigger").create_identify_trigger(django_apps, None)
    errors: list[Exception] = []
    analytics = Client(
        website_key[1],
        host=f"{live_server.url}/api/segment",
        sync_mode=True,
        on_error=lambda error, batch: errors.append(error),
        max_retries=0,
    )
    logging.getLogger("segment").setLevel(logging.CRITICAL)

    analytics.identify("cust-42", {"email": "ana@example.com", "firstName": "Ana"}, message_id="id-1")
    at = datetime(2026, 11, 28, 12, tzinfo=UTC)
    for _ in range(2):  # A retry: same messageId, same body.
        analytics.track(
            "cust-42", "Abandoned cart", {"cart_total": 80.5, "cart": {"items": 2}}, timestamp=at, message_id="tr-1"
        )
    analytics.flush()
    # The library keeps its HTTP connection alive in a module-level session; closing it lets
    # the live server's request thread end and close its database connection.
    segment_request._session.close()

    assert errors == []
    stored = {e.event_id: e for e in Event.objects.select_related("trigger")}
    assert sorted(stored) == ["id-1", "tr-1"]
    assert stored["tr-1"].trigger.key == "abandoned_cart"
    assert stored["tr-1"].attributes == {"cart_total": 80.5, "cart": {"items": 2}}
    assert stored["tr-1"].timestamp == at
    assert stored["id-1"].trigger.key == "identify"
    assert stored["id-1"].contact == {"email": "ana@example.com", "first_name": "Ana"}
    assert stored["id-1"].contact_key == "cust-42"
