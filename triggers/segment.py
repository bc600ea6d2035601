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


@dataclass(frozen=True)
class Mapped:
    """A Segment message as one of our event payloads (None: a type that raises no trigger)."""

    payload: dict[str, Any] | None
    builtin: bool = False


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
        return Mapped(message)
    kind = message.get("type", default_type)
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


def _contact(message: dict[str, Any]) -> Any:
    context = message.get("context") if isinstance(message.get("context"), dict) else {}
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
