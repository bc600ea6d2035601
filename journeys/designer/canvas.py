"""The canvas read model: a journey spec drawn as tiles, top to bottom.

Pure apart from the names it is given: `build_canvas` turns a JourneySpec into lanes of
tiles and insertion points that the template draws without any logic of its own.
"""

from dataclasses import dataclass, field

from ..definition import JourneySpec, StepSpec
from ..durations import describe_duration
from .editing import SpecError

KIND_LABELS = {
    "email": "Email",
    "text": "Text message",
    "push": "Push notification",
    "wait": "Wait",
    "wait_for": "Wait for a trigger",
    "branch": "If/then branch",
    "split": "Random split",
}
OPERATOR_WORDS = {
    "=": "is",
    "!=": "is not",
    ">": ">",
    ">=": "≥",
    "<": "<",
    "<=": "≤",
    "contains": "contains",
    "not_contains": "does not contain",
    "starts_with": "starts with",
    "in": "is one of",
    "not_in": "is not one of",
    "exists": "exists",
    "not_exists": "does not exist",
    "before": "is before",
    "after": "is after",
}


@dataclass
class Names:
    """Display names of what a spec refers to by key."""

    triggers: dict[str, str] = field(default_factory=dict)
    content: dict[str, str] = field(default_factory=dict)
    content_ready: dict[str, bool] = field(default_factory=dict)
    segments: dict[str, str] = field(default_factory=dict)


@dataclass
class Slot:
    """A + between tiles: where a new step goes."""

    parent: str
    path: str
    position: int
    after: str  # for the accessible name: "Add a step after Email: …"


@dataclass
class Lane:
    path: str
    label: str
    items: list  # Slot, Tile, Slot, Tile, …, Slot


@dataclass
class Tile:
    id: str
    kind: str
    kind_label: str
    summary: str
    problems: list[str]
    lanes: list[Lane]
    note: str = ""  # e.g. "Draft content"


def humanize(step_id: str) -> str:
    """'initial-email' -> 'Initial email'."""
    words = step_id.replace("-", " ").replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def describe_condition(condition: dict) -> str:
    operator = condition.get("operator", "")
    words = OPERATOR_WORDS.get(operator, operator)
    attribute = condition.get("attribute", "?")
    if operator in ("exists", "not_exists"):
        return f"{attribute} {words}"
    value = condition.get("value")
    if isinstance(value, list):
        shown = ", ".join(str(v) for v in value)
    elif isinstance(value, bool):
        shown = "true" if value else "false"
    else:
        shown = str(value)
    return f"{attribute} {words} {shown}"


def summarize(step: StepSpec, names: Names) -> str:
    """One line a marketer reads on the tile."""
    label = KIND_LABELS.get(step.type, step.type)
    if step.type in ("email", "text", "push"):
        content = names.content.get(step.content or "", step.content or "(no message chosen)")
        return f"{label}: {content} to {step.to}"
    if step.type == "wait":
        if step.until is not None:
            return f"Wait until {step.until:%d %b %Y %H:%M %Z}".strip()
        return f"Wait {describe_duration(step.duration)}" if step.duration else "Wait (no duration)"
    if step.type == "wait_for" and step.segment:
        text = f"Wait to join segment {names.segments.get(step.segment, step.segment)}"
        return text + (f", up to {describe_duration(step.duration)}" if step.duration else "")
    if step.type == "wait_for":
        trigger = names.triggers.get(step.trigger or "", step.trigger or "(no trigger)")
        text = f"Wait for {trigger}"
        if step.of_step:
            text += f" of {humanize(step.of_step)}"
        if step.conditions:
            text += " where " + " and ".join(describe_condition(c) for c in step.conditions)
        if step.duration:
            text += f", up to {describe_duration(step.duration)}"
        return text
    if step.type == "branch":
        return f"{label}: " + "; ".join(
            f"{p.name} when " + " and ".join(describe_condition(c) for c in p.conditions) for p in step.paths
        )
    if step.type == "split":
        return f"{label}: " + ", ".join(f"{p.name} {p.percent} %" for p in step.paths)
    return label


def _lanes(step: StepSpec) -> list[tuple[str, str]]:
    if step.type == "wait_for":
        return [("yes", "Yes: it happened"), ("no", "No: time limit reached")]
    if step.type in ("branch", "split"):
        lanes = [(str(i), p.name) for i, p in enumerate(step.paths)]
        return [*lanes, ("otherwise", "Otherwise")] if step.type == "branch" else lanes
    return []


def build_canvas(spec: JourneySpec, names: Names, problems: dict[str, list[str]] | None = None) -> Lane:
    """The top lane of the canvas. `problems` maps step ids to messages shown on their tile."""
    problems = problems or {}

    def lane(steps: list[StepSpec], parent: str, path: str, label: str, before: str) -> Lane:
        items: list = []
        previous = before
        for position, step in enumerate(steps):
            items.append(Slot(parent, path, position, previous))
            summary = summarize(step, names)
            note = ""
            if step.content and not names.content_ready.get(step.content, True):
                note = "Draft: not ready to send yet"
            items.append(
                Tile(
                    id=step.id,
                    kind=step.type,
                    kind_label=KIND_LABELS.get(step.type, step.type),
                    summary=summary,
                    problems=problems.get(step.id, []),
                    lanes=[
                        lane(children, step.id, name, child_label, f"{child_label} of {summary}")
                        for (name, children), (_, child_label) in zip(step.children(), _lanes(step), strict=True)
                    ],
                    note=note,
                )
            )
            previous = summary
        items.append(Slot(parent, path, len(steps), previous))
        return Lane(path, label, items)

    return lane(spec.steps, "", "", "", "the start")


def problems_by_step(errors: list[SpecError]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for error in errors:
        text = f"{error.field}: {error.message}" if error.field else error.message
        found.setdefault(error.where, []).append(text)
    return found
