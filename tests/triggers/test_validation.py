"""The validation rules as pure functions: no database, no HTTP."""

from datetime import UTC, datetime

import pytest

from triggers.segment import in_segment_words, to_event
from triggers.validation import (
    AttributeSpec,
    FieldError,
    TriggerSchema,
    ValidatedEvent,
    body_hash,
    validate_event,
)

CART = TriggerSchema(
    id=1,
    key="abandoned_cart",
    name="Abandoned cart",
    ready=True,
    builtin=False,
    attributes=(
        AttributeSpec("cart_total", "number", required=True),
        AttributeSpec("cart", "object"),
        AttributeSpec("cart.currency", "text", required=True),
        AttributeSpec("cart.lines", "list"),
        AttributeSpec("meta", "object"),
        AttributeSpec("at", "datetime"),
    ),
)
SCHEMAS = {"abandoned_cart": CART}


def _errors(attributes=None, **event) -> list[tuple[str, str]]:
    payload = {"trigger": "abandoned_cart", "contact": {"id": "c1"}, "attributes": attributes or {}, **event}
    result = validate_event(payload, SCHEMAS)
    assert isinstance(result, list), result
    return [(e.field, e.code) for e in result]


def test_a_valid_event_comes_back_in_the_shape_of_a_row():
    result = validate_event(
        {
            "trigger": "abandoned_cart",
            "event_id": 17,
            "contact": {"id": "c1", "email": "a@example.com"},
            "attributes": {"cart_total": 3, "cart": {"currency": "EUR"}},
            "timestamp": "2026-11-28T12:00:00",
        },
        SCHEMAS,
    )

    assert isinstance(result, ValidatedEvent)
    assert (result.trigger_id, result.event_id, result.contact_key) == (1, "17", "c1")
    assert result.contact == {"email": "a@example.com"}
    assert result.timestamp == datetime(2026, 11, 28, 12, tzinfo=UTC)  # No offset: UTC.


def test_an_optional_object_may_be_left_out_with_its_required_children():
    assert isinstance(
        validate_event({"trigger": "abandoned_cart", "contact": {"id": 1}, "attributes": {"cart_total": 1}}, SCHEMAS),
        ValidatedEvent,
    )


def test_an_object_without_declared_children_accepts_any_content():
    assert _errors({"cart_total": 1, "meta": {"anything": {"goes": [1]}}, "x": 1}) == [
        ("attributes.x", "unknown_attribute")
    ]


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({}, [("attributes.cart_total", "required")]),
        ({"cart_total": None}, [("attributes.cart_total", "required")]),
        ({"cart_total": True}, [("attributes.cart_total", "wrong_type")]),
        ({"cart_total": 1, "cart": "EUR"}, [("attributes.cart", "wrong_type")]),
        ({"cart_total": 1, "cart": {}}, [("attributes.cart.currency", "required")]),
        ({"cart_total": 1, "cart": {"currency": "EUR", "vat": 1}}, [("attributes.cart.vat", "unknown_attribute")]),
        ({"cart_total": 1, "cart": {"currency": "EUR", "lines": {}}}, [("attributes.cart.lines", "wrong_type")]),
        ({"cart_total": 1, "at": 1764331200}, [("attributes.at", "wrong_type")]),
        ({"cart_total": 1, "cart": {"currency": "€" * 1001}}, [("attributes.cart.currency", "too_long")]),
    ],
)
def test_attribute_rules(attributes, expected):
    assert _errors(attributes) == expected


def test_an_unknown_attribute_lists_the_declared_ones():
    payload = {"trigger": "abandoned_cart", "contact": {"id": "c"}, "attributes": {"cart_total": 1, "total": 2}}
    [error] = validate_event(payload, SCHEMAS)

    assert error.message == (
        "The trigger 'abandoned_cart' has no attribute 'total' (declared here: at, cart, cart_total, meta)."
    )


def test_strings_in_lists_are_limited_too():
    assert _errors({"cart_total": 1, "cart": {"currency": "E", "lines": ["ok", "x" * 1001]}}) == [
        ("attributes.cart.lines[1]", "too_long")
    ]


def test_lists_count_as_a_level_of_nesting():
    lines = [[[[["too deep"]]]]]
    assert _errors({"cart_total": 1, "cart": {"currency": "E", "lines": lines}}) == [
        ("attributes.cart.lines[0][0][0][0]", "too_deep")
    ]


def test_a_draft_a_builtin_and_an_unknown_trigger_are_refused():
    draft = TriggerSchema(2, "draft", "Draft", ready=False, builtin=False)
    builtin = TriggerSchema(3, "identify", "Contact identified", ready=True, builtin=True)
    schemas = {"draft": draft, "identify": builtin}

    codes = [validate_event({"trigger": key, "contact": {"id": "c"}}, schemas)[0].code for key in schemas]
    assert codes == ["not_ready", "builtin_trigger"]
    assert validate_event({"trigger": "gone", "contact": {"id": "c"}}, schemas)[0].code == "unknown_trigger"
    assert isinstance(
        validate_event({"trigger": "identify", "contact": {"id": "c"}}, schemas, allow_builtin=True), ValidatedEvent
    )


def test_the_body_hash_ignores_key_order_but_not_values():
    assert body_hash({"a": 1, "b": {"c": 2, "d": 3}}) == body_hash({"b": {"d": 3, "c": 2}, "a": 1})
    assert body_hash({"a": 1}) != body_hash({"a": 2})


def test_a_retry_has_the_same_hash_and_another_body_does_not():
    event = {"trigger": "abandoned_cart", "event_id": "e", "contact": {"id": "c"}, "attributes": {"cart_total": 1}}
    first = validate_event(event, SCHEMAS)
    again = validate_event(dict(reversed(event.items())), SCHEMAS)
    other = validate_event({**event, "binding_id": "x"}, SCHEMAS)

    assert first.body_hash == again.body_hash != other.body_hash


def test_segment_track_maps_onto_an_event():
    message = {
        "type": "track",
        "event": "ABANDONED CART",
        "userId": "u1",
        "messageId": "m1",
        "properties": {"cart_total": 1},
        "context": {"traits": {"email": "a@example.com", "name": "Ana"}},
        "timestamp": "2026-11-28T12:00:00Z",
    }

    mapped = to_event(message, {"abandoned cart": CART, "abandoned_cart": CART}, "track")

    assert mapped.builtin is False
    assert mapped.payload == {
        "trigger": "abandoned_cart",
        "contact": {"id": "u1", "email": "a@example.com", "attributes": {"name": "Ana"}},
        "event_id": "m1",
        "attributes": {"cart_total": 1},
        "timestamp": "2026-11-28T12:00:00Z",
    }


def test_segment_calls_without_a_trigger_are_ignored():
    assert to_event({"type": "page", "userId": "u"}, {}, "track").payload is None


def test_errors_are_spoken_in_segment_words():
    assert in_segment_words(FieldError("contact.id", "required", "m")).field == "userId"
    assert in_segment_words(FieldError("attributes.cart.currency", "x", "m")).field == "properties.cart.currency"
    assert in_segment_words(FieldError("contact.attributes.plan", "x", "m")).field == "traits.plan"
    assert in_segment_words(FieldError("contact.email", "x", "m")).field == "traits.email"
