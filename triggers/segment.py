"""Segment's HTTP tracking API mapped onto our events (pure functions).

A site instrumented with Segment or RudderStack only changes its host: `track` becomes an
event of the trigger named by `event` (its key or display name, any case), `identify` an
event of the built-in `identify` trigger. `userId` is `contact.id`, `messageId` the
`event_id`, `properties` the attributes; `traits` and `context.traits` fill the contact.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .validation import FieldError, TriggerSchema

IDENTIFY_TRIGGER = "identify"

# Segment trait names (both spellings Segment's spec uses) -> our contact fields.
TRAITS = {
    "email": "email",
    "phone": "phone",
    "firstName": "first_name",
    "first_name": "first_name",
    "lastName": "last_name",
    "last_name": "last_name",
}

# Our field paths in errors, spoken in Segment's words for Segment callers.
FIELD_NAMES = (
    ("contact.attributes", "traits"),
    ("contact.time_zone", "context.timezone"),
    ("contact.push_token", "context.device.token"),
    ("contact.id", "userId"),
    ("contact", "traits"),
    ("event_id", "messageId"),
    ("attributes", "properties"),
    ("trigger", "event"),
)


# Segment's call types; track and identify raise triggers, the others are answered and ignored.
SEGMENT_TYPES = ("track", "identify", "page", "screen", "group", "alias")


@dataclass(frozen=True)
class Mapped:
    """A Segment message as one of our event payloads (None: a type that raises no trigger,
    or a message refused for `error` before it could be mapped)."""

    payload: dict[str, Any] | None
    builtin: bool = False
    error: FieldError | None = None


def event_names(messages: list[Any], default_type: str) -> set[str]:
    """The `event` names of the track calls, to resolve them to triggers in one query."""
    return {
        m["event"]
        for m in messages
        if isinstance(m, dict) and m.get("type", default_type) == "track" and isinstance(m.get("event"), str)
    }


def to_event(message: Any, schemas: Mapping[str, TriggerSchema], default_type: str) -> Mapped:
    """Map one Segment message. Shape errors are left for validate_event to report."""
    if not isinstance(message, dict):
        return Mapped(None, error=FieldError("", "not_an_object", "A message must be a JSON object."))
    shape_error = _shape_error(message)
    if shape_error is not None:
        return Mapped(None, error=shape_error)
    kind = message.get("type", default_type)
    if not isinstance(kind, str) or kind not in SEGMENT_TYPES:
        return Mapped(None, error=FieldError("type", "invalid_choice", f"One of {', '.join(SEGMENT_TYPES)}."))
    if kind == "identify":
        trigger: Any = IDENTIFY_TRIGGER
    elif kind == "track":
        trigger = message.get("event")
        if isinstance(trigger, str):
            schema = schemas.get(trigger) or schemas.get(trigger.lower())
            trigger = schema.key if schema else trigger
    else:
        return Mapped(None)  # page, screen, group, alias: nothing for journeys to start on.
    payload: dict[str, Any] = {"trigger": trigger, "contact": _contact(message)}
    if message.get("messageId") is not None:
        payload["event_id"] = message["messageId"]
    if kind == "track" and message.get("properties") is not None:
        payload["attributes"] = message["properties"]
    if message.get("timestamp") is not None:
        payload["timestamp"] = message["timestamp"]
    return Mapped(payload, builtin=kind == "identify")


# The JSON types of the Segment fields read here (null is the field left out). Checked for
# every call type, so an identify call with a malformed `event` is refused, not ignored.
SHAPES: dict[str, tuple[type, ...]] = {
    "event": (str,),
    "userId": (str, int),
    "messageId": (str, int),
    "properties": (dict,),
    "traits": (dict,),
    "context": (dict,),
    "timestamp": (str,),
}
JSON_TYPES = {str: "text", int: "a whole number", dict: "an object"}


def _shape_error(message: dict[str, Any]) -> FieldError | None:
    for name, types in SHAPES.items():
        value = message.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, types)):
            expected = " or ".join(JSON_TYPES[t] for t in types)
            return FieldError(name, "wrong_type", f"Expected {expected}.")
    return None


def _contact(message: dict[str, Any]) -> Any:
    context: dict[str, Any] = message.get("context") if isinstance(message.get("context"), dict) else {}  # type: ignore[assignment]  # a dict either way
    traits: dict[str, Any] = {}
    for source in (context.get("traits"), message.get("traits")):
        if isinstance(source, dict):
            traits.update(source)
    contact: dict[str, Any] = {}
    if message.get("userId") is not None:
        contact["id"] = message["userId"]
    extra: dict[str, Any] = {}
    for name, value in traits.items():
        if name in TRAITS:
            contact[TRAITS[name]] = value
        elif name not in ("id", "userId"):
            extra[name] = value
    if extra:
        contact["attributes"] = extra
    if context.get("timezone") is not None:
        contact["time_zone"] = context["timezone"]
    device = context.get("device")
    if isinstance(device, dict) and device.get("token") is not None:
        contact["push_token"] = device["token"]
    return contact


def in_segment_words(error: FieldError) -> FieldError:
    """Rename our field path to the Segment field the caller sent (contact.id -> userId)."""
    for ours, theirs in FIELD_NAMES:
        if error.field == ours or error.field.startswith(ours + "."):
            return FieldError(theirs + error.field[len(ours) :], error.code, error.message)
    return error
