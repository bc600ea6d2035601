"""The journey format (docs/journey-format.md): parse, validate and serialise bundles.

Pure: no database. The caller says which triggers and content exist outside the bundle
(`Catalogue`), and gets back typed specs or every error at once, each with its path
(`journeys[0].steps[1].within: …`).
"""

import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils.dateparse import parse_datetime

from content.designs import design_errors

from .conditions import MAX_CONDITIONS, condition_problems
from .durations import DurationError, format_duration, parse_wait

MAX_BRANCH_DEPTH = 8
KEY = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
ATTRIBUTE_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
ATTRIBUTE_TYPES = ("text", "number", "boolean", "datetime", "object", "list")
CHANNEL_FIELDS = {
    "email": ("subject", "preheader", "from_name", "from_email", "reply_to", "html", "text", "purpose"),
    "text": ("body", "sender", "purpose"),
    "push": ("title", "body", "image_url", "link", "purpose"),
}
REQUIRED_CHANNEL_FIELDS = {"email": ("subject", "from_email"), "text": ("body",), "push": ("title", "body")}
MESSAGE_TYPES = ("email", "text", "push")
STEP_TYPES = (*MESSAGE_TYPES, "wait", "wait_for", "branch", "split")
# Where each channel's address may come from, besides a trigger attribute (`trigger.<path>`).
CONTACT_ADDRESSES = {"email": "contact.email", "text": "contact.phone", "push": "contact.push_token"}
REPEAT_POLICIES = ("never", "after_exit", "immediately")
SEGMENT_MODES = ("one_time", "dynamic", "recurring")
TIME_OF_DAY = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


@dataclass
class AttributeSpec:
    name: str
    type: str
    required: bool = False
    description: str = ""


@dataclass
class TriggerSpec:
    key: str
    name: str
    status: str = "draft"
    description: str = ""
    attributes: list[AttributeSpec] = field(default_factory=list)

    def schema(self) -> dict[str, str]:
        return {a.name: a.type for a in self.attributes}


@dataclass
class ContentSpec:
    key: str
    channel: str
    name: str
    status: str = "draft"
    fields: dict[str, Any] = field(default_factory=dict)  # text, and an email's `design` (JSON)


@dataclass
class PathSpec:
    name: str
    steps: list["StepSpec"]
    conditions: list[dict] = field(default_factory=list)
    percent: int | None = None


@dataclass
class StepSpec:
    id: str
    type: str
    content: str | None = None
    to: str = ""
    duration: timedelta | None = None
    until: datetime | None = None
    trigger: str | None = None
    segment: str | None = None  # wait_for: "segment_joined"
    of_step: str | None = None
    conditions: list[dict] = field(default_factory=list)
    yes: list["StepSpec"] = field(default_factory=list)
    no: list["StepSpec"] = field(default_factory=list)
    paths: list[PathSpec] = field(default_factory=list)
    otherwise: list["StepSpec"] = field(default_factory=list)

    def children(self) -> list[tuple[str, list["StepSpec"]]]:
        """Outgoing paths as (path name, steps), in the order they are stored."""
        if self.type == "wait_for":
            return [("yes", self.yes), ("no", self.no)]
        if self.type in ("branch", "split"):
            paths = [(str(i), p.steps) for i, p in enumerate(self.paths)]
            return [*paths, ("otherwise", self.otherwise)] if self.type == "branch" else paths
        return []


@dataclass
class JourneySpec:
    key: str
    name: str
    type: str = "trigger"
    description: str = ""
    time_zone: str = "UTC"
    start_trigger: str | None = None
    start_conditions: list[dict] = field(default_factory=list)
    repeat: str = "after_exit"
    segment: str | None = None
    goal_trigger: str | None = None
    goal_target_percent: float | None = None
    goal_window: timedelta = timedelta(days=3)
    exit_triggers: list[str] = field(default_factory=list)
    steps: list[StepSpec] = field(default_factory=list)
    # Segment-based start and entry controls (issue 14).
    segment_mode: str = "one_time"
    segment_every: timedelta | None = None
    segment_at: str | None = None  # "HH:MM" in the journey's time zone
    exclude_segments: list[str] = field(default_factory=list)
    entry_starts_at: datetime | None = None
    entry_ends_at: datetime | None = None
    entry_per_hour: int | None = None


