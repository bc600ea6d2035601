"""The journey format's typed pieces and its errors (pure: no database).

`journeys.definition` parses and serialises bundles; each step kind (journeys.steps) parses
its own fields into a `StepSpec`. An error is a value, `SpecError(path, code, message)`: the
path says where it is (and, inside a step, which step), the code what is wrong, the message
how to say it; nobody reads the message back to find out either.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

KEY = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
ATTRIBUTE_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")

Part = str | int


@dataclass(frozen=True)
class SpecPath:
    """Where something is in a bundle: ("journeys", 0, "steps", 1, "within").

    `step` is the id of the innermost step the path is inside ("" outside steps) and
    `step_at` how many parts lead to that step, so the field inside it is `parts[step_at:]`."""

    parts: tuple[Part, ...] = ()
    step: str = ""
    step_at: int = 0

    def __truediv__(self, part: Part) -> "SpecPath":
        return SpecPath((*self.parts, part), self.step, self.step_at)

    def of_step(self, step_id: str) -> "SpecPath":
        """This path as the place of the step `step_id`."""
        return SpecPath(self.parts, step_id, len(self.parts))

    def in_step(self) -> tuple[Part, ...]:
        """The parts after the step's own place (its field: ("conditions", 0, "value"))."""
        return self.parts[self.step_at :] if self.step else ()

    def __str__(self) -> str:
        return dotted(self.parts)


def dotted(parts: tuple[Part, ...]) -> str:
    """("journeys", 0, "steps", 1, "within") -> "journeys[0].steps[1].within"."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


# What is wrong, for code that reacts to an error (the message is for people).
REQUIRED = "required"
WRONG_TYPE = "wrong_type"
INVALID = "invalid"
UNKNOWN = "unknown"
DUPLICATE = "duplicate"
NOT_ALLOWED = "not_allowed"
TOO_DEEP = "too_deep"
TOO_MANY = "too_many"
NO_STEPS = "no_steps"
CONFLICT = "conflict"
NOT_PUBLISHABLE = "not_publishable"
NOT_JSON = "not_json"


@dataclass(frozen=True)
class SpecError:
    """One problem of a bundle, a journey or a step."""

    path: SpecPath
    code: str
    message: str

    def __str__(self) -> str:
        where = str(self.path)
        return f"{where}: {self.message}" if where else self.message

    @property
    def where(self) -> str:
        """Where on the canvas: a step id, "start", "goal", "exit", "steps" or "settings"."""
        if self.path.step:
            return self.path.step
        parts = _in_journey(self.path.parts)
        if parts and parts[0] in ("start", "goal", "exit", "steps"):
            return str(parts[0])
        return "settings"

    @property
    def field_parts(self) -> tuple[Part, ...]:
        """The field inside `where`: ("within",), ("conditions", 1, "value"), or ()."""
        if self.path.step:
            return self.path.in_step()
        parts = _in_journey(self.path.parts)
        if parts and parts[0] in ("start", "goal", "exit"):
            return parts[1:]
        if parts and parts[0] == "steps":
            return ()
        return parts[:1]

    @property
    def field(self) -> str:
        return dotted(self.field_parts)


def _in_journey(parts: tuple[Part, ...]) -> tuple[Part, ...]:
    return parts[2:] if parts[:1] == ("journeys",) else parts


@dataclass(frozen=True)
class Problem:
    """Something that keeps a version from going live (journeys.publishing).

    `where` is "start", "goal", "exit", "steps" or "step <key>"; `fix` names what to open to
    fix it when that is elsewhere: ("trigger", key) or ("content", key)."""

    where: str
    message: str
    code: str = NOT_PUBLISHABLE
    fix: tuple[str, str] | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"

    @property
    def step(self) -> str:
        """The step's key when the problem is on a step, else ""."""
        return self.where[len("step ") :] if self.where.startswith("step ") else ""


class Errors:
    """Collects every problem of a parse, so all are reported at once."""

    def __init__(self) -> None:
        self.items: list[SpecError] = []

    def add(self, path: SpecPath, code: str, message: str) -> None:
        self.items.append(SpecError(path, code, message))


# --- Typed pieces ---------------------------------------------------------------------------


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
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class PathSpec:
    name: str
    steps: list["StepSpec"]
    conditions: list[dict] = field(default_factory=list)
    percent: int | None = None


@dataclass
class StepSpec:
    """A step of any kind; each kind (journeys.steps) uses the fields it needs."""

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
    # Fields of kinds that need no column of their own (Step.settings), e.g. a log's message.
    settings: dict[str, Any] = field(default_factory=dict)

    def children(self) -> list[tuple[str, list["StepSpec"]]]:
        """Outgoing paths as (path name, steps), in the order they are stored."""
        from .steps import kind_of

        return kind_of(self.type).children(self)


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
    # Segment-based start and entry controls.
    segment_mode: str = "one_time"
    segment_every: timedelta | None = None
    segment_at: str | None = None  # "HH:MM" in the journey's time zone
    exclude_segments: list[str] = field(default_factory=list)
    entry_starts_at: datetime | None = None
    entry_ends_at: datetime | None = None
    entry_per_hour: int | None = None
    holdout_percent: int = 0  # the control group's share of entrants (journeys.holdout)


@dataclass
class SegmentSpec:
    key: str
    name: str
    description: str = ""
    conditions: list[dict] = field(default_factory=list)
    static: bool = False  # a list of contacts (imported from CSV), not conditions


# --- Reading raw values -----------------------------------------------------------------------


def text(data: Mapping, name: str, path: SpecPath, errors: Errors, *, required: bool = True, default: str = "") -> str:
    value = data.get(name, default)
    if value is None:
        value = default
    if not isinstance(value, str):
        errors.add(path / name, WRONG_TYPE, "must be a string")
        return default
    if required and not value.strip():
        errors.add(path / name, REQUIRED, "is required")
    return value


def key(data: Mapping, path: SpecPath, errors: Errors, name: str = "key") -> str:
    value = text(data, name, path, errors)
    if value and not KEY.match(value):
        errors.add(path / name, INVALID, "use lower-case letters, digits, '-' and '_' (e.g. abandoned-cart)")
    return value


def listed(data: Mapping, name: str, path: SpecPath, errors: Errors) -> list:
    value = data.get(name, [])
    if value is None:
        return []
    if not isinstance(value, list):
        errors.add(path / name, WRONG_TYPE, "must be a list")
        return []
    return value


def mapping(value: Any, path: SpecPath, errors: Errors) -> Mapping:
    if not isinstance(value, Mapping):
        errors.add(path, WRONG_TYPE, "must be an object")
        return {}
    return value
