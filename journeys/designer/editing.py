"""Changes to a draft's spec, and where a problem is. Pure: no database.

A place in the tree is a `Location`: the parent step's id (None at the top), the path
under it ("yes", "no", "0".., "otherwise"; "" at the top) and a position in that path.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from django.utils.text import slugify

from ..definition import BundleError, Catalogue, journey_to_dict, parse_bundle
from ..spec import NO_STEPS, JourneySpec, SpecError, StepSpec
from ..steps import kind_of

__all__ = ["EditError", "Location", "SpecError", "spec_errors"]


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
    if new.type == old.type:
        kind_of(new.type).keep_children(old, new)
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
            return passed + [s for s in steps[: where.position] if kind_of(s.type).channel]
        for step in steps:
            for name, children in step.children():
                found = search(children, step.id, name, passed)
                if found is not None:
                    return found
            if kind_of(step.type).channel:
                passed = [*passed, step]
        return None

    return search(spec.steps, None, "", []) or []


def spec_errors(spec: JourneySpec, catalogue: Catalogue) -> list[SpecError]:
    """Everything the journey format finds wrong with the spec; each SpecError says where on
    the canvas it is (`where`: a step id, start, goal, exit, steps, settings) and in which
    field (`field_parts`)."""
    try:
        parse_bundle({"journeys": [journey_to_dict(spec)]}, catalogue)
    except BundleError as error:
        # A draft may have no steps yet; publishing says so ("add at least one step").
        return [e for e in error.problems if e.code != NO_STEPS]
    return []
