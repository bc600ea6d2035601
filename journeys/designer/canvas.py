"""The canvas read model: a journey spec drawn as tiles, top to bottom.

Pure apart from the names it is given: `build_canvas` turns a JourneySpec into lanes of
tiles and insertion points that the template draws without any logic of its own.
"""

from dataclasses import dataclass, field

from django.utils.safestring import SafeString

from ..spec import JourneySpec, StepSpec
from ..steps import kind_of

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
    # Where the A/B tests of the live version stand, by step key (journeys.abtest).
    ab_tests: dict[str, str] = field(default_factory=dict)


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
    icon: SafeString | str = ""  # the kind's SVG
    accent: str = ""  # the kind's colour


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
    return kind_of(step.type).summary(step, names)


def build_canvas(spec: JourneySpec, names: Names, problems: dict[str, list[str]] | None = None) -> Lane:
    """The top lane of the canvas. `problems` maps step ids to messages shown on their tile."""
    problems = problems or {}

    def lane(steps: list[StepSpec], parent: str, path: str, label: str, before: str) -> Lane:
        items: list = []
        previous = before
        for position, step in enumerate(steps):
            items.append(Slot(parent, path, position, previous))
            kind = kind_of(step.type)
            summary = summarize(step, names)
            note = ""
            if step.content and not names.content_ready.get(step.content, True):
                note = "Draft: not ready to send yet"
            items.append(
                Tile(
                    id=step.id,
                    kind=step.type,
                    kind_label=kind.label,
                    icon=kind.icon_svg(),
                    accent=kind.accent,
                    summary=summary,
                    problems=problems.get(step.id, []),
                    lanes=[
                        lane(children, step.id, name, child_label, f"{child_label} of {summary}")
                        for (name, children), (_, child_label) in zip(
                            kind.children(step), kind.lanes(step), strict=True
                        )
                    ],
                    note=note,
                )
            )
            previous = summary
        items.append(Slot(parent, path, len(steps), previous))
        return Lane(path, label, items)

    return lane(spec.steps, "", "", "", "the start")
