"""What a step kind is: everything the engine, the format, the designer and the reports
need to know about one kind of step, in one class.

A kind module subclasses `Kind`, sets its names and fields, overrides the hooks it needs and
registers one instance (journeys.steps.register). Nothing else in the code base asks which
kind a step is: it asks the step's kind.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from django.utils.safestring import SafeString

from ..spec import Problem, SpecPath, StepSpec

if TYPE_CHECKING:
    from django import forms

    from ..definition import ParseContext
    from ..designer.canvas import Names
    from ..models import Participant, Step
    from ..runtime import Plan
    from ..transitions import Writes


class Wait:
    """The participant stays at its step (an executor's answer)."""

    def __repr__(self) -> str:
        return "WAIT"


WAIT = Wait()  # what an executor answers to stay; else the next step, or None at the end
HELD_OUT = "held_out"  # HistoryOutcome.HELD_OUT: a step with side effects, skipped for the holdout group


@dataclass
class Run:
    """One execution of a step for a participant the caller has locked.

    `arrived`: the participant has just arrived at the step in this transaction, so nothing of
    the step exists yet (no delivery to look for). `writes` collects the run's rows."""

    participant: "Participant"
    step: "Step"
    plan: "Plan"
    now: datetime
    arrived: bool
    writes: "Writes"

    @property
    def woken(self) -> bool:
        """The step's wake-up time has come (a wait ended, a limit ran out, quiet hours ended)."""
        wake_at = self.participant.wake_at
        return wake_at is not None and wake_at <= self.now


@dataclass
class References:
    """Database rows a spec names by key, for writing a version's steps."""

    triggers: Mapping[str, Any]
    contents: Mapping[str, Any]
    steps: Mapping[str, Any]  # the version's steps created so far, by key
    segments: Mapping[str, Any] = field(default_factory=dict)


class Kind:
    """One kind of step. Subclasses set the class attributes and override the hooks."""

    name: ClassVar[str]  # the spec's "type" and the Step.kind value
    label: ClassVar[str]  # what the marketer reads: "Wait for a trigger"
    help: ClassVar[str] = ""  # one line on the "Add a step" page
    icon: ClassVar[str] = '<path d="M5 21V4h11l-2 4 2 4H5"/>'  # SVG inside a 24x24 viewBox
    accent: ClassVar[str] = "#718096"  # the tile's and the icon's colour in the designer (CSS)
    fields: ClassVar[tuple[str, ...]] = ()  # the spec fields besides id and type
    channel: ClassVar[str] = ""  # a message kind's content channel ("" for the others)
    branching: ClassVar[bool] = False  # has paths with steps of their own
    awaits_events: ClassVar[bool] = False  # a participant waiting here reacts to its trigger's events
    # Acts outside the journey (a message, a raised trigger, a webhook): the runtime skips it
    # for the holdout group, recording `held_out` instead (journeys.holdout).
    side_effect: ClassVar[bool] = False
    # History outcomes with which this kind ends a step (exactly one per participant).
    leaving_outcomes: ClassVar[tuple[str, ...]] = ()
    # The designer template that lays out this kind's form ("" draws each field in turn).
    form_template: ClassVar[str] = ""

    # --- The journey format (pure) -----------------------------------------------------------

    def parse(self, data: Mapping, step: StepSpec, path: SpecPath, ctx: "ParseContext", passed: list[str]) -> None:
        """Read this kind's fields from `data` into `step`; report problems on `ctx` with
        `path / field`. `passed` are the message steps passed before this one."""

    def parse_children(
        self, data: Mapping, step: StepSpec, path: SpecPath, ctx: "ParseContext", depth: int, passed: list[str]
    ) -> None:
        """A branching kind reads the steps on its paths (`ctx.steps`)."""

    def children(self, step: StepSpec) -> list[tuple[str, list[StepSpec]]]:
        """Outgoing paths as (path name, steps), in the order they are stored."""
        return []

    def to_dict(self, step: StepSpec) -> dict[str, Any]:
        """The step's fields (besides id and type) in the canonical JSON form."""
        return {}

    # --- The database ------------------------------------------------------------------------

    def to_model(self, spec: StepSpec, refs: References) -> dict[str, Any]:
        """Field values of the Step row for `spec` (besides version, key, kind and place)."""
        return {}

    def from_model(self, step: "Step", spec: StepSpec, build: Callable[[str], list[StepSpec]]) -> None:
        """Fill `spec` from the row; `build(path)` gives the steps on one of its paths."""

    def publish_problems(self, step: "Step", where: str) -> list[Problem]:
        """What keeps this step from going live (beyond what parsing checks)."""
        return []

    # --- The engine --------------------------------------------------------------------------

    def execute(self, run: Run) -> Any:
        """Run the step: the next step, None at the end of the journey, or WAIT."""
        raise NotImplementedError

    def react(self, run: Run, event: Any) -> Any:
        """An event of the step's trigger for a participant waiting here (`awaits_events`):
        where it goes (the next step, None at the end) or WAIT to stay."""
        raise NotImplementedError

    # --- The designer ------------------------------------------------------------------------

    def form_fields(self, form: "forms.Form", step: StepSpec | None) -> None:
        """Add this kind's fields to the step form (`form.fields`), initial from `step`."""

    def clean_form(self, form: "forms.Form", data: dict[str, Any]) -> None:
        """Check the fields together; add errors on the form, cleaned values in `data`."""

    def uses_conditions(self, form: "forms.Form") -> bool:
        """Whether the form's condition rows (`form.conditions`) count, as posted."""
        return True

    def form_to_spec(self, form: "forms.Form", spec: StepSpec) -> None:
        """Copy the cleaned form into the spec."""

    def suggested_id(self, form: "forms.Form") -> str:
        """What a new step's id is made from."""
        return self.label

    def keep_children(self, old: StepSpec, new: StepSpec) -> None:
        """A step edited in place keeps the steps on its paths when the kind keeps them."""

    def summary(self, step: StepSpec, names: "Names") -> str:
        """The one line a marketer reads on the tile."""
        return self.label

    def lanes(self, step: StepSpec) -> list[tuple[str, str]]:
        """The canvas lanes under the tile: (path name, label), as `children` orders them."""
        return []

    def icon_svg(self) -> SafeString:
        """The icon's SVG elements, for the designer's templates (a constant of the module)."""
        return SafeString(self.icon)

    # --- The reports -------------------------------------------------------------------------

    def funnel_paths(self, step: "Step") -> list[tuple[str, str]]:
        """The paths the analytics funnel counts for this step: (path key, label)."""
        return []

    def delivery_figures(self, step: "Step") -> tuple[str, str] | None:
        """(channel, label) under which the funnel counts this step's deliveries, or None for
        a step that sends nothing. A message step: its content's channel and name."""
        if self.channel and step.content is not None:
            return step.content.channel, step.content.name
        return None

    def path_outcome(self, outcome: str, detail_path: str) -> str | None:
        """Which funnel path a history row of this step counts for (None: no path)."""
        return None

    def timeline_detail(self, outcome: str, detail: Mapping[str, Any]) -> str | None:
        """The simulator's line for a history row of this step that only this kind can word
        (None: the simulator's general wording, or nothing)."""
        return None
