"""The wait step: stay for a time (`duration`) or until a date and time (`until`)."""

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.utils.dateparse import parse_datetime

from .. import transitions
from ..durations import MAX_WAIT, describe_duration, format_duration
from ..models import HistoryOutcome
from ..spec import INVALID, REQUIRED, Problem, SpecPath, StepSpec
from . import register
from .base import WAIT, Kind, References, Run

if TYPE_CHECKING:
    from django import forms

    from ..definition import ParseContext
    from ..designer.canvas import Names
    from ..models import Step


class WaitKind(Kind):
    name = "wait"
    label = "Wait"
    help = "Wait a set amount of time."
    icon = '<circle cx="12" cy="12" r="9"/><path d="M12 7v5l3 3"/>'
    accent = "#b7791f"
    fields = ("duration", "until")
    leaving_outcomes = (HistoryOutcome.WAITED,)

    def parse(self, data: Mapping, step: StepSpec, path: SpecPath, ctx: "ParseContext", passed: list[str]) -> None:
        if ("duration" in data) == ("until" in data):
            ctx.add(path, REQUIRED, "a wait needs either duration or until")
        elif "duration" in data:
            step.duration = ctx.wait(data["duration"], path / "duration")
        else:
            until = parse_datetime(data["until"]) if isinstance(data["until"], str) else None
            if until is None or until.tzinfo is None:
                ctx.add(
                    path / "until", INVALID, "must be a date and time with its offset, e.g. 2026-12-24T09:00:00+01:00"
                )
            step.until = until

    def to_dict(self, step: StepSpec) -> dict[str, Any]:
        if step.until is not None:
            return {"until": step.until.isoformat()}
        assert step.duration is not None, "a parsed wait has a duration or an until"
        return {"duration": format_duration(step.duration)}

    def to_model(self, spec: StepSpec, refs: References) -> dict[str, Any]:
        return {"duration": spec.duration, "until": spec.until}

    def from_model(self, step: "Step", spec: StepSpec, build: Callable[[str], list[StepSpec]]) -> None:
        spec.duration, spec.until = step.duration, step.until

    def publish_problems(self, step: "Step", where: str) -> list[Problem]:
        if step.duration is not None and step.duration > MAX_WAIT:
            return [Problem(where, "waits are limited to 90 days")]
        if step.duration is None and step.until is None:
            return [Problem(where, "set how long to wait")]
        return []

    def execute(self, run: Run) -> Any:
        participant, step, now = run.participant, run.step, run.now
        if run.woken:
            transitions.record(participant, step, HistoryOutcome.WAITED, now, writes=run.writes)
            return run.plan.next_after(step)
        if participant.wake_at is not None:
            return WAIT
        wake_at = step.until if step.until is not None else _started(run) + _duration(step)
        if wake_at <= now:  # a date already passed: continue at once
            transitions.record(
                participant, step, HistoryOutcome.WAITED, now, {"until": wake_at.isoformat()}, writes=run.writes
            )
            return run.plan.next_after(step)
        transitions.wait_until(participant, step, wake_at, now, HistoryOutcome.WAITING, {}, writes=run.writes)
        return WAIT

    # --- Designer ---

    def form_fields(self, form: "forms.Form", step: StepSpec | None) -> None:
        from django import forms as django_forms

        from ..designer.fields import duration_fields

        time_zone = form.time_zone  # type: ignore[attr-defined]
        until = step.until.astimezone(time_zone) if step and step.until else None
        form.fields["mode"] = django_forms.ChoiceField(
            choices=[("duration", "For a time"), ("until", "Until a date and time")],
            widget=django_forms.RadioSelect,
            initial="until" if until else "duration",
            required=False,
            label="Wait",
        )
        duration_fields(form, "Wait for", step.duration if step else None, required=False)
        form.fields["until"] = django_forms.DateTimeField(
            required=False,
            label="Until",
            initial=until.replace(tzinfo=None, second=0, microsecond=0) if until else None,
            input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
            widget=django_forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            help_text=f"In the journey's time zone ({time_zone.key}). A date already passed continues at once.",
        )

    def clean_form(self, form: "forms.Form", data: dict[str, Any]) -> None:
        from ..designer.fields import clean_duration

        if data.get("mode") == "until":
            data["duration"] = None
            if data.get("until") is None and "until" not in form.errors:
                form.add_error("until", "Enter the date and time to wait until.")
            elif data.get("until") is not None:
                data["until"] = data["until"].replace(tzinfo=form.time_zone)  # type: ignore[attr-defined]
            return
        data["duration"] = clean_duration(form)
        if data["duration"] is None and "amount" not in form.errors:
            form.add_error("amount", "Enter how long, e.g. 1 day.")

    def form_to_spec(self, form: "forms.Form", spec: StepSpec) -> None:
        data = form.cleaned_data
        spec.duration = data["duration"]
        spec.until = data.get("until") if data.get("mode") == "until" else None

    def suggested_id(self, form: "forms.Form") -> str:
        return "wait"

    def summary(self, step: StepSpec, names: "Names") -> str:
        if step.until is not None:
            return f"Wait until {step.until:%d %b %Y %H:%M %Z}".strip()
        return f"Wait {describe_duration(step.duration)}" if step.duration else "Wait (no duration)"


def _started(run: Run) -> datetime:
    started = run.participant.step_started_at
    assert started is not None, "a participant at a step has its start time"
    return started


def _duration(step: "Step") -> timedelta:
    assert step.duration is not None, "a wait has a duration or an until (a check constraint)"
    return step.duration


register(WaitKind())
