"""Malformed bodies and oversized requests get a 400 or a 413 naming the limit, never a 500,
and nothing is stored."""

import gzip
import json

import pytest

from triggers.models import Event

from .conftest import cart_event, nothing_stored, post

URL = "/api/v1/events"


def _raw(client, path: str, data: bytes | str, content_type: str = "application/json", **extra):
    return client.generic("POST", path, data, content_type=content_type, **extra)


@pytest.mark.parametrize(
    ("data", "content_type", "code"),
    [
        ("{not json", "application/json", "malformed_json"),
        ('{"attributes": {"cart_total": ' + "9" * 5000 + "}}", "application/json", "malformed_json"),
        ("", "application/json", "malformed_json"),
        (b"\xff\xfe\x00", "application/json", "malformed_json"),
        ("[1, 2]", "application/json", "not_an_object"),
        ('"event"', "application/json", "not_an_object"),
        ("null", "application/json", "not_an_object"),
        ("trigger=abandoned_cart", "application/x-www-form-urlencoded", "unsupported_content_type"),
        (json.dumps(cart_event()), "text/plain", "unsupported_content_type"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_a_400(website, cart_trigger, data, content_type, code):
    response = _raw(website, URL, data, content_type)

    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["message"]
    assert nothing_stored()


@pytest.mark.parametrize("path", [f"{URL}/batch", "/api/segment/v1/batch"])
@pytest.mark.parametrize("body", [{}, {"events": {"a": 1}, "batch": "x"}])
def test_a_batch_body_without_a_list_is_a_400(website, cart_trigger, path, body):
    response = post(website, path, body)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_batch"


def test_json_with_a_charset_is_accepted(website, cart_trigger):
    response = _raw(website, URL, json.dumps(cart_event()), "application/json; charset=utf-8")

    assert response.status_code == 202


def test_an_event_over_32_kb_is_a_413(website, cart_trigger):
    attributes = {"cart_total": 1, "skus": ["x" * 900] * 40}

    response = post(website, URL, cart_event(attributes=attributes))

    assert response.status_code == 413
    assert response.json() == {"code": "too_large", "message": "An event may be at most 32 KB of JSON."}
    assert nothing_stored()


def test_a_request_over_512_kb_is_a_413(website, cart_trigger):
    events = [cart_event(event_id=f"e{i}", attributes={"cart_total": 1, "skus": ["x" * 900] * 30}) for i in range(25)]

    response = post(website, f"{URL}/batch", {"events": events})

    assert response.status_code == 413
    assert response.json() == {"code": "too_large", "message": "A request may be at most 512 KB."}
    assert nothing_stored()


def test_a_batch_over_500_events_is_a_413(website, cart_trigger):
    events = [{"trigger": "abandoned_cart"}] * 501

    response = post(website, f"{URL}/batch", {"events": events})

    assert response.status_code == 413
    assert "at most 500 events" in response.json()["message"]
    assert nothing_stored()


def test_an_oversized_event_in_a_batch_fails_alone(website, cart_trigger):
    big = cart_event(event_id="big", attributes={"cart_total": 1, "skus": ["x" * 900] * 40})

    response = post(website, f"{URL}/batch", {"events": [big, cart_event(event_id="small")]})

    assert response.status_code == 207
    assert response.json()["results"][0]["errors"][0]["code"] == "too_large"
    assert list(Event.objects.values_list("event_id", flat=True)) == ["small"]


def test_a_gzipped_body_is_read(website, cart_trigger):
    response = _raw(website, URL, gzip.compress(json.dumps(cart_event()).encode()), HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 202
    assert Event.objects.count() == 1


def test_a_gzip_bomb_is_a_413(website, cart_trigger):
    bomb = gzip.compress(b'{"a": "' + b"x" * (600 * 1024) + b'"}')

    response = _raw(website, URL, bomb, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 413
    assert nothing_stored()


def test_broken_gzip_is_a_400(website, cart_trigger):
    response = _raw(website, URL, b"not gzip at all", HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 400
    assert response.json()["code"] == "malformed_body"


def test_too_many_attributes_are_refused(website, cart_trigger):
    traits = {f"k{i}": i for i in range(101)}
    response = post(website, URL, cart_event(contact={"id": "c", "attributes": traits}))

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "too_many_attributes"
    assert nothing_stored()


def test_nesting_deeper_than_five_levels_is_refused(website, cart_trigger):
    deep = {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}
    response = post(website, URL, cart_event(contact={"id": "c", "attributes": deep}))

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "contact.attributes.a.b.c.d.e.f", "code": "too_deep", "message": "Nested deeper than 5 levels."}
    ]


def test_the_wrong_method_is_a_405_in_the_same_shape(website):
    response = website.get(URL)

    assert response.status_code == 405
    assert response.json() == {"code": "method_not_allowed", "message": 'Method "GET" not allowed.'}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"contact": {"id": "cust\u000042"}}, "contact.id"),
        ({"attributes": {"cart_total": 1, "coupon": "SAVE\u000010"}}, "attributes.coupon"),
        ({"attributes": {"cart_total": 1, "skus": ["a", "b\u0000"]}}, "attributes.skus[1]"),
        ({"contact": {"id": "c", "attributes": {"pl\u0000an": "gold"}}}, "contact.attributes.pl\u0000an"),
    ],
)
def test_a_nul_character_is_a_400_naming_the_field_not_a_500(website, cart_trigger, change, field):
    # PostgreSQL cannot store NUL in text or jsonb columns.
    response = post(website, URL, cart_event(**change))

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": field, "code": "invalid_character", "message": "Text may not contain the NUL character (\\u0000)."}
    ]
    assert nothing_stored()


def test_a_backslash_u_0000_written_out_is_ordinary_text(website, cart_trigger):
    response = post(website, URL, cart_event(attributes={"cart_total": 1, "coupon": "\\u0000"}))

    assert response.status_code == 202
    assert Event.objects.get().attributes["coupon"] == "\\u0000"


def test_a_lone_surrogate_is_a_400_not_a_500(website, cart_trigger):
    body = json.dumps(cart_event(attributes={"cart_total": 1, "coupon": "x"})).replace('"x"', '"\\ud800"')

    response = _raw(website, URL, body)

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "attributes.coupon", "code": "invalid_character", "message": "Text must be valid Unicode."}
    ]
    assert nothing_stored()


def test_unicode_text_is_stored_as_sent(website, cart_trigger):
    attributes = {"cart_total": 1, "coupon": "Été 🎉 日本", "skus": ["ü", "😀"]}

    response = post(website, URL, cart_event(contact={"id": "ñandú-42"}, attributes=attributes))

    assert response.status_code == 202
    event = Event.objects.get()
    assert (event.contact_key, event.attributes) == ("ñandú-42", attributes)
