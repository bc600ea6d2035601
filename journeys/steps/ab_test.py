"""The A/B test: participants take variants at random by share (stable per participant and
step, like the split) until the test picks a winner (journeys.abtest); from then on every
participant arriving takes the winner's path, and those already assigned keep theirs.

Format: {"id", "type": "ab_test", "variants": [{"name", "percent", "steps"}, …],
"winner": {"metric": "goal" | "open_rate" | "click_rate", "decide_after": "3d",
"min_per_variant": 100}}. Stored as Step.paths ([{"name", "percent"}]) and Step.settings
({"metric", "decide_after", "min_per_variant"}).
"""

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..abtest import EMAIL_METRICS, METRICS, TRACKED_CHANNEL
from ..durations import DurationError, describe_duration, format_duration, parse_duration, parse_wait
from ..spec import INVALID, NOT_ALLOWED, REQUIRED, PathSpec, Problem, SpecPath, StepSpec, mapping, text
from . import kind_of, register
from .base import References, Run
from .paths import PathsKind

if TYPE_CHECKING:
    from django import forms

    from ..definition import ParseContext
    from ..designer.canvas import Names
    from ..models import Step

MIN_VARIANTS, MAX_VARIANTS = 2, 4
DEFAULT_MIN_PER_VARIANT = 100
MAX_NAME = 60


def has_email(steps: list[StepSpec]) -> bool:
    """A step on this path (at any depth) whose opens and clicks are tracked: an email."""
    return any(
        kind_of(s.type).channel == TRACKED_CHANNEL or any(has_email(c) for _, c in kind_of(s.type).children(s))
        for s in steps
    )