@dataclass
class SegmentSpec:
    key: str
    name: str
    description: str = ""
    conditions: list[dict] = field(default_factory=list)
    static: bool = False  # a list of contacts (imported from CSV), not conditions


@dataclass
class Bundle:
    triggers: list[TriggerSpec] = field(default_factory=list)
    content: list[ContentSpec] = field(default_factory=list)
    journeys: list[JourneySpec] = field(default_factory=list)
    segments: list[SegmentSpec] = field(default_factory=list)


@dataclass
class Catalogue:
    """What exists outside the bundle: trigger schemas, content channels and segments, by key."""

    trigger_schemas: dict[str, dict[str, str]] = field(default_factory=dict)
    content_channels: dict[str, str] = field(default_factory=dict)
    segments: set[str] = field(default_factory=set)


class BundleError(ValueError):
    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


class _Errors:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path}: {message}")


def _text(data: Mapping, name: str, path: str, errors: _Errors, *, required: bool = True, default: str = "") -> str:
    value = data.get(name, default)
    if value is None:
        value = default
    if not isinstance(value, str):
        errors.add(f"{path}.{name}", "must be a string")
        return default
    if required and not value.strip():
        errors.add(f"{path}.{name}", "is required")
    return value


def _key(data: Mapping, path: str, errors: _Errors, name: str = "key") -> str:
    value = _text(data, name, path, errors)
    if value and not KEY.match(value):
        errors.add(f"{path}.{name}", "use lower-case letters, digits, '-' and '_' (e.g. abandoned-cart)")
    return value


def _list(data: Mapping, name: str, path: str, errors: _Errors) -> list:
    value = data.get(name, [])
    if value is None:
        return []
    if not isinstance(value, list):
        errors.add(f"{path}.{name}", "must be a list")
        return []
    return value


def _object(value: Any, path: str, errors: _Errors) -> Mapping:
    if not isinstance(value, Mapping):
        errors.add(path, "must be an object")
        return {}
    return value


def parse_bundle(data: Any, catalogue: Catalogue | None = None) -> Bundle:
    """Parse and validate a bundle; raise BundleError listing every problem."""
    catalogue = catalogue or Catalogue()
    errors = _Errors()
    root = _object(data, "bundle", errors)
    triggers = [
        _parse_trigger(t, f"triggers[{i}]", errors) for i, t in enumerate(_list(root, "triggers", "bundle", errors))
    ]
    content = [
        _parse_content(c, f"content[{i}]", errors) for i, c in enumerate(_list(root, "content", "bundle", errors))
    ]
    segments = [
        _parse_segment(s, f"segments[{i}]", errors) for i, s in enumerate(_list(root, "segments", "bundle", errors))
    ]
    _unique([t.key for t in triggers], "triggers", errors)
    _unique([c.key for c in content], "content", errors)
    _unique([s.key for s in segments], "segments", errors)
    schemas = {**catalogue.trigger_schemas, **{t.key: t.schema() for t in triggers}}
    channels = {**catalogue.content_channels, **{c.key: c.channel for c in content}}
    segment_keys = catalogue.segments | {s.key for s in segments}
    journeys = [
        _parse_journey(j, f"journeys[{i}]", errors, schemas, channels, segment_keys)
        for i, j in enumerate(_list(root, "journeys", "bundle", errors))
    ]
    _unique([j.key for j in journeys], "journeys", errors)
    if errors.items:
        raise BundleError(errors.items)
    return Bundle(triggers=triggers, content=content, journeys=journeys, segments=segments)


