"""The journey format (docs/journey-format.md): parse, validate and serialise bundles.

Pure: no database. The caller says which triggers and content exist outside the bundle
(`Catalogue`), and gets back typed specs or every error at once, each a `SpecError` with its
path (`journeys[0].steps[1].within: …`). What a step of each kind holds is its kind's
business (journeys.steps): this module parses what every step has (an id, a type) and hands
the rest to the kind.
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
from .spec import (
    ATTRIBUTE_PATH,
    CONFLICT,
    DUPLICATE,
    INVALID,
    NO_STEPS,
    NOT_ALLOWED,
    REQUIRED,
    TOO_DEEP,
    TOO_MANY,
    UNKNOWN,
    WRONG_TYPE,
    AttributeSpec,
    ContentSpec,
    Errors,
    JourneySpec,
    PathSpec,
    SegmentSpec,
    SpecError,
    SpecPath,
    StepSpec,
    TriggerSpec,
    key,
    listed,
    mapping,
    text,
)
from .steps import kind_of, kinds

__all__ = [
    "AttributeSpec",
    "Bundle",
    "BundleError",
    "Catalogue",
    "ContentSpec",
    "JourneySpec",
    "PathSpec",
    "SegmentSpec",
    "SpecError",
    "StepSpec",
    "TriggerSpec",
    "bundle_to_dict",
    "journey_to_dict",
    "parse_bundle",
    "step_to_dict",
]

MAX_BRANCH_DEPTH = 8
MAX_HOLDOUT_PERCENT = 50  # journeys.holdout; a larger control group would starve the journey
ATTRIBUTE_TYPES = ("text", "number", "boolean", "datetime", "object", "list")
CHANNEL_FIELDS = {
    "email": ("subject", "preheader", "from_name", "from_email", "reply_to", "html", "text", "purpose"),
    "text": ("body", "sender", "purpose"),
    "push": ("title", "body", "image_url", "link", "purpose"),
}
REQUIRED_CHANNEL_FIELDS = {"email": ("subject", "from_email"), "text": ("body",), "push": ("title", "body")}
REPEAT_POLICIES = ("never", "after_exit", "immediately")
SEGMENT_MODES = ("one_time", "dynamic", "recurring")
TIME_OF_DAY = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
ROOT = SpecPath()
BUNDLE = SpecPath(("bundle",))  # where a problem of the bundle as a whole is


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
    """Everything wrong with a bundle. `problems` are the SpecErrors; `errors` the same as
    text ("journeys[0].steps[1].within: 100d is longer than the 90-day limit")."""

    def __init__(self, problems: list[SpecError]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems

    @property
    def errors(self) -> list[str]:
        return [str(p) for p in self.problems]


def parse_bundle(data: Any, catalogue: Catalogue | None = None) -> Bundle:
    """Parse and validate a bundle; raise BundleError listing every problem."""
    catalogue = catalogue or Catalogue()
    errors = Errors()
    root = mapping(data, BUNDLE, errors)
    triggers = [
        _parse_trigger(t, ROOT / "triggers" / i, errors) for i, t in enumerate(listed(root, "triggers", BUNDLE, errors))
    ]
    content = [
        _parse_content(c, ROOT / "content" / i, errors) for i, c in enumerate(listed(root, "content", BUNDLE, errors))
    ]
    segments = [
        _parse_segment(s, ROOT / "segments" / i, errors) for i, s in enumerate(listed(root, "segments", BUNDLE, errors))
    ]
    _unique([t.key for t in triggers], "triggers", errors)
    _unique([c.key for c in content], "content", errors)
    _unique([s.key for s in segments], "segments", errors)
    schemas = {**catalogue.trigger_schemas, **{t.key: t.schema() for t in triggers}}
    channels = {**catalogue.content_channels, **{c.key: c.channel for c in content}}
    segment_keys = catalogue.segments | {s.key for s in segments}
    journeys = [
        _parse_journey(j, ROOT / "journeys" / i, errors, schemas, channels, segment_keys)
        for i, j in enumerate(listed(root, "journeys", BUNDLE, errors))
    ]
    _unique([j.key for j in journeys], "journeys", errors)
    if errors.items:
        raise BundleError(errors.items)
    return Bundle(triggers=triggers, content=content, journeys=journeys, segments=segments)


def _parse_segment(raw: Any, path: SpecPath, errors: Errors) -> SegmentSpec:
    from .segments import segment_problem_parts

    data = mapping(raw, path, errors)
    spec = SegmentSpec(
        key=key(data, path, errors),
        name=text(data, "name", path, errors),
        description=text(data, "description", path, errors, required=False),
        static=data.get("static", False) is True,
    )
    if not isinstance(data.get("static", False), bool):
        errors.add(path / "static", WRONG_TYPE, "must be true or false")
    conditions = data.get("conditions", [])
    for parts, message in segment_problem_parts(conditions):
        place = path
        for part in parts:
            place = place / part
        errors.add(place, INVALID, message)
    if isinstance(conditions, list):
        spec.conditions = [dict(c) for c in conditions if isinstance(c, Mapping)]
    if spec.static and spec.conditions:
        errors.add(path / "conditions", CONFLICT, "a static segment is a list of contacts, without conditions")
    if not spec.static and not spec.conditions and isinstance(conditions, list):
        errors.add(path / "conditions", REQUIRED, "a segment needs at least one condition (or static: true)")
    return spec


def _unique(keys: list[str], name: str, errors: Errors) -> None:
    seen = set()
    for i, value in enumerate(keys):
        if value and value in seen:
            errors.add(ROOT / name / i / "key", DUPLICATE, f"{value!r} appears twice")
        seen.add(value)


def _parse_trigger(raw: Any, path: SpecPath, errors: Errors) -> TriggerSpec:
    data = mapping(raw, path, errors)
    spec = TriggerSpec(
        key=key(data, path, errors),
        name=text(data, "name", path, errors),
        status=data.get("status", "draft"),
        description=text(data, "description", path, errors, required=False),
    )
    if spec.status not in ("draft", "ready"):
        errors.add(path / "status", INVALID, "must be draft or ready")
    for i, raw_attr in enumerate(listed(data, "attributes", path, errors)):
        attr_path = path / "attributes" / i
        raw_map = mapping(raw_attr, attr_path, errors)
        name = text(raw_map, "name", attr_path, errors)
        if name and not ATTRIBUTE_PATH.match(name):
            errors.add(attr_path / "name", INVALID, "use letters, digits and '_', with dots between nested names")
        type_ = raw_map.get("type")
        if type_ not in ATTRIBUTE_TYPES:
            errors.add(attr_path / "type", INVALID, f"must be one of {', '.join(ATTRIBUTE_TYPES)}")
        required = raw_map.get("required", False)
        if not isinstance(required, bool):
            errors.add(attr_path / "required", WRONG_TYPE, "must be true or false")
        spec.attributes.append(
            AttributeSpec(
                name, str(type_), bool(required), text(raw_map, "description", attr_path, errors, required=False)
            )
        )
    types = spec.schema()
    for i, attr in enumerate(spec.attributes):
        parent = attr.name.rpartition(".")[0]
        if parent and types.get(parent) != "object":
            errors.add(
                path / "attributes" / i / "name", INVALID, f"nested under {parent!r}, which must be an object attribute"
            )
    return spec


def _parse_content(raw: Any, path: SpecPath, errors: Errors) -> ContentSpec:
    data = mapping(raw, path, errors)
    channel = data.get("channel")
    spec = ContentSpec(
        key=key(data, path, errors),
        channel=str(channel or ""),
        name=text(data, "name", path, errors, required=False) or data.get("key", ""),
        status=data.get("status", "draft"),
    )
    if spec.status not in ("draft", "ready"):
        errors.add(path / "status", INVALID, "must be draft or ready")
    if channel not in CHANNEL_FIELDS:
        errors.add(path / "channel", INVALID, "must be email, text or push")
        return spec
    allowed = {"key", "channel", "name", "status", "description", *CHANNEL_FIELDS[channel]}
    if channel == "email":
        allowed.add("design")
        if "design" in data:
            # The email designer's blocks (content.designs); its HTML and text are rendered from it.
            for error in design_errors(data["design"]):
                errors.add(path / "design" / error.path, INVALID, error.message)
            spec.fields["design"] = data["design"]
    for name in sorted(set(data) - allowed):
        errors.add(path / name, NOT_ALLOWED, f"is not a field of {channel} content")
    for name in CHANNEL_FIELDS[channel]:
        if name in data:
            spec.fields[name] = text(data, name, path, errors, required=False)
    for name in REQUIRED_CHANNEL_FIELDS[channel]:
        text(data, name, path, errors)
    if "description" in data:
        spec.fields["description"] = text(data, "description", path, errors, required=False)
    if spec.fields.get("purpose", "commercial") not in ("commercial", "transactional"):
        errors.add(path / "purpose", INVALID, "must be commercial or transactional")
    return spec


class ParseContext:
    """What a step kind's parser may ask about the journey it is in."""

    def __init__(self, errors: Errors, schemas: dict, channels: dict, segments: set[str] | None = None):
        self.errors, self.schemas, self.channels = errors, schemas, channels
        self.segments = segments or set()
        self.step_ids: dict[str, str] = {}  # id -> type, in document order
        self.start_trigger: str | None = None  # the journey's, once read (a raise step may not raise it)

    def segment(self, value: Any, path: SpecPath) -> str | None:
        if not isinstance(value, str) or not value:
            self.errors.add(path, REQUIRED, "is required")
            return None
        if value not in self.segments:
            self.errors.add(path, UNKNOWN, f"unknown segment {value!r}")
        return value

    def add(self, path: SpecPath, code: str, message: str) -> None:
        self.errors.add(path, code, message)

    def trigger(self, value: Any, path: SpecPath) -> str | None:
        if not isinstance(value, str) or not value:
            self.errors.add(path, REQUIRED, "is required")
            return None
        if value not in self.schemas:
            self.errors.add(path, UNKNOWN, f"unknown trigger {value!r}")
        return value

    def conditions(self, raw: Any, path: SpecPath, schema: dict | None) -> list[dict]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.errors.add(path, WRONG_TYPE, "must be a list")
            return []
        if len(raw) > MAX_CONDITIONS:
            self.errors.add(path, TOO_MANY, f"at most {MAX_CONDITIONS} conditions")
        for i, condition in enumerate(raw):
            for field_name, message in condition_problems(condition, schema):
                self.errors.add(path / i / field_name if field_name else path / i, INVALID, message)
        return [dict(c) for c in raw if isinstance(c, Mapping)]

    def wait(self, raw: Any, path: SpecPath) -> timedelta | None:
        try:
            return parse_wait(raw)
        except DurationError as e:
            self.errors.add(path, INVALID, str(e))
            return None

    def steps(self, raw: Any, path: SpecPath, depth: int, passed: list[str]) -> list[StepSpec]:
        """A nested sequence of steps (a path of a branching step)."""
        return _parse_steps(raw, path, self, depth, passed)


