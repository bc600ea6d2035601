"""What the kinds with named paths (branch, split, A/B test) share: a list of paths, each
with a name and its own steps (in the format under `paths_field`: "paths", or "variants" for
the A/B test), stored as Step.paths ([{"name": …, …}]) with the steps under "0", "1", …"""

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .. import transitions
from ..buckets import stable_bucket
from ..models import HistoryOutcome
from ..spec import PathSpec, SpecPath, StepSpec, listed, mapping, text
from .base import Kind, References, Run

if TYPE_CHECKING:
    from ..definition import ParseContext
    from ..models import Step


def split_bucket(participant_id: int, step_key: str) -> int:
    """0-99, stable per participant and step: a re-run takes the same path."""
    return stable_bucket(f"{participant_id}:{step_key}", 100)


class PathsKind(Kind):
    branching = True
    leaving_outcomes = (HistoryOutcome.PATH,)
    paths_field = "paths"  # the list's name in the format

    def path_settings(self, path: PathSpec) -> dict[str, Any]:
        """What a path stores besides its name (its conditions, its percent)."""
        raise NotImplementedError

    def path_from_model(self, name: str, stored: Mapping[str, Any], steps: list[StepSpec]) -> PathSpec:
        return PathSpec(name=name, conditions=stored.get("conditions", []), percent=stored.get("percent"), steps=steps)

    def parse_path_name(self, data: Mapping, path: SpecPath, ctx: "ParseContext", index: int) -> str:
        return text(data, "name", path, ctx.errors, required=False) or f"Path {index + 1}"

    def raw_paths(self, data: Mapping, path: SpecPath, ctx: "ParseContext") -> list[tuple[int, Mapping, SpecPath]]:
        field = self.paths_field
        return [
            (i, mapping(raw, path / field / i, ctx.errors), path / field / i)
            for i, raw in enumerate(listed(data, field, path, ctx.errors))
        ]

    def parse_children(
        self, data: Mapping, step: StepSpec, path: SpecPath, ctx: "ParseContext", depth: int, passed: list[str]
    ) -> None:
        field = self.paths_field
        raw = data.get(field)
        raw_paths: list[Any] = raw if isinstance(raw, list) else []
        for i, (spec_path, raw_path) in enumerate(zip(step.paths, raw_paths, strict=False)):
            steps = raw_path.get("steps", []) if isinstance(raw_path, Mapping) else []
            spec_path.steps = ctx.steps(steps, path / field / i / "steps", depth, passed)

    def children(self, step: StepSpec) -> list[tuple[str, list[StepSpec]]]:
        return [(str(i), p.steps) for i, p in enumerate(step.paths)]

    def to_dict(self, step: StepSpec) -> dict[str, Any]:
        from ..definition import step_to_dict

        return {
            "paths": [
                {"name": p.name, **self.path_settings(p), "steps": [step_to_dict(s) for s in p.steps]}
                for p in step.paths
            ]
        }

    def to_model(self, spec: StepSpec, refs: References) -> dict[str, Any]:
        return {"paths": [{"name": p.name, **self.path_settings(p)} for p in spec.paths]}

    def from_model(self, step: "Step", spec: StepSpec, build: Callable[[str], list[StepSpec]]) -> None:
        spec.paths = [self.path_from_model(p.get("name", ""), p, build(str(i))) for i, p in enumerate(step.paths)]

    def take_path(self, run: Run, index: int, **detail: Any) -> Any:
        """Record the path taken (`path` and `name` for the funnel, plus the kind's `detail`)
        and enter it."""
        path = run.step.paths[index]
        transitions.record(
            run.participant,
            run.step,
            HistoryOutcome.PATH,
            run.now,
            {"path": index, "name": path.get("name"), **detail},
            writes=run.writes,
        )
        return run.plan.enter_path(run.step, str(index))

    def path_by_share(self, run: Run) -> int | None:
        """The path whose share holds the participant's stable bucket (paths with a
        `percent`: split, A/B test); None when the shares do not reach it."""
        bucket, upper = split_bucket(run.participant.pk, run.step.key), 0
        for index, path in enumerate(run.step.paths):
            upper += path.get("percent", 0)
            if bucket < upper:
                return index
        return None

    def keep_children(self, old: StepSpec, new: StepSpec) -> None:
        for index, path in enumerate(new.paths):
            if index < len(old.paths):
                path.steps = old.paths[index].steps

    def lanes(self, step: StepSpec) -> list[tuple[str, str]]:
        return [(str(i), p.name) for i, p in enumerate(step.paths)]

    def funnel_paths(self, step: "Step") -> list[tuple[str, str]]:
        return [(str(i), p.get("name") or f"Path {i + 1}") for i, p in enumerate(step.paths)]

    def path_outcome(self, outcome: str, detail_path: str) -> str | None:
        return detail_path if outcome == HistoryOutcome.PATH else None