class ABTestKind(PathsKind):
    name = "ab_test"
    label = "A/B test"
    help = "Try variants on shares of participants; the best one wins automatically."
    icon = '<path d="M4 19l4-14 4 14M5.5 14h5"/><path d="M14 5h4a3 3 0 010 6h-4zM14 11h5a3 3 0 010 6h-5zM14 5v14"/>'
    accent = "#b83280"
    fields = ("variants", "winner")
    paths_field = "variants"

    def path_settings(self, path: PathSpec) -> dict[str, Any]:
        return {"percent": path.percent}

    # --- The format ---

    def parse(self, data: Mapping, step: StepSpec, path: SpecPath, ctx: "ParseContext", passed: list[str]) -> None:
        names: set[str] = set()
        for _, variant, here in self.raw_paths(data, path, ctx):
            name = text(variant, "name", here, ctx.errors).strip()
            if len(name) > MAX_NAME:
                ctx.add(here / "name", INVALID, f"at most {MAX_NAME} characters")
            elif name and name in names:
                ctx.add(here / "name", INVALID, f"{name!r} names another variant: variant names must be unique")
            names.add(name)
            percent = variant.get("percent")
            if isinstance(percent, bool) or not isinstance(percent, int) or not 0 < percent <= 100:
                ctx.add(here / "percent", INVALID, "must be a whole number from 1 to 100")
                percent = 0
            step.paths.append(PathSpec(name=name, steps=[], percent=percent))
        if not MIN_VARIANTS <= len(step.paths) <= MAX_VARIANTS:
            ctx.add(path / "variants", INVALID, f"an A/B test has {MIN_VARIANTS} to {MAX_VARIANTS} variants")
        elif sum(p.percent or 0 for p in step.paths) != 100:
            ctx.add(path / "variants", INVALID, "percentages must add up to 100")
        step.settings = self.parse_winner(data, path, ctx)

    def parse_winner(self, data: Mapping, path: SpecPath, ctx: "ParseContext") -> dict[str, Any]:
        here = path / "winner"
        if data.get("winner") is None:
            ctx.add(here, REQUIRED, "is required: the metric, decide_after and min_per_variant")
            return {}
        winner = mapping(data.get("winner"), here, ctx.errors)
        for name in sorted(set(winner) - {"metric", "decide_after", "min_per_variant"}):
            ctx.add(here / name, NOT_ALLOWED, "is not a field of an A/B test's winner")
        metric = text(winner, "metric", here, ctx.errors)
        if metric and metric not in METRICS:
            ctx.add(here / "metric", INVALID, f"must be one of {', '.join(METRICS)}")
        decide_after = ""
        raw = winner.get("decide_after")
        if raw is None:
            ctx.add(here / "decide_after", REQUIRED, "is required: a duration such as 3d")
        else:
            try:
                decide_after = format_duration(parse_wait(raw))
            except DurationError as error:
                ctx.add(here / "decide_after", INVALID, str(error))
        minimum = winner.get("min_per_variant", DEFAULT_MIN_PER_VARIANT)
        if isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 1:
            ctx.add(here / "min_per_variant", INVALID, "must be a whole number of at least 1")
            minimum = DEFAULT_MIN_PER_VARIANT
        return {"metric": metric, "decide_after": decide_after, "min_per_variant": minimum}

    def parse_children(
        self, data: Mapping, step: StepSpec, path: SpecPath, ctx: "ParseContext", depth: int, passed: list[str]
    ) -> None:
        super().parse_children(data, step, path, ctx, depth, passed)
        metric = step.settings.get("metric")
        if metric in EMAIL_METRICS:
            for i, variant in enumerate(step.paths):
                if not has_email(variant.steps):
                    ctx.add(
                        path / "variants" / i / "steps",
                        INVALID,
                        f"winner.metric {metric} needs an email step in every variant; {variant.name or i + 1} has none",
                    )

    def to_dict(self, step: StepSpec) -> dict[str, Any]:
        from ..definition import step_to_dict

        return {
            "variants": [
                {"name": p.name, "percent": p.percent, "steps": [step_to_dict(s) for s in p.steps]} for p in step.paths
            ],
            "winner": dict(step.settings),
        }

    def to_model(self, spec: StepSpec, refs: References) -> dict[str, Any]:
        return {**super().to_model(spec, refs), "settings": dict(spec.settings)}

    def from_model(self, step: "Step", spec: StepSpec, build: Callable[[str], list[StepSpec]]) -> None:
        super().from_model(step, spec, build)
        spec.settings = dict(step.settings)

    def publish_problems(self, step: "Step", where: str) -> list[Problem]:
        from ..abtest import variant_steps

        problems = []
        if sum(p.get("percent", 0) for p in step.paths) != 100:
            problems.append(Problem(where, "A/B test percentages must add up to 100"))
        metric = step.settings.get("metric")
        if metric == "goal" and step.version.goal_trigger_id is None:
            problems.append(Problem(where, "winner.metric goal needs the journey's goal: choose a goal trigger"))
        if metric in EMAIL_METRICS:
            for i, emails in enumerate(variant_steps(step)):
                if not emails:
                    name = step.paths[i].get("name") or i + 1
                    problems.append(
                        Problem(where, f"winner.metric {metric} needs an email step in every variant; {name} has none")
                    )
        return problems

    # --- The engine ---

    def execute(self, run: Run) -> Any:
        from ..abtest import winner_on_arrival

        winner = winner_on_arrival(run.step, run.now)
        if winner is not None and winner < len(run.step.paths):
            return self.take_variant(run, winner, "winner")
        index = self.path_by_share(run)
        return run.plan.next_after(run.step) if index is None else self.take_variant(run, index, "random")

    def take_variant(self, run: Run, index: int, assigned: str) -> Any:
        """Enter the variant, recorded as a path (for the funnel) and a `variant` (for people)."""
        return self.take_path(run, index, variant=run.step.paths[index].get("name"), assigned=assigned)

    def timeline_detail(self, outcome: str, detail: Mapping[str, Any]) -> str | None:
        if "variant" not in detail:
            return None
        return f"variant {detail['variant']} ({detail.get('assigned', 'random')})"

    # --- The designer ---

    def form_fields(self, form: "forms.Form", step: StepSpec | None) -> None:
        from django import forms as django_forms

        variants = step.paths if step else []
        settings = step.settings if step else {}
        form.path_count = MAX_VARIANTS  # type: ignore[attr-defined]
        for n in range(1, MAX_VARIANTS + 1):
            variant = variants[n - 1] if n - 1 < len(variants) else None
            new = not variants and n <= 2
            form.fields[f"path_{n}_name"] = django_forms.CharField(
                required=False,
                max_length=MAX_NAME,
                label=f"Variant {n} name",
                initial=variant.name if variant else ("A", "B")[n - 1] if new else "",
            )
            form.fields[f"path_{n}_percent"] = django_forms.IntegerField(
                required=False,
                min_value=1,
                max_value=100,
                label=f"Variant {n} share (%)",
                initial=variant.percent if variant else 50 if new else None,
            )
        form.fields["winner_metric"] = django_forms.ChoiceField(
            choices=list(METRICS.items()),
            label="The winner has the best",
            initial=settings.get("metric", "goal"),
        )
        form.fields["winner_decide_after"] = django_forms.CharField(
            label="Decide after (from publishing)",
            help_text="A duration such as 3d or 12h.",
            initial=settings.get("decide_after", "3d"),
        )
        form.fields["winner_min_per_variant"] = django_forms.IntegerField(
            min_value=1,
            label="At least this many participants per variant",
            initial=settings.get("min_per_variant", DEFAULT_MIN_PER_VARIANT),
        )

    def clean_form(self, form: "forms.Form", data: dict[str, Any]) -> None:
        variants, names = [], set()
        for n in range(1, MAX_VARIANTS + 1):
            percent, name = data.get(f"path_{n}_percent"), (data.get(f"path_{n}_name") or "").strip()
            if percent is None:
                if name:
                    form.add_error(f"path_{n}_percent", f"Give variant {name} a share, or leave its name empty.")
                continue
            if not name:
                form.add_error(f"path_{n}_name", f"Name variant {n}.")
            elif name in names:
                form.add_error(f"path_{n}_name", f"Another variant is called {name}: names must be unique.")
            names.add(name)
            variants.append(PathSpec(name=name, steps=[], percent=percent))
        if len(variants) < MIN_VARIANTS:
            form.add_error("path_1_percent", "An A/B test needs at least two variants with a share.")
        elif sum(v.percent or 0 for v in variants) != 100:
            form.add_error(
                None, f"The shares add up to {sum(v.percent or 0 for v in variants)} %; they must add up to 100 %."
            )
        if "winner_decide_after" in data:  # absent: the field's own error is shown
            try:
                data["winner_decide_after"] = format_duration(parse_wait(data["winner_decide_after"]))
            except DurationError as error:
                form.add_error("winner_decide_after", f"Decide after {error}.")
        data["paths"] = variants

    def form_to_spec(self, form: "forms.Form", spec: StepSpec) -> None:
        data = form.cleaned_data
        spec.paths = data["paths"]
        spec.settings = {
            "metric": data["winner_metric"],
            "decide_after": data["winner_decide_after"],
            "min_per_variant": data["winner_min_per_variant"],
        }

    def summary(self, step: StepSpec, names: "Names") -> str:
        settings = step.settings
        try:
            after = describe_duration(parse_duration(settings.get("decide_after", "")))
        except DurationError:
            after = "?"
        metric = str(settings.get("metric")).replace("_", " ") if settings.get("metric") in METRICS else "?"
        line = (
            f"{self.label}: "
            + ", ".join(f"{p.name} {p.percent} %" for p in step.paths)
            + f"; best {metric} wins after {after} (at least {settings.get('min_per_variant')} each)"
        )
        state = names.ab_tests.get(step.id)
        return f"{line} — {state}" if state else line


register(ABTestKind())
