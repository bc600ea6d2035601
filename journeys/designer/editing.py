"""Changes to a draft's spec, and where a problem is. Pure: no database.

A place in the tree is a `Location`: the parent step's id (None at the top), the path
under it ("yes", "no", "0".., "otherwise"; "" at the top) and a position in that path.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.utils.text import slugify

from ..definition import (
    MESSAGE_TYPES,
    BundleError,
    Catalogue,
    JourneySpec,
    StepSpec,
    journey_to_dict,
    parse_bundle,
)

# A draft may have no steps yet; publishing says so ("add at least one step").
_EMPTY_STEPS = "a journey needs at least one step"


class EditError(ValueError):
    """The change does not fit the journey (an unknown place or step)."""


@dataclass(frozen=True)
class Location:
    parent: str | None
    path: str
    position: int


def walk(steps: list[StepSpec]) -> Iterator[StepSpec]:
    """Every step, depth first, in document order."""
    for step in steps:
        yield step
        for _, children in step.children():
            yield from walk(children)


def sequence(spec: JourneySpec, parent: str | None, path: str) -> list[StepSpec]:
    """The list of steps at a place (the spec's own list, so it can be changed in place)."""
    if parent is None:
        if path:
            raise EditError("the top of the journey has no named paths")
        return spec.steps
    for step in walk(spec.steps):
        if step.id == parent:
            for name, children in step.children():
                if name == path:
                    return children
            raise EditError(f"step {parent!r} has no path {path!r}")
    raise EditError(f"there is no step {parent!r}")


def find(spec: JourneySpec, step_id: str) -> tuple[StepSpec, Location]:
    def search(steps: list[StepSpec], parent: str | None, path: str):
        for index, step in enumerate(steps):
            if step.id == step_id:
                return step, Location(parent, path, index)
            for name, children in step.children():
                found = search(children, step.id, name)
                if found:
                    return found
        return None

    found = search(spec.steps, None, "")
    if found is None:
        raise EditError(f"there is no step {step_id!r}")
    return found


def insert_step(spec: JourneySpec, where: Location, step: StepSpec) -> None:
    steps = sequence(spec, where.parent, where.path)
    if not 0 <= where.position <= len(steps):
        raise EditError(f"position {where.position} is outside this path")
    steps.insert(where.position, step)


def replace_step(spec: JourneySpec, step_id: str, new: StepSpec) -> None:
    """Put `new` where `step_id` is, keeping the steps on its paths when the kind keeps them."""
    old, where = find(spec, step_id)
    if new.type == old.type == "wait_for":
        new.yes, new.no = old.yes, old.no
    elif new.type == old.type and new.type in ("branch", "split"):
        for index, path in enumerate(new.paths):
            if index < len(old.paths):
                path.steps = old.paths[index].steps
        if new.type == "branch":
            new.otherwise = old.otherwise
    sequence(spec, where.parent, where.path)[where.position] = new


def remove_step(spec: JourneySpec, step_id: str) -> StepSpec:
    """Remove a step and the steps on its paths; return it."""
    step, where = find(spec, step_id)
    del sequence(spec, where.parent, where.path)[where.position]
    return step


def unique_id(spec: JourneySpec, base: str) -> str:
    """A step id from `base` that no step of the journey uses yet."""
    stem = slugify(base)[:90] or "step"
    taken = {step.id for step in walk(spec.steps)}
    candidate, n = stem, 2
    while candidate in taken:
        candidate, n = f"{stem}-{n}", n + 1
    return candidate


def earlier_messages(spec: JourneySpec, where: Location) -> list[StepSpec]:
    """The message steps every participant has passed before reaching `where` (the choices
    for a wait-for's "of step")."""

    def search(steps: list[StepSpec], parent: str | None, path: str, passed: list[StepSpec]):
        if parent == where.parent and path == where.path:
            return passed + [s for s in steps[: where.position] if s.type in MESSAGE_TYPES]
        for step in steps:
            for name, children in step.children():
                found = search(children, step.id, name, passed)
                if found is not None:
                    return found
            if step.type in MESSAGE_TYPES:
                passed = [*passed, step]
        return None

    return search(spec.steps, None, "", []) or []


@dataclass(frozen=True)
class SpecError:
    where: str  # "start", "goal", "exit", "settings", "steps", or a step id
    field: str  # the field inside it ("content", "within", "conditions[0].value"), or ""
    message: str


def spec_errors(spec: JourneySpec, catalogue: Catalogue) -> list[SpecError]:
    """Everything the journey format finds wrong with the spec, located on the canvas."""
    try:
        parse_bundle({"journeys": [journey_to_dict(spec)]}, catalogue)
    except BundleError as error:
        located = [locate(item, spec) for item in error.errors]
        return [e for e in located if not (e.where == "steps" and e.message == _EMPTY_STEPS)]
    return []


_TOKEN = re.compile(r"([A-Za-z_]+)(?:\[(\d+)\])?")
_SEQUENCES = ("steps", "yes", "no", "otherwise")


def locate(error: str, spec: JourneySpec) -> SpecError:
    """'journeys[0].steps[1].no[0].content: is required' -> SpecError(step id, 'content', …)."""
    path, _, message = error.partition(": ")
    tokens = [(m.group(1), m.group(2)) for m in _TOKEN.finditer(path)]
    if tokens and tokens[0][0] == "journeys":
        tokens = tokens[1:]
    if not tokens:
        return SpecError("settings", "", message)
    first = tokens[0][0]
    if first in ("start", "goal", "exit"):
        rest = path.split(f"{first}.", 1)[1] if f"{first}." in path else ""
        return SpecError(first, rest, message)
    if first != "steps":
        return SpecError("settings", first, message)
    current: list[StepSpec] | None = spec.steps
    step: StepSpec | None = None
    i = 0
    while i < len(tokens):
        name, index = tokens[i]
        if name in _SEQUENCES and index is not None:
            if name != "steps" and step is not None:
                current = dict(step.children()).get(name, [])
            if current is None or int(index) >= len(current):
                break
            step, current = current[int(index)], None
            i += 1
            continue
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if name == "paths" and index is not None and step is not None and nxt and nxt[0] == "steps":
            current = step.paths[int(index)].steps if int(index) < len(step.paths) else []
            i += 1
            continue
        break
    if step is None:
        return SpecError("steps", "", message)
    field = ".".join(f"{n}[{k}]" if k is not None else n for n, k in tokens[i:])
    return SpecError(step.id, field, message)
