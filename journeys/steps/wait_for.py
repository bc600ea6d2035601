"""The wait-for step: wait for a trigger (with conditions on its attributes, optionally about
an earlier message of the participant) or for the contact to join a segment
(`segment_joined`), up to a time limit; Yes when it happens, No when the limit runs out."""

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from triggers.models import Event

from .. import transitions
from ..conditions import all_hold, condition_problems
from ..durations import MAX_WAIT, describe_duration, format_duration
from ..models import Delivery, HistoryOutcome
from ..spec import CONFLICT, INVALID, REQUIRED, Problem, SpecPath, StepSpec
from . import message_kinds, register
from .base import WAIT, Kind, References, Run

# What a wait-for waits for, as the designer's form offers it.
WAIT_ON_TRIGGER, WAIT_ON_SEGMENT = "trigger", "segment"

if TYPE_CHECKING:
    from django import forms

    from ..definition import ParseContext
    from ..designer.canvas import Names
    from ..models import Step


class WaitForKind(Kind):
    name = "wait_for"
    label = "Wait for a trigger"
    help = "Wait for a trigger (such as Email opened) or for joining a segment, with a time limit: Yes and No paths."
    icon = '<path d="M7 3h10M7 21h10M8 3v3l4 6-4 6v3M16 3v3l-4 6 4 6v3"/>'
    accent = "#c05621"
    fields = ("trigger", "segment_joined", "of_step", "within", "conditions", "yes", "no")
    branching = True
    awaits_events = True
    leaving_outcomes = (HistoryOutcome.YES, HistoryOutcome.NO)
    form_template = "admin/journeys/designer/steps/wait_for.html"

    # --- Format ---

    def parse(self, data: Mapping, step: StepSpec, path: SpecPath, ctx: "ParseContext", passed: list[str]) -> None:
        if "segment_joined" in data:
            self._parse_segment_joined(data, step, path, ctx)
            return
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

    def _parse_segment_joined(self, data: Mapping, step: StepSpec, path: SpecPath, ctx: "ParseContext") -> None:
        step.segment = ctx.segment(data.get("segment_joined"), path / "segment_joined")
        if "trigger" in data or "conditions" in data or "of_step" in data:
            ctx.add(path, CONFLICT, "a wait-for waits for a trigger or for segment_joined, not both")
        if "within" not in data:
            ctx.add(path / "within", REQUIRED, "is required (the time limit, e.g. 1d)")
        else:
            step.duration = ctx.wait(data["within"], path / "within")

    def parse_children(
        self, data: Mapping, step: StepSpec, path: SpecPath, ctx: "ParseContext", depth: int, passed: list[str]
    ) -> None:
        step.yes = ctx.steps(data.get("yes", []), path / "yes", depth, passed)
        step.no = ctx.steps(data.get("no", []), path / "no", depth, passed)

    def children(self, step: StepSpec) -> list[tuple[str, list[StepSpec]]]:
        return [("yes", step.yes), ("no", step.no)]

    def to_dict(self, step: StepSpec) -> dict[str, Any]:
        data: dict[str, Any] = {"segment_joined": step.segment} if step.segment else {"trigger": step.trigger}
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
            "segment": refs.segments.get(spec.segment) if spec.segment else None,
            "of_step": refs.steps.get(spec.of_step) if spec.of_step else None,
            "conditions": spec.conditions,
        }

    def from_model(self, step: "Step", spec: StepSpec, build: Callable[[str], list[StepSpec]]) -> None:
        spec.duration = step.duration
        spec.trigger = step.trigger.key if step.trigger else None
        spec.segment = step.segment.key if step.segment else None
        spec.of_step = step.of_step.key if step.of_step else None
        spec.conditions = step.conditions
        spec.yes, spec.no = build("yes"), build("no")

    def publish_problems(self, step: "Step", where: str) -> list[Problem]:
        problems = []
        if step.duration is not None and step.duration > MAX_WAIT:
            problems.append(Problem(where, "waits are limited to 90 days"))
        trigger = step.trigger
        if step.segment_id is not None:
            pass  # waits for a segment join: no trigger to check
        elif trigger is None:
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
            assert participant.step_started_at is not None and step.duration is not None
            deadline = participant.step_started_at + step.duration
            awaited = (
                {"segment": step.segment.key} if step.segment else {"trigger": step.trigger.key if step.trigger else ""}
            )
            transitions.wait_until(
                participant,
                step,
                deadline,
                now,
                HistoryOutcome.WAITING,
                awaited,
                writes=run.writes,
            )
        return WAIT

    def react(self, run: Run, event: Event | None) -> Any:
        """An event of the awaited trigger for a participant waiting here (or, `event` None,
        the contact joined the awaited segment): Yes when it is the one awaited, else stay."""
        if event is None:
            if run.step.segment_id is None:
                return WAIT
        elif run.step.segment_id is not None or not self._is_awaited(run, event):
            return WAIT
        transitions.record(
            run.participant,
            run.step,
            HistoryOutcome.YES,
            run.now,
            {"event": event.pk if event is not None else None},
            writes=run.writes,
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
        from ..designer.forms import SegmentChoiceField, segments_with_counts

        queryset = ready_triggers(step.trigger if step else None)
        form.triggers = {t.key: t for t in queryset}  # type: ignore[attr-defined]
        form.trigger_schemas = trigger_schemas(queryset)  # type: ignore[attr-defined]
        form.fields["wait_on"] = django_forms.ChoiceField(
            choices=[(WAIT_ON_TRIGGER, "A trigger (an event)"), (WAIT_ON_SEGMENT, "Joining a segment")],
            widget=django_forms.RadioSelect,
            initial=WAIT_ON_SEGMENT if step and step.segment else WAIT_ON_TRIGGER,
            label="Wait for",
            required=False,  # a trigger unless a segment is chosen
        )
        form.fields["trigger"] = TriggerChoiceField(
            queryset=queryset,
            to_field_name="key",
            label="Wait for the trigger",
            empty_label="Choose a trigger",
            initial=step.trigger if step else None,
            required=False,
        )
        form.fields["segment"] = SegmentChoiceField(
            queryset=segments_with_counts(),
            to_field_name="key",
            label="Wait to join the segment",
            empty_label="Choose a segment",
            initial=step.segment if step else None,
            required=False,
            help_text="Yes when the contact joins the segment while waiting, No when the time limit passes first.",
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
        # A trigger (with its message and conditions) or a segment, whichever is chosen.
        if data.get("wait_on") == WAIT_ON_SEGMENT:
            data["trigger"], data["of_step"] = None, ""
            if data.get("segment") is None and "segment" not in form.errors:
                form.add_error("segment", "Choose the segment to wait for the contact to join.")
            return
        data["segment"] = None
        if data.get("trigger") is None and "trigger" not in form.errors:
            form.add_error("trigger", "Choose the trigger to wait for.")
            return
        self._clean_of_step(form, data)

    def uses_conditions(self, form: "forms.Form") -> bool:
        """The conditions are on the trigger: they do not count for a wait to join a segment."""
        return not (form.is_bound and form.data.get(form.add_prefix("wait_on")) == WAIT_ON_SEGMENT)

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
        spec.duration = data["duration"]
        if data.get("segment") is not None:
            spec.segment = data["segment"].key
            return
        spec.trigger = data["trigger"].key
        spec.of_step = data.get("of_step") or None
        spec.duration = data["duration"]
        conditions = form.conditions  # type: ignore[attr-defined]
        spec.conditions = conditions.conditions() if conditions is not None else []

    def suggested_id(self, form: "forms.Form") -> str:
        if form.cleaned_data.get("segment") is not None:
            return f"wait to join {form.cleaned_data['segment'].name}"
        return f"wait for {form.cleaned_data['trigger'].name}"

    def keep_children(self, old: StepSpec, new: StepSpec) -> None:
        new.yes, new.no = old.yes, old.no

    def summary(self, step: StepSpec, names: "Names") -> str:
        from ..designer.canvas import describe_condition, humanize

        if step.segment:
            text = f"Wait to join segment {names.segments.get(step.segment, step.segment)}"
            return text + (f", up to {describe_duration(step.duration)}" if step.duration else "")
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
