"""The log step: write a note in the participant's history and go on at once.

The smallest real kind, and the example of docs/extending.md: everything about it is in
this module (its one field lives in Step.settings, which needs no column of its own).
"""

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .. import transitions
from ..spec import INVALID, SpecPath, StepSpec, text
from . import register
from .base import Kind, References, Run

if TYPE_CHECKING:
    from django import forms

    from ..definition import ParseContext
    from ..designer.canvas import Names
    from ..models import Step

LOGGED = "logged"  # its history outcome
MAX_MESSAGE = 500


class LogKind(Kind):
    name = "log"
    label = "Log a note"
    help = "Write a note in the participant's history (to follow people through a journey)."
    icon = '<path d="M6 3h9l4 4v14H6z"/><path d="M9 12h7M9 16h7"/>'
    accent = "#4a5568"
    fields = ("message",)
    leaving_outcomes = (LOGGED,)

    def parse(self, data: Mapping, step: StepSpec, path: SpecPath, ctx: "ParseContext", passed: list[str]) -> None:
        message = text(data, "message", path, ctx.errors)
        if len(message) > MAX_MESSAGE:
            ctx.add(path / "message", INVALID, f"at most {MAX_MESSAGE} characters")
        step.settings = {"message": message}

    def to_dict(self, step: StepSpec) -> dict[str, Any]:
        return {"message": step.settings.get("message", "")}

    def to_model(self, spec: StepSpec, refs: References) -> dict[str, Any]:
        return {"settings": {"message": spec.settings.get("message", "")}}

    def from_model(self, step: "Step", spec: StepSpec, build: Callable[[str], list[StepSpec]]) -> None:
        spec.settings = {"message": step.settings.get("message", "")}

    def execute(self, run: Run) -> Any:
        message = run.step.settings.get("message", "")
        transitions.record(run.participant, run.step, LOGGED, run.now, {"message": message}, writes=run.writes)
        return run.plan.next_after(run.step)

    def form_fields(self, form: "forms.Form", step: StepSpec | None) -> None:
        from django import forms as django_forms

        form.fields["message"] = django_forms.CharField(
            max_length=MAX_MESSAGE,
            label="Note",
            initial=step.settings.get("message", "") if step else "",
            help_text="Written in the participant's history when they pass this step.",
        )

    def form_to_spec(self, form: "forms.Form", spec: StepSpec) -> None:
        spec.settings = {"message": form.cleaned_data["message"]}

    def suggested_id(self, form: "forms.Form") -> str:
        return "log"

    def summary(self, step: StepSpec, names: "Names") -> str:
        return f"{self.label}: {step.settings.get('message', '')}"


register(LogKind())
