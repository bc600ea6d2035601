"""What the kinds with named paths (branch, split) share: a list of paths, each with a
name and its own steps, stored as `paths` ([{"name": …, …}]) with the steps under "0", "1", …"""

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .. import transitions
from ..models import HistoryOutcome
from ..spec import PathSpec, SpecPath, StepSpec, listed, mapping, text
from .base import Kind, References, Run

if TYPE_CHECKING:
    from ..definition import ParseContext
    from ..models import Step


class PathsKind(Kind):
    branching = True
    leaving_outcomes = (HistoryOutcome.PATH,)

    def path_settings(self, path: PathSpec) -> dict[str, Any]:
        """What a path stores besides its name (its conditions, its percent)."""
        raise NotImplementedError

    def path_from_model(self, name: str, stored: Mapping[str, Any], steps: list[StepSpec]) -> PathSpec:
        return PathSpec(name=name, conditions=stored.get("conditions", []), percent=stored.get("percent"), steps=steps)

    def parse_path_name(self, data: Mapping, path: SpecPath, ctx: "ParseContext", index: int) -> str:
        return text(data, "name", path, ctx.errors, required=False) or f"Path {index + 1}"

    def raw_paths(self, data: Mapping, path: SpecPath, ctx: "ParseContext") -> list[tuple[int, Mapping, SpecPath]]:
        return [
            (i, mapping(raw, path / "paths" / i, ctx.errors), path / "paths" / i)
            for i, raw in enumerate(listed(data, "paths", path, ctx.errors))
        ]

    def parse_children(
        self, data: Mapping, step: StepSpec, path: SpecPath, ctx: "ParseContext", depth: int, passed: list[str]
    ) -> None:
        raw = data.get("paths")
        raw_paths: list[Any] = raw if isinstance(raw, list) else []
        for i, (spec_path, raw_path) in enumerate(zip(step.paths, raw_paths, strict=False)):
            steps = raw_path.get("steps", []) if isinstance(raw_path, Mapping) else []
            spec_path.steps = ctx.steps(steps, path / "paths" / i / "steps", depth, passed)

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

    def take_path(self, run: Run, index: int) -> Any:
        path = run.step.paths[index]
        transitions.record(
            run.participant,
            run.step,
            HistoryOutcome.PATH,
            run.now,
            {"path": index, "name": path.get("name")},
            writes=run.writes,
        )
        return run.plan.enter_path(run.step, str(index))

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
