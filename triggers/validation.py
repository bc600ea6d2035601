"""Validation of incoming events against a trigger's typed schema: pure functions, no database.

The view loads the schemas of the triggers a request names (`TriggerSchema`) and hands each
event payload to `validate_event`, which returns either a `ValidatedEvent` ready to store or
the list of `FieldError`s to answer with. Every rule of the public API lives here, so it is
unit-tested without a database and documented in docs/api.md.
"""

import hashlib
import json
import math
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache, cached_property
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

# Limits from the product brief. They protect the journeys engine (which reads attributes in
# conditions) and the event store from payloads no website legitimately sends.
MAX_ATTRIBUTES = 100
MAX_DEPTH = 5
MAX_STRING_LENGTH = 1000
MAX_EVENT_BYTES = 32 * 1024
MAX_REQUEST_BYTES = 512 * 1024
MAX_BATCH_EVENTS = 500
# Any part of an event (unknown fields included) may nest at most this deep: deeper JSON is
# refused before anything walks it recursively. Attributes have their own, lower limit.
MAX_JSON_DEPTH = 32
# Dates and times the database and Python both read back: PostgreSQL refuses offsets beyond
# ±15:59, Python's datetime stops at year 9999 (and a time near it overflows in UTC).
EARLIEST_YEAR, LATEST_YEAR = 1900, 2999
MAX_UTC_OFFSET = timedelta(hours=15, minutes=59)

EVENT_FIELDS = ("trigger", "event_id", "contact", "attributes", "timestamp", "binding_id")
CONTACT_TEXT_FIELDS = {"email": 254, "phone": 32, "push_token": 4096, "first_name": 100, "last_name": 100}
CONTACT_FIELDS = ("id", *CONTACT_TEXT_FIELDS, "time_zone", "attributes")
E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")

# How each attribute type is described in error messages, as a developer reads JSON.
TYPE_NAMES = {
    "text": "text (a JSON string)",
    "number": "number",
    "boolean": "boolean (true or false)",
    "datetime": "date and time (an ISO 8601 string such as 2026-11-28T12:00:00Z, years 1900-2999)",
    "object": "object",
    "list": "list",
}


@dataclass(frozen=True)
class FieldError:
    """One problem with one field. `field` is a dotted path into the event (`attributes.cart.currency`)."""

    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


@dataclass(frozen=True)
class AttributeSpec:
    name: str  # dotted path, e.g. cart.currency
    type: str
    required: bool = False


@dataclass(frozen=True)
class TriggerSchema:
    """What validation needs to know about a trigger: loaded once per request, or kept by a
    web process between requests (triggers.caching), so never changed once made."""

    id: int
    key: str
    name: str
    ready: bool
    builtin: bool
    attributes: tuple[AttributeSpec, ...] = ()
    daily_quota: int | None = None

    @cached_property
    def by_path(self) -> dict[str, AttributeSpec]:
        return {spec.name: spec for spec in self.attributes}

    @cached_property
    def children(self) -> dict[str, set[str]]:
        """Declared child names per object path ("" is the top level). Computed once per
        schema, not per event: a batch validates 500 events against the same schema."""
        return _children(self.by_path)


@dataclass(frozen=True)
class ValidatedEvent:
    """An event that passed every rule, in the shape of an `Event` row."""

    trigger_id: int
    trigger_key: str
    event_id: str | None
    contact_key: str
    contact: dict[str, Any]
    attributes: dict[str, Any]
    binding_id: str
    timestamp: datetime | None
    body_hash: str = field(default="")
    hops: int = 0  # a journey's raise-a-trigger step (Event.hops); 0 from the API


@dataclass
class _Errors:
    items: list[FieldError] = field(default_factory=list)

    def add(self, path: str, code: str, message: str) -> None:
        self.items.append(FieldError(path, code, message))