def _parse_segment(raw: Any, path: str, errors: _Errors) -> SegmentSpec:
    from .segments import segment_problems

    data = _object(raw, path, errors)
    spec = SegmentSpec(
        key=_key(data, path, errors),
        name=_text(data, "name", path, errors),
        description=_text(data, "description", path, errors, required=False),
        static=data.get("static", False) is True,
    )
    if not isinstance(data.get("static", False), bool):
        errors.add(f"{path}.static", "must be true or false")
    conditions = data.get("conditions", [])
    for where, message in segment_problems(conditions):
        errors.add(f"{path}.{where}", message)
    if isinstance(conditions, list):
        spec.conditions = [dict(c) for c in conditions if isinstance(c, Mapping)]
    if spec.static and spec.conditions:
        errors.add(f"{path}.conditions", "a static segment is a list of contacts, without conditions")
    if not spec.static and not spec.conditions and isinstance(conditions, list):
        errors.add(f"{path}.conditions", "a segment needs at least one condition (or static: true)")
    return spec


def _unique(keys: list[str], path: str, errors: _Errors) -> None:
    seen = set()
    for i, key in enumerate(keys):
        if key and key in seen:
            errors.add(f"{path}[{i}].key", f"{key!r} appears twice")
        seen.add(key)


def _parse_trigger(raw: Any, path: str, errors: _Errors) -> TriggerSpec:
    data = _object(raw, path, errors)
    spec = TriggerSpec(
        key=_key(data, path, errors),
        name=_text(data, "name", path, errors),
        status=data.get("status", "draft"),
        description=_text(data, "description", path, errors, required=False),
    )
    if spec.status not in ("draft", "ready"):
        errors.add(f"{path}.status", "must be draft or ready")
    for i, raw_attr in enumerate(_list(data, "attributes", path, errors)):
        attr_path = f"{path}.attributes[{i}]"
        attr = _object(raw_attr, attr_path, errors)
        name = _text(attr, "name", attr_path, errors)
        if name and not ATTRIBUTE_PATH.match(name):
            errors.add(f"{attr_path}.name", "use letters, digits and '_', with dots between nested names")
        type_ = attr.get("type")
        if type_ not in ATTRIBUTE_TYPES:
            errors.add(f"{attr_path}.type", f"must be one of {', '.join(ATTRIBUTE_TYPES)}")
        required = attr.get("required", False)
        if not isinstance(required, bool):
            errors.add(f"{attr_path}.required", "must be true or false")
        spec.attributes.append(
            AttributeSpec(name, type_, bool(required), _text(attr, "description", attr_path, errors, required=False))
        )
    types = spec.schema()
    for i, attr in enumerate(spec.attributes):
        parent = attr.name.rpartition(".")[0]
        if parent and types.get(parent) != "object":
            errors.add(f"{path}.attributes[{i}].name", f"nested under {parent!r}, which must be an object attribute")
    return spec


def _parse_content(raw: Any, path: str, errors: _Errors) -> ContentSpec:
    data = _object(raw, path, errors)
    channel = data.get("channel")
    spec = ContentSpec(
        key=_key(data, path, errors),
        channel=channel,
        name=_text(data, "name", path, errors, required=False) or data.get("key", ""),
        status=data.get("status", "draft"),
    )
    if spec.status not in ("draft", "ready"):
        errors.add(f"{path}.status", "must be draft or ready")
    if channel not in CHANNEL_FIELDS:
        errors.add(f"{path}.channel", "must be email, text or push")
        return spec
    allowed = {"key", "channel", "name", "status", "description", *CHANNEL_FIELDS[channel]}
    if channel == "email":
        allowed.add("design")
        if "design" in data:
            # The email designer's blocks (content.designs); its HTML and text are rendered from it.
            for error in design_errors(data["design"]):
                errors.add(f"{path}.design.{error.path}", error.message)
            spec.fields["design"] = data["design"]
    for name in sorted(set(data) - allowed):
        errors.add(f"{path}.{name}", f"is not a field of {channel} content")
    for name in CHANNEL_FIELDS[channel]:
        if name in data:
            spec.fields[name] = _text(data, name, path, errors, required=False)
    for name in REQUIRED_CHANNEL_FIELDS[channel]:
        _text(data, name, path, errors)
    if "description" in data:
        spec.fields["description"] = _text(data, "description", path, errors, required=False)
    if spec.fields.get("purpose", "commercial") not in ("commercial", "transactional"):
        errors.add(f"{path}.purpose", "must be commercial or transactional")
    return spec