def _parse_journey(
    raw: Any, path: SpecPath, errors: Errors, schemas: dict, channels: dict, segments: set[str] | None = None
) -> JourneySpec:
    data = mapping(raw, path, errors)
    ctx = ParseContext(errors, schemas, channels, segments)
    spec = JourneySpec(
        key=key(data, path, errors),
        name=text(data, "name", path, errors),
        type=data.get("type", "trigger"),
        description=text(data, "description", path, errors, required=False),
        time_zone=text(data, "time_zone", path, errors, required=False, default="UTC") or "UTC",
    )
    if spec.type not in ("trigger", "segment"):
        errors.add(path / "type", INVALID, "must be trigger or segment")
    try:
        zoneinfo.ZoneInfo(spec.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        errors.add(path / "time_zone", INVALID, f"{spec.time_zone!r} is not an IANA time zone such as Europe/Paris")

    start_path = path / "start"
    start = mapping(data.get("start", {}), start_path, errors)
    if spec.type == "trigger":
        spec.start_trigger = ctx.start_trigger = ctx.trigger(start.get("trigger"), start_path / "trigger")
    else:
        spec.segment = ctx.segment(start.get("segment"), start_path / "segment")
        _parse_segment_start(start, start_path, spec, ctx)
    _parse_entry_controls(data, path, spec, ctx)
    schema = schemas.get(spec.start_trigger or "")
    spec.start_conditions = ctx.conditions(start.get("conditions"), start_path / "conditions", schema)
    spec.repeat = start.get("repeat", "after_exit")
    if spec.repeat not in REPEAT_POLICIES:
        errors.add(start_path / "repeat", INVALID, f"must be one of {', '.join(REPEAT_POLICIES)}")

    if data.get("goal") is not None:
        goal_path = path / "goal"
        goal = mapping(data["goal"], goal_path, errors)
        spec.goal_trigger = ctx.trigger(goal.get("trigger"), goal_path / "trigger")
        percent = goal.get("target_percent")
        if percent is not None and (
            isinstance(percent, bool) or not isinstance(percent, int | float) or not 0 <= percent <= 100
        ):
            errors.add(goal_path / "target_percent", INVALID, "must be a number from 0 to 100")
        else:
            spec.goal_target_percent = percent
        if "window" in goal:
            window = ctx.wait(goal["window"], goal_path / "window")
            if window is not None:
                spec.goal_window = window
    if "holdout_percent" in data:
        holdout = data["holdout_percent"]
        if isinstance(holdout, bool) or not isinstance(holdout, int) or not 0 <= holdout <= MAX_HOLDOUT_PERCENT:
            errors.add(path / "holdout_percent", INVALID, f"must be a whole number from 0 to {MAX_HOLDOUT_PERCENT}")
        else:
            spec.holdout_percent = holdout
    exit_path = path / "exit"
    exit_ = mapping(data.get("exit") or {}, exit_path, errors)
    for i, trigger in enumerate(listed(exit_, "triggers", exit_path, errors)):
        if ctx.trigger(trigger, exit_path / "triggers" / i):
            spec.exit_triggers.append(trigger)

    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        errors.add(path / "steps", NO_STEPS, "a journey needs at least one step")
    else:
        spec.steps = _parse_steps(raw_steps, path / "steps", ctx, depth=0, earlier_messages=[])
    return spec


def _parse_segment_start(start: Mapping, path: SpecPath, spec: JourneySpec, ctx: ParseContext) -> None:
    spec.segment_mode = start.get("mode", "one_time")
    if spec.segment_mode not in SEGMENT_MODES:
        ctx.add(path / "mode", INVALID, f"must be one of {', '.join(SEGMENT_MODES)}")
    if "every" in start:
        spec.segment_every = ctx.wait(start["every"], path / "every")
    elif spec.segment_mode == "recurring":
        ctx.add(path / "every", REQUIRED, "is required for a recurring journey (e.g. 1d)")
    if start.get("at") is not None:
        if not isinstance(start["at"], str) or not TIME_OF_DAY.match(start["at"]):
            ctx.add(path / "at", INVALID, "must be a time of day such as 09:00")
        else:
            spec.segment_at = start["at"]
    if spec.segment_mode != "recurring" and ("every" in start or "at" in start):
        ctx.add(path / "mode", CONFLICT, "every and at are for recurring journeys")


def _datetime(raw: Any, path: SpecPath, ctx: ParseContext) -> datetime | None:
    when = parse_datetime(raw) if isinstance(raw, str) else None
    if when is None or when.tzinfo is None:
        ctx.add(path, INVALID, "must be a date and time with its offset, e.g. 2026-12-24T09:00:00+01:00")
        return None
    return when


def _parse_entry_controls(data: Mapping, path: SpecPath, spec: JourneySpec, ctx: ParseContext) -> None:
    """exclude.segments, entry_window and entry_limit: for every journey type."""
    errors = ctx.errors
    exclude = mapping(data.get("exclude") or {}, path / "exclude", errors)
    for i, segment in enumerate(listed(exclude, "segments", path / "exclude", errors)):
        if ctx.segment(segment, path / "exclude" / "segments" / i):
            spec.exclude_segments.append(segment)
    if data.get("entry_window") is not None:
        window = mapping(data["entry_window"], path / "entry_window", errors)
        if window.get("starts_at") is not None:
            spec.entry_starts_at = _datetime(window["starts_at"], path / "entry_window" / "starts_at", ctx)
        if window.get("ends_at") is not None:
            spec.entry_ends_at = _datetime(window["ends_at"], path / "entry_window" / "ends_at", ctx)
        if spec.entry_starts_at and spec.entry_ends_at and spec.entry_ends_at <= spec.entry_starts_at:
            ctx.add(path / "entry_window" / "ends_at", INVALID, "must be after starts_at")
    if data.get("entry_limit") is not None:
        limit = mapping(data["entry_limit"], path / "entry_limit", errors)
        per_hour = limit.get("per_hour")
        if isinstance(per_hour, bool) or not isinstance(per_hour, int) or per_hour < 1:
            ctx.add(path / "entry_limit" / "per_hour", INVALID, "must be a whole number of at least 1")
        else:
            spec.entry_per_hour = per_hour


def _parse_steps(
    raw: Any, path: SpecPath, ctx: ParseContext, depth: int, earlier_messages: list[str]
) -> list[StepSpec]:
    """Parse a sequence. `earlier_messages` are the message step ids a participant has
    necessarily passed before this sequence (for a wait-for's `of_step`)."""
    if not isinstance(raw, list):
        ctx.add(path, WRONG_TYPE, "must be a list of steps")
        return []
    steps, passed = [], list(earlier_messages)
    for i, raw_step in enumerate(raw):
        step = _parse_step(raw_step, path / i, ctx, depth, passed)
        if step is None:
            continue
        steps.append(step)
        if kind_of(step.type).channel:
            passed.append(step.id)
    return steps


def _parse_step(raw: Any, path: SpecPath, ctx: ParseContext, depth: int, passed: list[str]) -> StepSpec | None:
    data = mapping(raw, path, ctx.errors)
    if not data:
        return None
    step_id = key(data, path, ctx.errors, name="id")
    here = path.of_step(step_id) if step_id else path
    type_ = data.get("type")
    if step_id:
        if step_id in ctx.step_ids:
            ctx.add(here / "id", DUPLICATE, f"{step_id!r} is used by another step of this journey")
        ctx.step_ids[step_id] = str(type_)
    names = [k.name for k in kinds()]
    if type_ not in names:
        ctx.add(here / "type", INVALID, f"must be one of {', '.join(names)}")
        return None
    kind = kind_of(type_)
    step = StepSpec(id=step_id, type=type_)
    for name in sorted(set(data) - {"id", "type", *kind.fields}):
        ctx.add(here / name, NOT_ALLOWED, f"is not a field of a {type_} step")
    kind.parse(data, step, here, ctx, passed)
    if kind.branching:
        if depth + 1 > MAX_BRANCH_DEPTH:
            ctx.add(here, TOO_DEEP, f"branches are nested deeper than {MAX_BRANCH_DEPTH} levels")
            return step
        kind.parse_children(data, step, here, ctx, depth + 1, passed)
    return step


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
    if spec.holdout_percent:
        data["holdout_percent"] = spec.holdout_percent
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
    return {"id": step.id, "type": step.type, **kind_of(step.type).to_dict(step)}