class BadNumber:
    """A JSON number with no finite value (1e400, NaN, Infinity), kept in place by the body
    parser so that validation refuses the one event holding it, not the whole request."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def parse_float(text: str) -> float | BadNumber:
    """`json.loads(parse_float=…)`: a float, or BadNumber when it overflows to infinity."""
    value = float(text)
    return value if math.isfinite(value) else BadNumber(text)


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO 8601 date and time; without an offset it is taken as UTC. None if unreadable,
    or outside the bounds every store reads back (years 1900-2999, offsets within ±15:59)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    offset = parsed.utcoffset()
    if offset is None:
        parsed = parsed.replace(tzinfo=UTC)
    elif abs(offset) > MAX_UTC_OFFSET:
        return None
    if not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
        return None
    return parsed


TIMESTAMP_RULE = (
    f"Expected an ISO 8601 date and time between the years {EARLIEST_YEAR} and {LATEST_YEAR}, "
    "with an offset within ±15:59, e.g. 2026-11-28T12:00:00Z."
)


def find_unstorable(payload: Any) -> FieldError | None:
    """The first part of a parsed body no store can keep: nesting over MAX_JSON_DEPTH, a
    number with no finite value, or a key or text with NUL (PostgreSQL) or a lone surrogate
    (not Unicode). Iterative, so no depth of input makes it recurse."""
    stack: list[tuple[Any, str, int]] = [(payload, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return FieldError(path, "too_deep", f"JSON may nest at most {MAX_JSON_DEPTH} levels.")
        if isinstance(node, str):
            problem = _text_problem(node)
            if problem:
                return FieldError(path, "invalid_character", problem)
        elif isinstance(node, BadNumber):
            return FieldError(path, "invalid_number", f"{node.text} is not a finite number JSON can store.")
        elif isinstance(node, float) and not math.isfinite(node):
            return FieldError(path, "invalid_number", f"{node} is not a finite number JSON can store.")
        elif isinstance(node, dict):
            children = [(child, f"{path}.{key}" if path else str(key)) for key, child in node.items()]
            for key, (_, child_path) in zip(node, children, strict=True):
                problem = _text_problem(key) if isinstance(key, str) else ""
                if problem:
                    return FieldError(_printable(child_path), "invalid_character", problem)
            stack.extend((child, child_path, depth + 1) for child, child_path in reversed(children))
        elif isinstance(node, list):
            stack.extend((child, f"{path}[{index}]", depth + 1) for index, child in reversed(list(enumerate(node))))
    return None


def _encode(payload: Any) -> bytes | None:
    """The event as compact UTF-8 JSON (how its size is measured), None if it cannot be."""
    try:
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError, UnicodeEncodeError, RecursionError):
        return None


def _text_problem(text: str) -> str:
    if "\x00" in text:
        return "Text may not contain the NUL character (\\u0000)."
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            return "Text must be valid Unicode."
    return ""


def _printable(path: str) -> str:
    # An error names the field, but a lone surrogate cannot be sent back in a JSON answer.
    return path.encode("utf-8", "backslashreplace").decode() if not path.isascii() and _is_not_unicode(path) else path


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def body_hash(event: Mapping[str, Any]) -> str:
    """Fingerprint of what an event says, to tell a retry (same body) from a conflict (409)."""
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def validate_event(
    payload: Any, schemas: Mapping[str, TriggerSchema], *, allow_builtin: bool = False
) -> ValidatedEvent | list[FieldError]:
    """Check one event payload of POST /api/v1/events against its trigger's schema.

    `schemas` maps trigger keys to their schema (unknown keys are simply absent).
    `allow_builtin` is only for the Segment `identify` call, stored as the built-in trigger.
    Returns the validated event, or every error found (not only the first), so a developer
    fixes a payload in one round.
    """
    errors = _Errors()
    if not isinstance(payload, dict):
        errors.add("", "not_an_object", "An event must be a JSON object.")
        return errors.items
    encoded = _encode(payload)
    # The walk only when the encoding hints at a problem (it could not be made, it escapes a
    # NUL, or it has enough brackets to nest too deep): most events cost one json.dumps.
    if encoded is None or b"\\u0000" in encoded or encoded.count(b"[") + encoded.count(b"{") > MAX_JSON_DEPTH:
        unstorable = find_unstorable(payload)
        if unstorable is not None:
            errors.items.append(unstorable)
            return errors.items
        encoded = encoded or json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    if len(encoded) > MAX_EVENT_BYTES:
        errors.add("", "too_large", f"An event may be at most {MAX_EVENT_BYTES // 1024} KB of JSON.")
        return errors.items
    for name in payload:
        if name not in EVENT_FIELDS:
            errors.add(name, "unknown_field", f"Unknown field; an event has {', '.join(EVENT_FIELDS)}.")

    schema = _check_trigger(payload.get("trigger"), schemas, errors, allow_builtin=allow_builtin)
    event_id = _optional_text(payload, "event_id", 200, errors)
    binding_id = _optional_text(payload, "binding_id", 255, errors) or ""
    timestamp = None
    if payload.get("timestamp") is not None:
        timestamp = parse_timestamp(payload["timestamp"])
        if timestamp is None:
            errors.add("timestamp", "invalid_datetime", TIMESTAMP_RULE)
    contact = validate_contact(payload.get("contact"), errors)
    attributes = payload.get("attributes", {})
    if attributes is None:
        attributes = {}
    if not isinstance(attributes, dict):
        errors.add("attributes", "wrong_type", "Expected an object of attributes.")
    elif schema is not None:
        validate_attributes(attributes, schema, errors)

    if errors.items or schema is None or contact is None:
        return errors.items
    contact_key = contact.pop("id")
    fingerprint = {
        "trigger": schema.key,
        "contact": {"id": contact_key, **contact},
        "attributes": attributes,
        "binding_id": binding_id,
        "timestamp": timestamp.isoformat() if timestamp else None,
    }
    return ValidatedEvent(
        trigger_id=schema.id,
        trigger_key=schema.key,
        event_id=event_id,
        contact_key=contact_key,
        contact=contact,
        attributes=attributes,
        binding_id=binding_id,
        timestamp=timestamp,
        body_hash=body_hash(fingerprint),
    )


def _is_not_unicode(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False


def _check_trigger(
    key: Any, schemas: Mapping[str, TriggerSchema], errors: _Errors, *, allow_builtin: bool
) -> TriggerSchema | None:
    if key is None or key == "":
        errors.add("trigger", "required", "The trigger's key is required, e.g. abandoned_cart.")
        return None
    if not isinstance(key, str):
        errors.add("trigger", "wrong_type", "Expected the trigger's key as text.")
        return None
    schema = schemas.get(key)
    if schema is None:
        errors.add("trigger", "unknown_trigger", f"No trigger has the key {key!r}; create it in the admin first.")
        return None
    if schema.builtin and not allow_builtin:
        errors.add("trigger", "builtin_trigger", f"{key!r} is a built-in trigger raised by the product itself.")
        return None
    if not schema.ready:
        errors.add("trigger", "not_ready", f"The trigger {key!r} is a draft; move it to Ready to use in the admin.")
        return None
    return schema


def _optional_text(payload: Mapping[str, Any], name: str, max_length: int, errors: _Errors) -> str | None:
    value = payload.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        errors.add(name, "wrong_type", "Expected text.")
        return None
    value = str(value)
    if not value:
        errors.add(name, "blank", "May not be empty; leave the field out instead.")
        return None
    if len(value) > max_length:
        errors.add(name, "too_long", f"At most {max_length} characters.")
        return None
    return value


def validate_contact(contact: Any, errors: _Errors) -> dict[str, Any] | None:
    """The contact fields of an event. Returns them cleaned (with `id`), or None on errors."""
    if contact is None:
        errors.add("contact", "required", 'The contact is required, at least {"id": "<your customer id>"}.')
        return None
    if not isinstance(contact, dict):
        errors.add("contact", "wrong_type", 'Expected an object such as {"id": "cust-42"}.')
        return None
    before = len(errors.items)
    cleaned: dict[str, Any] = {}
    for name in contact:
        if name not in CONTACT_FIELDS:
            errors.add(f"contact.{name}", "unknown_field", f"Unknown contact field; use {', '.join(CONTACT_FIELDS)}.")
    contact_id = contact.get("id")
    if contact_id is None or contact_id == "":
        errors.add("contact.id", "required", "Your own id for this customer is required.")
    elif isinstance(contact_id, bool) or not isinstance(contact_id, str | int):
        errors.add("contact.id", "wrong_type", "Expected text.")
    elif len(str(contact_id)) > 255:
        errors.add("contact.id", "too_long", "At most 255 characters.")
    else:
        cleaned["id"] = str(contact_id)
    for name, max_length in CONTACT_TEXT_FIELDS.items():
        value = contact.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            errors.add(f"contact.{name}", "wrong_type", "Expected text.")
        elif len(value) > max_length:
            errors.add(f"contact.{name}", "too_long", f"At most {max_length} characters.")
        else:
            cleaned[name] = value
    if "email" in cleaned:
        try:
            validate_email(cleaned["email"])
        except ValidationError:
            errors.add("contact.email", "invalid_email", "Not a valid email address.")
    if "phone" in cleaned and not E164.match(cleaned["phone"]):
        errors.add("contact.phone", "invalid_phone", "Expected an E.164 number: + and country code, e.g. +15551234567.")
    time_zone = contact.get("time_zone")
    if time_zone is not None:
        if not isinstance(time_zone, str) or time_zone not in _time_zones():
            errors.add("contact.time_zone", "invalid_time_zone", "Expected an IANA time zone name, e.g. Europe/Paris.")
        else:
            cleaned["time_zone"] = time_zone
    traits = contact.get("attributes")
    if traits is not None:
        if not isinstance(traits, dict):
            errors.add("contact.attributes", "wrong_type", "Expected an object of extra contact attributes.")
        else:
            check_limits(traits, "contact.attributes", errors)
            cleaned["attributes"] = traits
    return None if len(errors.items) > before else cleaned


def check_limits(value: dict[str, Any], path: str, errors: _Errors) -> None:
    """The generic limits: at most 100 attributes, 5 levels of nesting, 1,000 characters a string."""
    count = 0
    too_deep = False

    def walk(node: Any, node_path: str, depth: int) -> None:
        nonlocal count, too_deep
        if depth > MAX_DEPTH:
            if not too_deep:
                errors.add(node_path, "too_deep", f"Nested deeper than {MAX_DEPTH} levels.")
            too_deep = True
            return
        if isinstance(node, dict):
            for key, child in node.items():
                count += 1
                walk(child, f"{node_path}.{key}", depth + 1)
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(child, f"{node_path}[{index}]", depth + 1)
        elif isinstance(node, str) and len(node) > MAX_STRING_LENGTH:
            errors.add(node_path, "too_long", f"A text value may be at most {MAX_STRING_LENGTH} characters.")

    for key, child in value.items():
        count += 1
        walk(child, f"{path}.{key}", 1)
    if count > MAX_ATTRIBUTES:
        errors.add(
            path, "too_many_attributes", f"At most {MAX_ATTRIBUTES} attributes (counting nested ones), got {count}."
        )


def validate_attributes(attributes: dict[str, Any], schema: TriggerSchema, errors: _Errors) -> None:
    """Attributes against the trigger's declared ones: types, required, nothing undeclared.

    Nested attributes are declared as dotted paths under an `object` attribute (`cart.currency`
    under `cart`); an object with no declared children accepts any content.
    """
    before = len(errors.items)
    check_limits(attributes, "attributes", errors)
    if len(errors.items) > before:
        return  # Type checks on a payload over the limits would only add noise.
    specs = schema.by_path
    children = schema.children
    _check_object(attributes, "", specs, children, schema, errors)


def _children(specs: Mapping[str, AttributeSpec]) -> dict[str, set[str]]:
    """Declared child names per object path ("" is the top level)."""
    tree: dict[str, set[str]] = {}
    for path in specs:
        parent, _, name = path.rpartition(".")
        tree.setdefault(parent, set()).add(name)
    return tree


def _check_object(
    value: dict[str, Any],
    prefix: str,
    specs: Mapping[str, AttributeSpec],
    children: Mapping[str, set[str]],
    schema: TriggerSchema,
    errors: _Errors,
) -> None:
    declared = children.get(prefix, set())
    for name, child in value.items():
        path = f"{prefix}.{name}" if prefix else name
        spec = specs.get(path)
        if spec is None:
            known = ", ".join(sorted(declared)) or "none"
            errors.add(
                f"attributes.{path}",
                "unknown_attribute",
                f"The trigger {schema.key!r} has no attribute {path!r} (declared here: {known}).",
            )
            continue
        if child is None:
            if spec.required:
                errors.add(f"attributes.{path}", "required", f"Required {TYPE_NAMES[spec.type]}, got null.")
            continue
        if not _has_type(child, spec.type):
            errors.add(
                f"attributes.{path}",
                "wrong_type",
                f"Expected {TYPE_NAMES[spec.type]}, got {_json_type(child)}.",
            )
            continue
        if spec.type == "object" and path in children:
            _check_object(child, path, specs, children, schema, errors)
    for name in sorted(declared):
        path = f"{prefix}.{name}" if prefix else name
        spec = specs[path]
        if spec.required and name not in value:
            errors.add(f"attributes.{path}", "required", f"Required attribute ({TYPE_NAMES[spec.type]}) is missing.")


def _has_type(value: Any, type_: str) -> bool:
    if type_ == "text":
        return isinstance(value, str)
    if type_ == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if type_ == "boolean":
        return isinstance(value, bool)
    if type_ == "datetime":
        return parse_timestamp(value) is not None
    if type_ == "object":
        return isinstance(value, dict)
    if type_ == "list":
        return isinstance(value, list)
    return False


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return "null"


# --- Typing text (a journey's raise-a-trigger step renders its attributes as text) -------

_TRUE, _FALSE = {"true", "yes", "1"}, {"false", "no", "0"}


def type_text(value: str, type_: str) -> Any:
    """The text `value` as a value of the attribute type `type_`; ValueError names the rule.

    Text stays text; numbers read as JSON numbers do (42, 19.90, -1e3); booleans are true/
    false, yes/no or 1/0 in any case; dates and times follow TIMESTAMP_RULE (kept as the ISO
    text, as the API stores them); objects and lists are JSON of that shape.
    """
    if type_ == "text":
        return value
    text = value.strip()
    if type_ == "number":
        try:
            number = json.loads(text, parse_float=parse_float)
        except ValueError:
            number = None
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise ValueError(f"Expected {TYPE_NAMES[type_]}, got {value!r}.")
        return number
    if type_ == "boolean":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(f"Expected {TYPE_NAMES[type_]} (or yes/no, 1/0), got {value!r}.")
    if type_ == "datetime":
        if parse_timestamp(text) is None:
            raise ValueError(f"{TIMESTAMP_RULE} Got {value!r}.")
        return text
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        parsed = None
    if not _has_type(parsed, type_):
        raise ValueError(f"Expected {TYPE_NAMES[type_]} as JSON, got {value!r}.")
    return parsed


def type_attributes(texts: Mapping[str, str], schema: TriggerSchema) -> tuple[dict[str, Any], list[FieldError]]:
    """Rendered attribute texts by attribute path (`cart.total`) as the event's typed
    attributes, nested by path; or the errors, one per field (`attributes.cart.total`).

    An empty text leaves a non-text attribute out (a required one is then reported missing
    by validate_event, like an API event without it)."""
    errors = _Errors()
    attributes: dict[str, Any] = {}
    for path, value in texts.items():
        spec = schema.by_path.get(path)
        if spec is None:
            errors.add(
                f"attributes.{path}", "unknown_attribute", f"The trigger {schema.key!r} has no attribute {path!r}."
            )
            continue
        if spec.type != "text" and not value.strip():
            continue
        try:
            typed = type_text(value, spec.type)
        except ValueError as error:
            errors.add(f"attributes.{path}", "wrong_type", str(error))
            continue
        *parents, name = path.split(".")
        node = attributes
        for parent in parents:
            node = node.setdefault(parent, {})
        node[name] = typed
    return attributes, errors.items
