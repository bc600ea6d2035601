"""The random split: each participant takes a path at random, by share (stable per
participant and step, so a re-run takes the same path)."""

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..spec import INVALID, PathSpec, Problem, SpecPath, StepSpec
from . import register
from .base import Run
from .paths import PathsKind

if TYPE_CHECKING:
    from django import forms

    from ..definition import ParseContext
    from ..designer.canvas import Names
    from ..models import Step

SPLIT_PATHS = 4


class SplitKind(PathsKind):
    name = "split"
    label = "Random split"
    help = "Send people down paths at random, by share."
    icon = '<path d="M3 12h6l5-6h6M14 18h6M9 12l5 6"/><path d="M17 3l3 3-3 3M17 15l3 3-3 3"/>'
    accent = "#718096"
    fields = ("paths",)

    def path_settings(self, path: PathSpec) -> dict[str, Any]:
        return {"percent": path.percent}

    def parse(self, data: Mapping, step: StepSpec, path: SpecPath, ctx: "ParseContext", passed: list[str]) -> None:
        for i, p, here in self.raw_paths(data, path, ctx):
            percent = p.get("percent")
            if isinstance(percent, bool) or not isinstance(percent, int) or not 0 < percent <= 100:
                ctx.add(here / "percent", INVALID, "must be a whole number from 1 to 100")
                percent = 0
            step.paths.append(PathSpec(name=self.parse_path_name(p, here, ctx, i), steps=[], percent=percent))
        if len(step.paths) < 2:
            ctx.add(path / "paths", INVALID, "a split needs at least two paths")
        elif sum(p.percent or 0 for p in step.paths) != 100:
            ctx.add(path / "paths", INVALID, "percentages must add up to 100")

    def publish_problems(self, step: "Step", where: str) -> list[Problem]:
        if sum(p.get("percent", 0) for p in step.paths) != 100:
            return [Problem(where, "split percentages must add up to 100")]
        return []

    def execute(self, run: Run) -> Any:
        index = self.path_by_share(run)
        return run.plan.next_after(run.step) if index is None else self.take_path(run, index)

    # --- Designer ---

    def form_fields(self, form: "forms.Form", step: StepSpec | None) -> None:
        from django import forms as django_forms

        paths = step.paths if step else []
        defaults = [50, 50, None, None]
        form.path_count = max(SPLIT_PATHS, len(paths))  # type: ignore[attr-defined]
        for n in range(1, form.path_count + 1):  # type: ignore[attr-defined]
            path = paths[n - 1] if n - 1 < len(paths) else None
            form.fields[f"path_{n}_name"] = django_forms.CharField(
                required=False,
                max_length=60,
                label=f"Path {n} name",
                initial=path.name if path else ("A", "B", "", "")[n - 1] if not paths else "",
            )
            form.fields[f"path_{n}_percent"] = django_forms.IntegerField(
                required=False,
                min_value=1,
                max_value=100,
                label=f"Path {n} share (%)",
                initial=path.percent if path else (defaults[n - 1] if not paths and n <= len(defaults) else None),
            )

    def clean_form(self, form: "forms.Form", data: dict[str, Any]) -> None:
        paths = []
        for n in range(1, form.path_count + 1):  # type: ignore[attr-defined]
            percent = data.get(f"path_{n}_percent")
            if percent is None:
                continue
            paths.append(PathSpec(name=data.get(f"path_{n}_name") or f"Path {n}", steps=[], percent=percent))
        if len(paths) < 2:
            form.add_error("path_1_percent", "A split needs at least two paths with a share.")
        elif sum(p.percent or 0 for p in paths) != 100:
            form.add_error(
                None, f"The shares add up to {sum(p.percent or 0 for p in paths)} %; they must add up to 100 %."
            )
        data["paths"] = paths

    def form_to_spec(self, form: "forms.Form", spec: StepSpec) -> None:
        spec.paths = form.cleaned_data["paths"]

    def summary(self, step: StepSpec, names: "Names") -> str:
        return f"{self.label}: " + ", ".join(f"{p.name} {p.percent} %" for p in step.paths)


register(SplitKind())
