"""Hostile events: out-of-range dates, numbers with no finite value, deep nesting, NUL and
lone surrogates. Each is a 400 naming the field (never a 5xx), a bad event in a batch is
refused alone while its siblings are stored, and nothing stored breaks a page afterwards."""

import json

import pytest

from triggers.models import Event

from .conftest import cart_event, nothing_stored

URL = "/api/v1/events"
VALID = {"cart_total": 1, "cart": {"items": 1}}


def _raw(client, path: str, body: str):
    return client.generic("POST", path, body, content_type="application/json")


def _event_json(**overrides) -> str:
    """A valid cart event as JSON text, with raw JSON spliced in for `overrides`' values."""
    event = cart_event(**{"event_id": None, **{name: f"@{name}@" for name in overrides}})
    text = json.dumps({k: v for k, v in event.items() if v is not None})
    for name, raw in overrides.items():
        text = text.replace(f'"@{name}@"', raw)
    return text


TIMESTAMP_RULE = (
    "Expected an ISO 8601 date and time between the years 1900 and 2999, with an offset within ±15:59, "
    "e.g. 2026-11-28T12:00:00Z."
)

# (JSON of the event, the field named, its code)
HOSTILE = {
    "year 10000 once in UTC": (_event_json(timestamp='"9999-12-31T23:00:00-14:00"'), "timestamp", "invalid_datetime"),
    "year 1 before UTC": (_event_json(timestamp='"0001-01-01T00:00:00+14:00"'), "timestamp", "invalid_datetime"),
    "an offset of +17:00": (_event_json(timestamp='"2026-01-01T00:00:00+17:00"'), "timestamp", "invalid_datetime"),
    "an offset of -16:00": (_event_json(timestamp='"2026-01-01T00:00:00-16:00"'), "timestamp", "invalid_datetime"),
    "a datetime attribute in year 9999": (
        _event_json(attributes='{"cart_total": 1, "first_seen": "9999-12-31T23:00:00-14:00"}'),
        "attributes.first_seen",
        "wrong_type",
    ),
    "1e400": (_event_json(attributes='{"cart_total": 1e400}'), "attributes.cart_total", "invalid_number"),
    "-1e400 in a contact trait": (
        _event_json(contact='{"id": "c", "attributes": {"ltv": -1e400}}'),
        "contact.attributes.ltv",
        "invalid_number",
    ),
    "NaN": (_event_json(attributes='{"cart_total": NaN}'), "attributes.cart_total", "invalid_number"),
    "Infinity": (_event_json(attributes='{"cart_total": -Infinity}'), "attributes.cart_total", "invalid_number"),
    "nested 100 deep": (
        _event_json(attributes='{"cart_total": 1, "skus": ' + "[" * 100 + "]" * 100 + "}"),
        "attributes.skus" + "[0]" * 31,
        "too_deep",
    ),
    "a lone surrogate in a key": (
        _event_json(attributes='{"cart_total": 1, "\\udc00": 1}'),
        "attributes.\\udc00",
        "invalid_character",
    ),
    "a lone surrogate in the trigger": (_event_json(trigger='"cart\\ud800"'), "trigger", "invalid_character"),
    "NUL in the trigger": (_event_json(trigger='"abandoned_cart\\u0000"'), "trigger", "invalid_character"),
    "NUL in a key": (
        _event_json(attributes='{"cart_total": 1, "a\\u0000": 1}'),
        "attributes.a\x00",
        "invalid_character",
    ),
    "NUL in the event_id": (_event_json(event_id='"e\\u0000"'), "event_id", "invalid_character"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_event_is_a_400_naming_the_field(website, cart_trigger, case):
    body, field, code = HOSTILE[case]

    response = _raw(website, URL, body)

    assert response.status_code == 400, response.content
    [error] = response.json()["errors"]
    assert (error["field"], error["code"]) == (field, code)
    assert error["message"]
    assert nothing_stored()


def test_the_timestamp_error_states_the_bounds(website, cart_trigger):
    response = _raw(website, URL, HOSTILE["year 10000 once in UTC"][0])

    assert response.json()["errors"] == [{"field": "timestamp", "code": "invalid_datetime", "message": TIMESTAMP_RULE}]


@pytest.mark.parametrize(
    "timestamp", ["1900-01-01T00:00:00Z", "2999-12-31T23:59:59Z", "2026-01-01T00:00:00+15:59", "2026-06-01T08:00:00"]
)
def test_dates_within_the_bounds_are_stored(website, cart_trigger, timestamp):
    response = _raw(website, URL, _event_json(timestamp=json.dumps(timestamp)))

    assert response.status_code == 202, response.content
    assert Event.objects.get().timestamp.year in (1899, 1900, 2025, 2026, 2999)


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_event_in_a_batch_is_refused_alone(website, cart_trigger, case):
    body, field, code = HOSTILE[case]
    good = [json.dumps(cart_event(event_id=f"ok-{n}")) for n in range(2)]

    response = _raw(website, f"{URL}/batch", '{"events": [' + ", ".join([good[0], body, good[1]]) + "]}")

    assert response.status_code == 207, response.content
    answer = response.json()
    assert (answer["accepted"], answer["rejected"]) == (2, 1)
    rejected = answer["results"][1]
    assert (rejected["index"], rejected["status"]) == (1, "rejected")
    assert [(e["field"], e["code"]) for e in rejected["errors"]] == [(field, code)]
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["ok-0", "ok-1"]


@pytest.mark.parametrize("path", [URL, f"{URL}/batch", "/api/segment/v1/track", "/api/segment/v1/batch"])
def test_a_body_nested_thousands_deep_is_a_400(website, cart_trigger, path):
    response = _raw(website, path, '{"events": ' + "[" * 5000 + "]" * 5000 + "}")

    assert response.status_code == 400
    assert response.json()["code"] == "too_deep"
    assert nothing_stored()


SEGMENT_HOSTILE = {
    "a lone surrogate in event": ('"event": "cart\\udc00"', "event"),
    "NUL in event": ('"event": "abandoned_cart\\u0000"', "event"),
    "1e400 in properties": ('"event": "abandoned_cart", "properties": {"cart_total": 1e400}', "properties.cart_total"),
    "a surrogate key in traits": ('"event": "abandoned_cart", "traits": {"\\ud800": 1}', "traits.\\ud800"),
}


@pytest.mark.parametrize("case", list(SEGMENT_HOSTILE))
def test_a_hostile_segment_call_is_refused_alone(website, cart_trigger, case):
    fields, field = SEGMENT_HOSTILE[case]
    hostile = '{"type": "track", "userId": "u1", "messageId": "m-bad", ' + fields + "}"
    good = json.dumps(
        {"type": "track", "userId": "u1", "messageId": "m-ok", "event": "abandoned_cart", "properties": VALID}
    )

    single = _raw(website, "/api/segment/v1/track", hostile)
    batch = _raw(website, "/api/segment/v1/batch", '{"batch": [' + hostile + ", " + good + "]}")

    assert single.status_code == 400, single.content
    assert [e["field"] for e in single.json()["errors"]] == [field]
    assert batch.status_code == 207, batch.content
    assert [r["status"] for r in batch.json()["results"]] == ["rejected", "accepted"]
    assert list(Event.objects.values_list("event_id", flat=True)) == ["m-ok"]


EDGE_EVENTS = [
    cart_event(event_id="edge-1", timestamp="1900-01-01T00:00:00+15:59"),
    cart_event(event_id="edge-2", timestamp="2999-12-31T23:59:59-15:59"),
    cart_event(
        event_id="edge-3",
        contact={"id": '=HYPERLINK("http://x")', "first_name": "<script>alert(1)</script>"},
        attributes={"cart_total": 10**40, "coupon": "日本\u202e🎉", "cart": {"items": -(10**30)}},
    ),
    cart_event(event_id="edge-4", attributes={"cart_total": 1.7e308, "skus": [[[["deep"]]]]}),
]


def test_stored_edge_values_never_break_the_admin_or_analytics_for_others(website, cart_trigger, admin_client):
    response = website.post(f"{URL}/batch", {"events": EDGE_EVENTS}, format="json")
    assert response.status_code == 202, response.content

    pages = ["/admin/triggers/event/", "/admin/triggers/event/?q=edge", "/analytics/", "/api/v1/participants/"]
    pages += [f"/admin/triggers/event/{pk}/change/" for pk in Event.objects.values_list("pk", flat=True)]
    for page in pages:
        answer = admin_client.get(page)
        assert answer.status_code in (200, 401, 403), (page, answer.status_code)
        assert b"<script>alert(1)" not in answer.content


@pytest.mark.parametrize("kind", ['{"a": 1}', '"purchase"', "7"])
def test_a_segment_message_of_an_unknown_type_is_refused_alone(website, cart_trigger, kind):
    bad = '{"type": ' + kind + ', "userId": "u1", "event": "abandoned_cart"}'
    good = json.dumps({"type": "page", "userId": "u1"})

    response = _raw(website, "/api/segment/v1/batch", '{"batch": [' + bad + ", " + good + "]}")

    results = response.json()["results"]
    assert [r["status"] for r in results] == ["rejected", "ignored"]
    assert [(e["field"], e["code"]) for e in results[0]["errors"]] == [("type", "invalid_choice")]
    assert nothing_stored()
