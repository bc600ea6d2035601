"""The branch step: the first path whose conditions all hold (on the start trigger's
attributes or the contact's fields), else Otherwise."""

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError

from .. import transitions
from ..models import HistoryOutcome
from ..spec import INVALID, REQUIRED, PathSpec, SpecPath, StepSpec
from . import register
from .base import Run
from .paths import PathsKind

if TYPE_CHECKING:
    from django import forms

    from ..definition import ParseContext
    from ..designer.canvas import Names
    from ..models import Step

BRANCH_PATHS = 3
BRANCH_CONDITIONS = 3  # per path; all must hold
CONTACT_FIELDS = ["email", "phone", "push_token", "first_name", "last_name", "time_zone"]


class BranchKind(PathsKind):
    name = "branch"
    label = "If/then branch"
    help = "If/then on attributes of the trigger or the contact."
    icon = (
        '<circle cx="6" cy="5" r="2"/><circle cx="6" cy="19" r="2"/><circle cx="18" cy="7" r="2"/>'
        '<path d="M6 7v10M18 9c0 5-12 3-12 8"/>'
    )
    accent = "#2b6cb0"
    fields = ("paths", "otherwise")
    form_template = "admin/journeys/designer/steps/branch.html"

    def path_settings(self, path: PathSpec) -> dict[str, Any]:
        return {"conditions": path.conditions}

    def parse(self, data: Mapping, step: StepSpec, path: SpecPath, ctx: "ParseContext", passed: list[str]) -> None:
        for i, p, here in self.raw_paths(data, path, ctx):
            conditions = ctx.conditions(p.get("conditions"), here / "conditions", None)
            for j, condition in enumerate(conditions):
                attribute = condition.get("attribute", "")
                if not (attribute.startswith("contact.") or attribute.startswith("trigger.")):
                    ctx.add(here / "conditions" / j / "attribute", INVALID, "must start with contact. or trigger.")
            if not conditions:
                ctx.add(here / "conditions", REQUIRED, "a branch path needs at least one condition")
            step.paths.append(PathSpec(name=self.parse_path_name(p, here, ctx, i), steps=[], conditions=conditions))
        if not step.paths:
            ctx.add(path / "paths", REQUIRED, "a branch needs at least one path")

    def parse_children(
        self, data: Mapping, step: StepSpec, path: SpecPath, ctx: "ParseContext", depth: int, passed: list[str]
    ) -> None:
        super().parse_children(data, step, path, ctx, depth, passed)
        step.otherwise = ctx.steps(data.get("otherwise", []), path / "otherwise", depth, passed)

    def children(self, step: StepSpec) -> list[tuple[str, list[StepSpec]]]:
        return [*super().children(step), ("otherwise", step.otherwise)]

    def to_dict(self, step: StepSpec) -> dict[str, Any]:
        from ..definition import step_to_dict

        return {**super().to_dict(step), "otherwise": [step_to_dict(s) for s in step.otherwise]}

    def from_model(self, step: "Step", spec: StepSpec, build: Callable[[str], list[StepSpec]]) -> None:
        super().from_model(step, spec, build)
        spec.otherwise = build("otherwise")

    def execute(self, run: Run) -> Any:
        from ..conditions import all_hold
        from ..contacts import contact_fields, trigger_data

        data = {"contact": contact_fields(run.participant.contact), "trigger": trigger_data(run.participant)}
        for index, path in enumerate(run.step.paths):
            if all_hold(path.get("conditions", []), data):
                return self.take_path(run, index)
        transitions.record(
            run.participant, run.step, HistoryOutcome.PATH, run.now, {"path": "otherwise"}, writes=run.writes
        )
        return run.plan.enter_path(run.step, "otherwise")

    # --- Designer ---

    def form_fields(self, form: "forms.Form", step: StepSpec | None) -> None:
        from django import forms as django_forms

        from ..designer.fields import operator_choices, value_text

        attributes: dict[str, str] = form.attributes  # type: ignore[attr-defined]
        choices = [(f"trigger.{p}", f"trigger.{p}") for p in attributes] + [
            (f"contact.{f}", f"contact.{f}") for f in CONTACT_FIELDS
        ]
        paths = step.paths if step else []
        # Room for every path and condition an imported branch has, so editing loses none.
        form.path_count = max(BRANCH_PATHS, len(paths))  # type: ignore[attr-defined]
        form.condition_count = max([BRANCH_CONDITIONS, *(len(p.conditions) for p in paths)])  # type: ignore[attr-defined]
        for n in range(1, form.path_count + 1):  # type: ignore[attr-defined]
            path = paths[n - 1] if n - 1 < len(paths) else None
            form.fields[f"path_{n}_name"] = django_forms.CharField(
                required=False, max_length=60, label=f"Path {n} name", initial=path.name if path else ""
            )
            conditions = path.conditions if path else []
            for m in range(1, form.condition_count + 1):  # type: ignore[attr-defined]
                condition = conditions[m - 1] if m - 1 < len(conditions) else {}
                prefix, label = f"path_{n}_{m}", f"Path {n}, condition {m}"
                form.fields[f"{prefix}_attribute"] = django_forms.ChoiceField(
                    choices=[("", "Choose an attribute"), *choices],
                    required=False,
                    label=f"{label}: attribute",
                    initial=condition.get("attribute", ""),
                )
                form.fields[f"{prefix}_operator"] = django_forms.ChoiceField(
                    choices=operator_choices(),
                    required=False,
                    label=f"{label}: operator",
                    initial=condition.get("operator"),
                )
                form.fields[f"{prefix}_value"] = django_forms.CharField(
                    required=False, label=f"{label}: value", initial=value_text(condition.get("value"))
                )

    def clean_form(self, form: "forms.Form", data: dict[str, Any]) -> None:
        from ..conditions import NO_VALUE, OPERATORS
        from ..designer.fields import parse_value

        paths = []
        types = {f"trigger.{p}": t for p, t in form.attributes.items()}  # type: ignore[attr-defined]
        for n in range(1, form.path_count + 1):  # type: ignore[attr-defined]
            conditions = []
            for m in range(1, form.condition_count + 1):  # type: ignore[attr-defined]
                prefix = f"path_{n}_{m}"
                attribute = data.get(f"{prefix}_attribute")
                if not attribute:
                    continue
                operator = data.get(f"{prefix}_operator") or "="
                # Contact fields are text; trigger attributes have the start trigger's types.
                type_ = types.get(attribute, "text")
                if type_ not in OPERATORS[operator]:
                    form.add_error(
                        f"{prefix}_operator", f"“{operator}” does not apply to {type_} attribute {attribute}."
                    )
                    continue
                try:
                    value = parse_value(data.get(f"{prefix}_value") or "", type_, operator)
                except ValidationError as error:
                    form.add_error(f"{prefix}_value", error)
                    continue
                condition = {"attribute": attribute, "operator": operator}
                if operator not in NO_VALUE:
                    condition["value"] = value
                conditions.append(condition)
            if conditions:
                name = data.get(f"path_{n}_name") or f"Path {n}"
                paths.append(PathSpec(name=name, steps=[], conditions=conditions))
            elif data.get(f"path_{n}_name"):
                form.add_error(f"path_{n}_1_attribute", f"Give path {n} a condition, or leave its name empty.")
        if not paths and not form.errors:
            form.add_error("path_1_1_attribute", "A branch needs at least one path with a condition.")
        data["paths"] = paths

    def form_to_spec(self, form: "forms.Form", spec: StepSpec) -> None:
        spec.paths = form.cleaned_data["paths"]

    def keep_children(self, old: StepSpec, new: StepSpec) -> None:
        super().keep_children(old, new)
        new.otherwise = old.otherwise

    def summary(self, step: StepSpec, names: "Names") -> str:
        from ..designer.canvas import describe_condition

        return f"{self.label}: " + "; ".join(
            f"{p.name} when " + " and ".join(describe_condition(c) for c in p.conditions) for p in step.paths
        )

    def lanes(self, step: StepSpec) -> list[tuple[str, str]]:
        return [*super().lanes(step), ("otherwise", "Otherwise")]

    def funnel_paths(self, step: "Step") -> list[tuple[str, str]]:
        return [*super().funnel_paths(step), ("otherwise", "Otherwise")]


register(BranchKind())
