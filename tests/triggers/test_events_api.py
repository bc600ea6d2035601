"""POST /api/v1/events: a website raises one trigger, gets 202 once it is stored, or a clear 4xx."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from triggers.models import Event, Trigger, TriggerStatus

from .conftest import cart_event, nothing_stored, post

URL = "/api/v1/events"


def test_a_valid_event_is_stored_and_answered_202(website, cart_trigger):
    response = post(website, URL, cart_event())

    event = Event.objects.get()
    assert response.status_code == 202
    assert response.json() == {"id": event.pk, "event_id": "2f6c0b9e-1", "duplicate": False}
    assert event.trigger == cart_trigger
    assert event.source == "shop"
    assert event.contact_key == "cust-42"
    assert event.contact == {"email": "ana@example.com", "phone": "+15551234567"}
    assert event.attributes == {"cart_total": 80.5, "cart": {"items": 3, "currency": "EUR"}}
    assert event.binding_id == "cart/981"
    assert event.timestamp == datetime(2026, 11, 28, 12, tzinfo=UTC)
    assert event.processed_at is None
    assert len(event.body_hash) == 64


def test_the_smallest_event_needs_only_a_trigger_and_a_contact_id(website, cart_trigger):
    response = post(website, URL, {"trigger": "abandoned_cart", "contact": {"id": 7}, "attributes": {"cart_total": 1}})

    event = Event.objects.get()
    assert response.status_code == 202
    assert response.json() == {"id": event.pk, "event_id": None, "duplicate": False}
    assert (event.contact_key, event.contact, event.event_id, event.binding_id) == ("7", {}, None, "")


def test_all_contact_fields_are_kept_for_the_journeys_app(website, cart_trigger):
    contact = {
        "id": "cust-42",
        "email": "ana@example.com",
        "phone": "+33612345678",
        "push_token": "tok-1",
        "first_name": "Ana",
        "last_name": "Lima",
        "time_zone": "Europe/Paris",
        "attributes": {"plan": "gold", "vip": True},
    }
    response = post(website, URL, cart_event(contact=contact))

    assert response.status_code == 202
    assert Event.objects.get().contact == {k: v for k, v in contact.items() if k != "id"}


def test_a_key_without_a_source_stores_under_its_prefix(client, cart_trigger):
    from triggers.keys import create_api_key

    api_key, raw = create_api_key("No source", scope="events:write")
    response = client.post(URL, cart_event(), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert response.status_code == 202
    assert Event.objects.get().source == f"key:{api_key.prefix}"


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"trigger": "nope"}, "trigger", "unknown_trigger"),
        ({"trigger": None}, "trigger", "required"),
        ({"contact": None}, "contact", "required"),
        ({"contact": {"email": "ana@example.com"}}, "contact.id", "required"),
        ({"contact": {"id": "c", "email": "not-an-email"}}, "contact.email", "invalid_email"),
        ({"contact": {"id": "c", "phone": "555-1234"}}, "contact.phone", "invalid_phone"),
        ({"contact": {"id": "c", "time_zone": "Mars/Olympus"}}, "contact.time_zone", "invalid_time_zone"),
        ({"contact": {"id": "c", "nickname": "x"}}, "contact.nickname", "unknown_field"),
        ({"attributes": {"cart": {"items": 1}}}, "attributes.cart_total", "required"),
        ({"attributes": {"cart_total": "80"}}, "attributes.cart_total", "wrong_type"),
        ({"attributes": {"cart_total": 1, "cart": {"items": "3"}}}, "attributes.cart.items", "wrong_type"),
        ({"attributes": {"cart_total": 1, "cart": {"currency": "EUR"}}}, "attributes.cart.items", "required"),
        ({"attributes": {"cart_total": 1, "colour": "red"}}, "attributes.colour", "unknown_attribute"),
        ({"attributes": {"cart_total": 1, "first_seen": "yesterday"}}, "attributes.first_seen", "wrong_type"),
        ({"attributes": {"cart_total": 1, "coupon": "x" * 1001}}, "attributes.coupon", "too_long"),
        ({"attributes": [1]}, "attributes", "wrong_type"),
        ({"timestamp": "28/11/2026"}, "timestamp", "invalid_datetime"),
        ({"event_id": ""}, "event_id", "blank"),
        ({"binding_id": "b" * 256}, "binding_id", "too_long"),
        ({"colour": "red"}, "colour", "unknown_field"),
    ],
)
def test_an_invalid_event_is_refused_naming_the_field_and_nothing_is_stored(website, cart_trigger, change, field, code):
    response = post(website, URL, cart_event(**change))

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_event"
    assert [(e["field"], e["code"]) for e in body["errors"]] == [(field, code)]
    assert body["errors"][0]["message"]
    assert nothing_stored()


def test_a_wrong_type_names_the_path_and_the_expected_type(website, cart_trigger):
    response = post(website, URL, cart_event(attributes={"cart_total": 1, "cart": {"items": 1, "currency": 978}}))

    assert response.json()["errors"] == [
        {
            "field": "attributes.cart.currency",
            "code": "wrong_type",
            "message": "Expected text (a JSON string), got number.",
        }
    ]


def test_every_error_of_an_event_is_reported_at_once(website, cart_trigger):
    response = post(
        website, URL, cart_event(contact={"id": "c", "email": "x"}, attributes={"cart_total": "1", "colour": "red"})
    )

    fields = sorted(e["field"] for e in response.json()["errors"])
    assert fields == ["attributes.cart_total", "attributes.colour", "contact.email"]
    assert nothing_stored()


def test_a_draft_trigger_cannot_be_raised_yet(website, cart_trigger):
    Trigger.objects.filter(pk=cart_trigger.pk).update(status=TriggerStatus.DRAFT)

    response = post(website, URL, cart_event())

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "not_ready"
    assert "Ready to use" in response.json()["errors"][0]["message"]
    assert nothing_stored()


@pytest.mark.parametrize("key", ["email_opened", "identify"])
def test_builtin_triggers_cannot_be_raised_through_the_api(website, key):
    response = post(website, URL, cart_event(trigger=key, attributes={"delivery_id": "1"}))

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("trigger", "builtin_trigger")]
    assert nothing_stored()


def test_lists_accept_any_json_list_and_datetimes_iso_strings(website, cart_trigger):
    attributes = {
        "cart_total": 0,
        "skus": ["a", 1, {"b": None}],
        "first_seen": "2026-11-01T08:00:00+01:00",
        "gift": False,
    }
    response = post(website, URL, cart_event(attributes=attributes))

    assert response.status_code == 202
    assert Event.objects.get().attributes == attributes


def test_an_event_costs_four_queries_and_no_transaction_of_its_own(website, cart_trigger, settings):
    """The hot path: the key, its rate bucket (database fallback), the trigger's schema, the INSERT."""
    settings.REDIS_URL = ""
    post(website, URL, cart_event(event_id="warm"))  # Writes last_used_at and creates the bucket.

    with CaptureQueriesContext(connection) as queries:
        response = post(website, URL, cart_event(event_id="measured"))

    sql = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    assert response.status_code == 202
    assert sql == ["SELECT", "UPDATE", "SELECT", "INSERT"], [q["sql"][:80] for q in queries.captured_queries]
