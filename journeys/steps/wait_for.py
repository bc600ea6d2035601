"""The wait-for step: wait for a trigger (with conditions on its attributes, optionally about
an earlier message of the participant) up to a time limit; Yes when it happens, No when the
limit runs out."""

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from triggers.models import Event

from .. import transitions
from ..conditions import all_hold, condition_problems
from ..durations import MAX_WAIT, describe_duration, format_duration
from ..models import Delivery, HistoryOutcome
from ..spec import INVALID, REQUIRED, Problem, SpecPath, StepSpec
from . import message_kinds, register
from .base import WAIT, Kind, References, Run

if TYPE_CHECKING:
    from django import forms

    from ..definition import ParseContext
    from ..designer.canvas import Names
    from ..models import Step


class WaitForKind(Kind):
    name = "wait_for"
    label = "Wait for a trigger"
    help = "Wait for a trigger (such as Email opened) with a time limit: Yes and No paths."
    icon = '<path d="M7 3h10M7 21h10M8 3v3l4 6-4 6v3M16 3v3l-4 6 4 6v3"/>'
    fields = ("trigger", "of_step", "within", "conditions", "yes", "no")
    branching = True
    awaits_events = True
    leaving_outcomes = (HistoryOutcome.YES, HistoryOutcome.NO)
    form_template = "admin/journeys/designer/steps/wait_for.html"

    # --- Format ---

    def parse(self, data: Mapping, step: StepSpec, path: SpecPath, ctx: "ParseContext", passed: list[str]) -> None:
        step.trigger = ctx.trigger(data.get("trigger"), path / "trigger")
        if "within" not in data:
            ctx.add(path / "within", REQUIRED, "is required (the time limit, e.g. 1d)")
        else:
            step.duration = ctx.wait(data["within"], path / "within")
        step.of_step = data.get("of_step")
        if step.of_step is not None and step.of_step not in passed:
            ctx.add(
                path / "of_step", INVALID, f"{step.of_step!r} must be an earlier email, text or push step on this path"
            )
        step.conditions = ctx.conditions(
            data.get("conditions"), path / "conditions", ctx.schemas.get(step.trigger or "")
        )

    def parse_children(
        self, data: Mapping, step: StepSpec, path: SpecPath, ctx: "ParseContext", depth: int, passed: list[str]
    ) -> None:
        step.yes = ctx.steps(data.get("yes", []), path / "yes", depth, passed)
        step.no = ctx.steps(data.get("no", []), path / "no", depth, passed)

    def children(self, step: StepSpec) -> list[tuple[str, list[StepSpec]]]:
        return [("yes", step.yes), ("no", step.no)]

    def to_dict(self, step: StepSpec) -> dict[str, Any]:
        data: dict[str, Any] = {"trigger": step.trigger}
        if step.of_step:
            data["of_step"] = step.of_step
        assert step.duration is not None, "a parsed wait-for has its time limit"
        data["within"] = format_duration(step.duration)
        if step.conditions:
            data["conditions"] = step.conditions
        from ..definition import step_to_dict

        data["yes"] = [step_to_dict(s) for s in step.yes]
        data["no"] = [step_to_dict(s) for s in step.no]
        return data

    # --- Database ---

    def to_model(self, spec: StepSpec, refs: References) -> dict[str, Any]:
        return {
            "duration": spec.duration,
            "trigger": refs.triggers.get(spec.trigger) if spec.trigger else None,
            "of_step": refs.steps.get(spec.of_step) if spec.of_step else None,
            "conditions": spec.conditions,
        }

    def from_model(self, step: "Step", spec: StepSpec, build: Callable[[str], list[StepSpec]]) -> None:
        spec.duration = step.duration
        spec.trigger = step.trigger.key if step.trigger else None
        spec.of_step = step.of_step.key if step.of_step else None
        spec.conditions = step.conditions
        spec.yes, spec.no = build("yes"), build("no")

    def publish_problems(self, step: "Step", where: str) -> list[Problem]:
        problems = []
        if step.duration is not None and step.duration > MAX_WAIT:
            problems.append(Problem(where, "waits are limited to 90 days"))
        trigger = step.trigger
        if trigger is None:
            problems.append(Problem(where, "choose the trigger to wait for"))
        elif not trigger.is_ready:
            problems.append(
                Problem(where, f"trigger {trigger.name!r} is not Ready to use", fix=("trigger", trigger.key))
            )
        else:
            schema = dict(trigger.attributes.values_list("name", "type"))
            for i, condition in enumerate(step.conditions):
                for field, message in condition_problems(condition, schema):
                    problems.append(Problem(where, f"condition {i + 1} {field}: {message}"))
        if step.duration is None:
            problems.append(Problem(where, "set the time limit"))
        return problems

    # --- Engine ---

    def execute(self, run: Run) -> Any:
        """Arrival starts the clock; the limit passing takes the No path. The Yes path is
        taken when a matching event arrives (`react`)."""
        participant, step, now = run.participant, run.step, run.now
        if run.woken:
            transitions.record(participant, step, HistoryOutcome.NO, now, writes=run.writes)
            return run.plan.enter_path(step, "no")
        if participant.wake_at is None:
            assert participant.step_started_at is not None and step.duration is not None and step.trigger is not None
            deadline = participant.step_started_at + step.duration
            transitions.wait_until(
                participant,
                step,
                deadline,
                now,
                HistoryOutcome.WAITING,
                {"trigger": step.trigger.key},
                writes=run.writes,
            )
        return WAIT

    def react(self, run: Run, event: Event) -> Any:
        """An event of the awaited trigger for a participant waiting here: Yes when it is the
        one awaited, else stay (WAIT)."""
        if not self._is_awaited(run, event):
            return WAIT
        transitions.record(
            run.participant, run.step, HistoryOutcome.YES, run.now, {"event": event.pk}, writes=run.writes
        )
        return run.plan.enter_path(run.step, "yes")

    def _is_awaited(self, run: Run, event: Event) -> bool:
        participant, step = run.participant, run.step
        if participant.step_started_at is None or event.received_at < participant.step_started_at:
            return False  # only events after the wait began count
        if not all_hold(step.conditions, event.attributes):
            return False
        if step.of_step_id is not None:
            # An interaction with the participant's own message at that step, not any email.
            delivery_id = (
                Delivery.objects.filter(participant=participant, step_id=step.of_step_id)
                .values_list("pk", flat=True)
                .first()
            )
            return delivery_id is not None and str(event.attributes.get("delivery_id")) == str(delivery_id)
        return True

    # --- Designer ---

    def form_fields(self, form: "forms.Form", step: StepSpec | None) -> None:
        from django import forms as django_forms

        from ..designer.fields import TriggerChoiceField, duration_fields, ready_triggers, trigger_schemas

        queryset = ready_triggers(step.trigger if step else None)
        form.triggers = {t.key: t for t in queryset}  # type: ignore[attr-defined]
        form.trigger_schemas = trigger_schemas(queryset)  # type: ignore[attr-defined]
        form.fields["trigger"] = TriggerChoiceField(
            queryset=queryset,
            to_field_name="key",
            label="Wait for the trigger",
            empty_label="Choose a trigger",
            initial=step.trigger if step else None,
        )
        earlier = form.earlier  # type: ignore[attr-defined]
        form.fields["of_step"] = django_forms.ChoiceField(
            choices=[("", "Any (not about an earlier message)"), *[(i, label) for i, label, _ in earlier]],
            required=False,
            label="Of the earlier message",
            help_text="For interactions such as Email opened: which message to watch (one sent earlier on this path).",
            initial=step.of_step if step else "",
        )
        duration_fields(form, "Time limit", step.duration if step else timedelta(days=1))
        form.add_conditions(step)  # type: ignore[attr-defined]

    def clean_form(self, form: "forms.Form", data: dict[str, Any]) -> None:
        from ..designer.fields import clean_duration

        data["duration"] = clean_duration(form)
        if data["duration"] is None and "amount" not in form.errors:
            form.add_error("amount", "Enter how long, e.g. 1 day.")
        self._clean_of_step(form, data)

    def _clean_of_step(self, form: "forms.Form", data: dict[str, Any]) -> None:
        from ..tracking import TRIGGERS

        trigger, of_step = data.get("trigger"), data.get("of_step")
        if not of_step or trigger is None:
            return
        # The channel whose messages an interaction trigger is about (email_opened -> email).
        channel = {key: channel for (_, channel), key in TRIGGERS.items()}.get(trigger.key)
        if channel is None:
            form.add_error("of_step", f"{trigger.name} is not about a message; choose Any.")
            return
        channels = {step_id: step_channel for step_id, _, step_channel in form.earlier}  # type: ignore[attr-defined]
        if channels.get(of_step) != channel:
            label = {k.channel: k.label for k in message_kinds()}[channel]
            form.add_error("of_step", f"{trigger.name} is about a {label.lower()}; choose one of those.")

    def form_to_spec(self, form: "forms.Form", spec: StepSpec) -> None:
        data = form.cleaned_data
        spec.trigger = data["trigger"].key
        spec.of_step = data.get("of_step") or None
        spec.duration = data["duration"]
        conditions = form.conditions  # type: ignore[attr-defined]
        spec.conditions = conditions.conditions() if conditions is not None else []

    def suggested_id(self, form: "forms.Form") -> str:
        return f"wait for {form.cleaned_data['trigger'].name}"

    def keep_children(self, old: StepSpec, new: StepSpec) -> None:
        new.yes, new.no = old.yes, old.no

    def summary(self, step: StepSpec, names: "Names") -> str:
        from ..designer.canvas import describe_condition, humanize

        trigger = names.triggers.get(step.trigger or "", step.trigger or "(no trigger)")
        text = f"Wait for {trigger}"
        if step.of_step:
            text += f" of {humanize(step.of_step)}"
        if step.conditions:
            text += " where " + " and ".join(describe_condition(c) for c in step.conditions)
        if step.duration:
            text += f", up to {describe_duration(step.duration)}"
        return text

    def lanes(self, step: StepSpec) -> list[tuple[str, str]]:
        return [("yes", "Yes: it happened"), ("no", "No: time limit reached")]

    # --- Reports ---

    def funnel_paths(self, step: "Step") -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No")]

    def path_outcome(self, outcome: str, detail_path: str) -> str | None:
        return outcome if outcome in (HistoryOutcome.YES, HistoryOutcome.NO) else None


register(WaitForKind())