class _JourneyContext:
    def __init__(self, path: str, errors: _Errors, schemas: dict, channels: dict, segments: set[str] | None = None):
        self.path, self.errors, self.schemas, self.channels = path, errors, schemas, channels
        self.segments = segments or set()
        self.step_ids: dict[str, str] = {}  # id -> type, in document order

    def segment(self, key: Any, path: str) -> str | None:
        if not isinstance(key, str) or not key:
            self.errors.add(path, "is required")
            return None
        if key not in self.segments:
            self.errors.add(path, f"unknown segment {key!r}")
        return key

    def trigger(self, key: Any, path: str) -> str | None:
        if not isinstance(key, str) or not key:
            self.errors.add(path, "is required")
            return None
        if key not in self.schemas:
            self.errors.add(path, f"unknown trigger {key!r}")
        return key

    def conditions(self, raw: Any, path: str, schema: dict | None) -> list[dict]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.errors.add(path, "must be a list")
            return []
        if len(raw) > MAX_CONDITIONS:
            self.errors.add(path, f"at most {MAX_CONDITIONS} conditions")
        for i, condition in enumerate(raw):
            for field_name, message in condition_problems(condition, schema):
                self.errors.add(f"{path}[{i}]" + (f".{field_name}" if field_name else ""), message)
        return [dict(c) for c in raw if isinstance(c, Mapping)]


