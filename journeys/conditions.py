"""Conditions on attributes: `{"attribute": "cart.currency", "operator": "=", "value": "EUR"}`.

Pure functions: `evaluate` decides whether a condition holds for some attributes, and
`condition_problems` type-checks a condition against a trigger's attribute schema (a mapping
of dotted path to type) before a journey can be saved or published.
A missing attribute satisfies only `not_exists`.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypedDict

from django.utils.dateparse import parse_datetime

MAX_CONDITIONS = 30


class Condition(TypedDict, total=False):
    attribute: str
    operator: str
    value: Any


_MISSING = object()

# Operators and the attribute types they apply to.
OPERATORS: dict[str, set[str]] = {
    "=": {"text", "number", "boolean", "datetime"},
    "!=": {"text", "number", "boolean", "datetime"},
    ">": {"number"},
    ">=": {"number"},
    "<": {"number"},
    "<=": {"number"},
    "contains": {"text", "list"},
    "not_contains": {"text", "list"},
    "starts_with": {"text"},
    "in": {"text", "number"},
    "not_in": {"text", "number"},
    "exists": {"text", "number", "boolean", "datetime", "object", "list"},
    "not_exists": {"text", "number", "boolean", "datetime", "object", "list"},
    "before": {"datetime"},
    "after": {"datetime"},
}
NO_VALUE = {"exists", "not_exists"}


def get_path(data: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path, or _MISSING."""
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return parse_datetime(value)
        except ValueError:
            return None
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def evaluate(condition: Condition, data: Mapping[str, Any]) -> bool:
    """Whether the condition holds for these attributes. Never raises on odd data: a value of
    the wrong type simply does not match."""
    operator, expected = condition["operator"], condition.get("value")
    actual = get_path(data, condition["attribute"])
    if operator == "exists":
        return actual is not _MISSING and actual is not None
    if operator == "not_exists":
        return actual is _MISSING or actual is None
    if actual is _MISSING or actual is None:
        return False
    if operator in ("=", "!="):
        same = _equal(actual, expected)
        return same if operator == "=" else not same
    if operator in (">", ">=", "<", "<="):
        if not (_is_number(actual) and _is_number(expected)):
            return False
        return {
            ">": actual > expected,
            ">=": actual >= expected,
            "<": actual < expected,
            "<=": actual <= expected,
        }[operator]
    if operator in ("contains", "not_contains"):
        if isinstance(actual, str) and isinstance(expected, str):
            found = expected.casefold() in actual.casefold()
        elif isinstance(actual, list):
            found = any(_equal(item, expected) for item in actual)
        else:
            return False
        return found if operator == "contains" else not found
    if operator == "starts_with":
        return (
            isinstance(actual, str) and isinstance(expected, str) and actual.casefold().startswith(expected.casefold())
        )
    if operator in ("in", "not_in"):
        found = isinstance(expected, list) and any(_equal(actual, item) for item in expected)
        return found if operator == "in" else not found
    if operator in ("before", "after"):
        when, limit = _as_datetime(actual), _as_datetime(expected)
        if when is None or limit is None or (when.tzinfo is None) != (limit.tzinfo is None):
            return False
        return when < limit if operator == "before" else when > limit
    return False


def _equal(actual: Any, expected: Any) -> bool:
    if _is_number(actual) and _is_number(expected):
        return actual == expected
    if isinstance(actual, str) and isinstance(expected, str):
        when, limit = _as_datetime(actual), _as_datetime(expected)
        if when is not None and limit is not None and (when.tzinfo is None) == (limit.tzinfo is None):
            return when == limit
        return actual == expected
    return type(actual) is type(expected) and actual == expected


def all_hold(conditions: list[Condition], data: Mapping[str, Any]) -> bool:
    return all(evaluate(condition, data) for condition in conditions)


def condition_problems(condition: Any, schema: Mapping[str, str] | None) -> list[tuple[str, str]]:
    """Problems as (field, message) pairs. `schema` maps attribute paths to types; None skips
    the type check (attributes not described by a schema, e.g. contact attributes)."""
    if not isinstance(condition, Mapping):
        return [("", "must be an object with attribute, operator and value")]
    problems = []
    attribute, operator = condition.get("attribute"), condition.get("operator")
    if not isinstance(attribute, str) or not attribute:
        problems.append(("attribute", "is required"))
    if operator not in OPERATORS:
        problems.append(("operator", f"must be one of {', '.join(OPERATORS)}"))
        return problems
    if operator in NO_VALUE:
        if "value" in condition and condition["value"] is not None:
            problems.append(("value", f"must be left out with {operator}"))
    elif "value" not in condition:
        problems.append(("value", f"is required with {operator}"))
    if problems or schema is None:
        return problems
    type_ = schema.get(str(attribute))
    if type_ is None:
        known = ", ".join(sorted(schema)) or "none"
        return [("attribute", f"{attribute!r} is not an attribute of the trigger (known: {known})")]
    if type_ not in OPERATORS[operator]:
        return [("operator", f"{operator} does not apply to {type_} attribute {attribute!r}")]
    value = condition.get("value")
    if operator in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            return [("value", f"must be a non-empty list with {operator}")]
        values = value
    elif operator in NO_VALUE:
        values = []
    else:
        values = [value]
    for item in values:
        if not _fits(item, type_):
            return [("value", f"{item!r} is not a {type_} value for {attribute!r}")]
    return []


def _fits(value: Any, type_: str) -> bool:
    if type_ == "number":
        return _is_number(value)
    if type_ == "boolean":
        return isinstance(value, bool)
    if type_ == "datetime":
        when = _as_datetime(value)
        return when is not None and when.tzinfo is not None
    if type_ == "text":
        return isinstance(value, str)
    # A list's items are not described by the schema: any JSON scalar may be looked for.
    return isinstance(value, str | int | float | bool)