def _parse_journey(
    raw: Any, path: str, errors: _Errors, schemas: dict, channels: dict, segments: set[str] | None = None
) -> JourneySpec:
    data = _object(raw, path, errors)
    ctx = _JourneyContext(path, errors, schemas, channels, segments)
    spec = JourneySpec(
        key=_key(data, path, errors),
        name=_text(data, "name", path, errors),
        type=data.get("type", "trigger"),
        description=_text(data, "description", path, errors, required=False),
        time_zone=_text(data, "time_zone", path, errors, required=False, default="UTC") or "UTC",
    )
    if spec.type not in ("trigger", "segment"):
        errors.add(f"{path}.type", "must be trigger or segment")
    try:
        zoneinfo.ZoneInfo(spec.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        errors.add(f"{path}.time_zone", f"{spec.time_zone!r} is not an IANA time zone such as Europe/Paris")

    start = _object(data.get("start", {}), f"{path}.start", errors)
    if spec.type == "trigger":
        spec.start_trigger = ctx.trigger(start.get("trigger"), f"{path}.start.trigger")
    else:
        spec.segment = ctx.segment(start.get("segment"), f"{path}.start.segment")
        _parse_segment_start(start, f"{path}.start", spec, errors)
    _parse_entry_controls(data, path, spec, ctx)
    schema = schemas.get(spec.start_trigger or "")
    spec.start_conditions = ctx.conditions(start.get("conditions"), f"{path}.start.conditions", schema)
    spec.repeat = start.get("repeat", "after_exit")
    if spec.repeat not in REPEAT_POLICIES:
        errors.add(f"{path}.start.repeat", f"must be one of {', '.join(REPEAT_POLICIES)}")

    if data.get("goal") is not None:
        goal = _object(data["goal"], f"{path}.goal", errors)
        spec.goal_trigger = ctx.trigger(goal.get("trigger"), f"{path}.goal.trigger")
        percent = goal.get("target_percent")
        if percent is not None and (
            isinstance(percent, bool) or not isinstance(percent, int | float) or not 0 <= percent <= 100
        ):
            errors.add(f"{path}.goal.target_percent", "must be a number from 0 to 100")
        else:
            spec.goal_target_percent = percent
        if "window" in goal:
            try:
                spec.goal_window = parse_wait(goal["window"])
            except DurationError as e:
                errors.add(f"{path}.goal.window", str(e))
    exit_ = _object(data.get("exit") or {}, f"{path}.exit", errors)
    for i, key in enumerate(_list(exit_, "triggers", f"{path}.exit", errors)):
        if ctx.trigger(key, f"{path}.exit.triggers[{i}]"):
            spec.exit_triggers.append(key)

    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        errors.add(f"{path}.steps", "a journey needs at least one step")
    else:
        spec.steps = _parse_steps(raw_steps, f"{path}.steps", ctx, depth=0, earlier_messages=[])
    return spec


def _parse_segment_start(start: Mapping, path: str, spec: JourneySpec, errors: _Errors) -> None:
    spec.segment_mode = start.get("mode", "one_time")
    if spec.segment_mode not in SEGMENT_MODES:
        errors.add(f"{path}.mode", f"must be one of {', '.join(SEGMENT_MODES)}")
    if "every" in start:
        spec.segment_every = _wait(start["every"], f"{path}.every", errors)
    elif spec.segment_mode == "recurring":
        errors.add(f"{path}.every", "is required for a recurring journey (e.g. 1d)")
    if start.get("at") is not None:
        if not isinstance(start["at"], str) or not TIME_OF_DAY.match(start["at"]):
            errors.add(f"{path}.at", "must be a time of day such as 09:00")
        else:
            spec.segment_at = start["at"]
    if spec.segment_mode != "recurring" and ("every" in start or "at" in start):
        errors.add(f"{path}.mode", "every and at are for recurring journeys")


def _datetime(raw: Any, path: str, errors: _Errors) -> datetime | None:
    when = parse_datetime(raw) if isinstance(raw, str) else None
    if when is None or when.tzinfo is None:
        errors.add(path, "must be a date and time with its offset, e.g. 2026-12-24T09:00:00+01:00")
        return None
    return when


def _parse_entry_controls(data: Mapping, path: str, spec: JourneySpec, ctx: "_JourneyContext") -> None:
    """exclude.segments, entry_window and entry_limit: for every journey type."""
    errors = ctx.errors
    exclude = _object(data.get("exclude") or {}, f"{path}.exclude", errors)
    for i, key in enumerate(_list(exclude, "segments", f"{path}.exclude", errors)):
        if ctx.segment(key, f"{path}.exclude.segments[{i}]"):
            spec.exclude_segments.append(key)
    if data.get("entry_window") is not None:
        window = _object(data["entry_window"], f"{path}.entry_window", errors)
        if window.get("starts_at") is not None:
            spec.entry_starts_at = _datetime(window["starts_at"], f"{path}.entry_window.starts_at", errors)
        if window.get("ends_at") is not None:
            spec.entry_ends_at = _datetime(window["ends_at"], f"{path}.entry_window.ends_at", errors)
        if spec.entry_starts_at and spec.entry_ends_at and spec.entry_ends_at <= spec.entry_starts_at:
            errors.add(f"{path}.entry_window.ends_at", "must be after starts_at")
    if data.get("entry_limit") is not None:
        limit = _object(data["entry_limit"], f"{path}.entry_limit", errors)
        per_hour = limit.get("per_hour")
        if isinstance(per_hour, bool) or not isinstance(per_hour, int) or per_hour < 1:
            errors.add(f"{path}.entry_limit.per_hour", "must be a whole number of at least 1")
        else:
            spec.entry_per_hour = per_hour


def _parse_steps(raw: list, path: str, ctx: _JourneyContext, depth: int, earlier_messages: list[str]) -> list[StepSpec]:
    """Parse a sequence. `earlier_messages` are the email/text/push step ids a participant
    has necessarily passed before this sequence (for `of_step`)."""
    if not isinstance(raw, list):
        ctx.errors.add(path, "must be a list of steps")
        return []
    steps, passed = [], list(earlier_messages)
    for i, raw_step in enumerate(raw):
        step = _parse_step(raw_step, f"{path}[{i}]", ctx, depth, passed)
        if step is None:
            continue
        steps.append(step)
        if step.type in MESSAGE_TYPES:
            passed.append(step.id)
    return steps


def _parse_step(raw: Any, path: str, ctx: _JourneyContext, depth: int, passed: list[str]) -> StepSpec | None:
    errors = ctx.errors
    data = _object(raw, path, errors)
    if not data:
        return None
    step_id = _key(data, path, errors, name="id")
    type_ = data.get("type")
    if step_id:
        if step_id in ctx.step_ids:
            errors.add(f"{path}.id", f"{step_id!r} is used by another step of this journey")
        ctx.step_ids[step_id] = type_
    if type_ not in STEP_TYPES:
        errors.add(f"{path}.type", f"must be one of {', '.join(STEP_TYPES)}")
        return None
    step = StepSpec(id=step_id, type=type_)
    allowed = {"id", "type", *_STEP_FIELDS[type_]}
    for name in sorted(set(data) - allowed):
        errors.add(f"{path}.{name}", f"is not a field of a {type_} step")

    if type_ in MESSAGE_TYPES:
        step.content = _text(data, "content", path, errors)
        channel = ctx.channels.get(step.content)
        if step.content and channel is None:
            errors.add(f"{path}.content", f"unknown content {step.content!r}")
        elif channel and channel != type_:
            errors.add(f"{path}.content", f"{step.content!r} is {channel} content, not {type_}")
        step.to = _text(data, "to", path, errors, required=False) or CONTACT_ADDRESSES[type_]
        if step.to != CONTACT_ADDRESSES[type_] and not (
            step.to.startswith("trigger.") and ATTRIBUTE_PATH.match(step.to[len("trigger.") :])
        ):
            errors.add(f"{path}.to", f"must be {CONTACT_ADDRESSES[type_]} or trigger.<attribute>")
    elif type_ == "wait":
        if ("duration" in data) == ("until" in data):
            errors.add(path, "a wait needs either duration or until")
        elif "duration" in data:
            step.duration = _wait(data["duration"], f"{path}.duration", errors)
        else:
            until = parse_datetime(data["until"]) if isinstance(data["until"], str) else None
            if until is None or until.tzinfo is None:
                errors.add(f"{path}.until", "must be a date and time with its offset, e.g. 2026-12-24T09:00:00+01:00")
            step.until = until
    elif type_ == "wait_for" and "segment_joined" in data:
        step.segment = ctx.segment(data.get("segment_joined"), f"{path}.segment_joined")
        if "trigger" in data or "conditions" in data or "of_step" in data:
            errors.add(path, "a wait-for waits for a trigger or for segment_joined, not both")
        if "within" not in data:
            errors.add(f"{path}.within", "is required (the time limit, e.g. 1d)")
        else:
            step.duration = _wait(data["within"], f"{path}.within", errors)
    elif type_ == "wait_for":
        step.trigger = ctx.trigger(data.get("trigger"), f"{path}.trigger")
        if "within" not in data:
            errors.add(f"{path}.within", "is required (the time limit, e.g. 1d)")
        else:
            step.duration = _wait(data["within"], f"{path}.within", errors)
        step.of_step = data.get("of_step")
        if step.of_step is not None and step.of_step not in passed:
            errors.add(f"{path}.of_step", f"{step.of_step!r} must be an earlier email, text or push step on this path")
        step.conditions = ctx.conditions(
            data.get("conditions"), f"{path}.conditions", ctx.schemas.get(step.trigger or "")
        )
    elif type_ == "branch":
        for i, raw_path in enumerate(_list(data, "paths", path, errors)):
            p = _object(raw_path, f"{path}.paths[{i}]", errors)
            conditions = ctx.conditions(p.get("conditions"), f"{path}.paths[{i}].conditions", None)
            for j, condition in enumerate(conditions):
                attribute = condition.get("attribute", "")
                if not (attribute.startswith("contact.") or attribute.startswith("trigger.")):
                    errors.add(f"{path}.paths[{i}].conditions[{j}].attribute", "must start with contact. or trigger.")
            if not conditions:
                errors.add(f"{path}.paths[{i}].conditions", "a branch path needs at least one condition")
            step.paths.append(
                PathSpec(
                    name=_text(p, "name", f"{path}.paths[{i}]", errors, required=False) or f"Path {i + 1}",
                    steps=[],
                    conditions=conditions,
                )
            )
        if not step.paths:
            errors.add(f"{path}.paths", "a branch needs at least one path")
    elif type_ == "split":
        for i, raw_path in enumerate(_list(data, "paths", path, errors)):
            p = _object(raw_path, f"{path}.paths[{i}]", errors)
            percent = p.get("percent")
            if isinstance(percent, bool) or not isinstance(percent, int) or not 0 < percent <= 100:
                errors.add(f"{path}.paths[{i}].percent", "must be a whole number from 1 to 100")
                percent = 0
            step.paths.append(
                PathSpec(
                    name=_text(p, "name", f"{path}.paths[{i}]", errors, required=False) or f"Path {i + 1}",
                    steps=[],
                    percent=percent,
                )
            )
        if len(step.paths) < 2:
            errors.add(f"{path}.paths", "a split needs at least two paths")
        elif sum(p.percent or 0 for p in step.paths) != 100:
            errors.add(f"{path}.paths", "percentages must add up to 100")

    if type_ in ("wait_for", "branch", "split"):
        if depth + 1 > MAX_BRANCH_DEPTH:
            errors.add(path, f"branches are nested deeper than {MAX_BRANCH_DEPTH} levels")
            return step
        if type_ == "wait_for":
            step.yes = _parse_steps(data.get("yes", []), f"{path}.yes", ctx, depth + 1, passed)
            step.no = _parse_steps(data.get("no", []), f"{path}.no", ctx, depth + 1, passed)
        else:
            raw_paths = data.get("paths") if isinstance(data.get("paths"), list) else []
            for i, (spec_path, raw_path) in enumerate(zip(step.paths, raw_paths, strict=False)):
                steps = raw_path.get("steps", []) if isinstance(raw_path, Mapping) else []
                spec_path.steps = _parse_steps(steps, f"{path}.paths[{i}].steps", ctx, depth + 1, passed)
            if type_ == "branch":
                step.otherwise = _parse_steps(data.get("otherwise", []), f"{path}.otherwise", ctx, depth + 1, passed)
    return step


_STEP_FIELDS = {
    "email": ("content", "to"),
    "text": ("content", "to"),
    "push": ("content", "to"),
    "wait": ("duration", "until"),
    "wait_for": ("trigger", "segment_joined", "of_step", "within", "conditions", "yes", "no"),
    "branch": ("paths", "otherwise"),
    "split": ("paths",),
}


def _wait(raw: Any, path: str, errors: _Errors) -> timedelta | None:
    try:
        return parse_wait(raw)
    except DurationError as e:
        errors.add(path, str(e))
        return None


# --- Serialising ------------------------------------------------------------------------


def bundle_to_dict(bundle: Bundle) -> dict:
    """The canonical JSON form: parse_bundle(bundle_to_dict(b)) == b."""
    data = {
        "triggers": [trigger_to_dict(t) for t in bundle.triggers],
        "content": [content_to_dict(c) for c in bundle.content],
        "journeys": [journey_to_dict(j) for j in bundle.journeys],
    }
    if bundle.segments:
        data["segments"] = [segment_to_dict(s) for s in bundle.segments]
    return data


def segment_to_dict(spec: SegmentSpec) -> dict:
    data: dict[str, Any] = {"key": spec.key, "name": spec.name}
    if spec.description:
        data["description"] = spec.description
    if spec.static:
        data["static"] = True
    else:
        data["conditions"] = spec.conditions
    return data


def trigger_to_dict(spec: TriggerSpec) -> dict:
    data: dict[str, Any] = {"key": spec.key, "name": spec.name, "status": spec.status}
    if spec.description:
        data["description"] = spec.description
    data["attributes"] = [
        {
            "name": a.name,
            "type": a.type,
            "required": a.required,
            **({"description": a.description} if a.description else {}),
        }
        for a in spec.attributes
    ]
    return data


def content_to_dict(spec: ContentSpec) -> dict:
    return {"key": spec.key, "channel": spec.channel, "name": spec.name, "status": spec.status, **spec.fields}


def journey_to_dict(spec: JourneySpec) -> dict:
    start: dict[str, Any] = {"trigger": spec.start_trigger} if spec.type == "trigger" else {"segment": spec.segment}
    if spec.type == "segment":
        start["mode"] = spec.segment_mode
        if spec.segment_every is not None:
            start["every"] = format_duration(spec.segment_every)
        if spec.segment_at:
            start["at"] = spec.segment_at
    start["conditions"] = spec.start_conditions
    start["repeat"] = spec.repeat
    data: dict[str, Any] = {"key": spec.key, "name": spec.name, "type": spec.type}
    if spec.description:
        data["description"] = spec.description
    data["time_zone"] = spec.time_zone
    data["start"] = start
    if spec.goal_trigger:
        data["goal"] = {"trigger": spec.goal_trigger, "target_percent": spec.goal_target_percent}
        if spec.goal_window != timedelta(days=3):
            data["goal"]["window"] = format_duration(spec.goal_window)
    data["exit"] = {"triggers": spec.exit_triggers}
    if spec.exclude_segments:
        data["exclude"] = {"segments": spec.exclude_segments}
    if spec.entry_starts_at or spec.entry_ends_at:
        data["entry_window"] = {
            name: value.isoformat()
            for name, value in (("starts_at", spec.entry_starts_at), ("ends_at", spec.entry_ends_at))
            if value is not None
        }
    if spec.entry_per_hour is not None:
        data["entry_limit"] = {"per_hour": spec.entry_per_hour}
    data["steps"] = [step_to_dict(s) for s in spec.steps]
    return data


def step_to_dict(step: StepSpec) -> dict:
    data: dict[str, Any] = {"id": step.id, "type": step.type}
    if step.type in MESSAGE_TYPES:
        data.update(content=step.content, to=step.to)
    elif step.type == "wait":
        if step.until is not None:
            data["until"] = step.until.isoformat()
        else:
            data["duration"] = format_duration(step.duration)
    elif step.type == "wait_for" and step.segment:
        data["segment_joined"] = step.segment
        data["within"] = format_duration(step.duration)
        data["yes"] = [step_to_dict(s) for s in step.yes]
        data["no"] = [step_to_dict(s) for s in step.no]
    elif step.type == "wait_for":
        data["trigger"] = step.trigger
        if step.of_step:
            data["of_step"] = step.of_step
        data["within"] = format_duration(step.duration)
        if step.conditions:
            data["conditions"] = step.conditions
        data["yes"] = [step_to_dict(s) for s in step.yes]
        data["no"] = [step_to_dict(s) for s in step.no]
    elif step.type == "branch":
        data["paths"] = [
            {"name": p.name, "conditions": p.conditions, "steps": [step_to_dict(s) for s in p.steps]}
            for p in step.paths
        ]
        data["otherwise"] = [step_to_dict(s) for s in step.otherwise]
    elif step.type == "split":
        data["paths"] = [
            {"name": p.name, "percent": p.percent, "steps": [step_to_dict(s) for s in p.steps]} for p in step.paths
        ]
    return data
