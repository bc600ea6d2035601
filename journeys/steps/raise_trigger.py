"""The raise-a-trigger step: raise a custom trigger for the participant's contact, with
attributes rendered from the participant's data, and go on at once.

The event takes the public API's path: `triggers.ingest.ingest` validates it against the
trigger's schema, stores it (source `journey:<journey key>`, event_id `p<participant>:<step>`,
so a step that runs twice stores one event) and announces it after commit; the journeys app
then processes it like any API event (entries, exits, goals, wait-fors of other journeys).

Each attribute is a text template rendered in the content sandbox (the context a message
sees: `contact`, `trigger` = the attributes of the participant's entry event, `journey`),
then typed by the trigger's schema (triggers.validation.type_attributes). A value that does
not fit is recorded in the participant's history as `failed`, with the field and the rule,
and the participant goes on.

Chains end: an event raised by a participant whose entry event had `hops` h stores h + 1;
a raise beyond MAX_HOPS is not stored and is recorded as `cut`. A journey cannot raise its
own start trigger (refused by the format, the designer and publishing).
"""

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .. import transitions
from ..spec import CONFLICT, INVALID, TOO_MANY, UNKNOWN, WRONG_TYPE, Problem, SpecPath, StepSpec
from . import register
from .base import HELD_OUT, Kind, References, Run

if TYPE_CHECKING:
    from django import forms

    from ..definition import ParseContext
    from ..designer.canvas import Names
    from ..models import Step

RAISED, CUT, FAILED = "raised", "cut", "failed"  # its history outcomes
RAISE_OUTCOMES = (RAISED, CUT, FAILED)
MAX_HOPS = 5  # events raised by journeys from events raised by journeys, at most
MAX_ATTRIBUTES = 100
MAX_TEMPLATE = 1000
SOURCE_PREFIX = "journey:"


def event_source(journey_key: str) -> str:
    return f"{SOURCE_PREFIX}{journey_key}"[:100]  # Event.source's length


def event_id(participant_id: int, step_key: str) -> str:
    """The same for every run of the step for the participant: one event however often it runs."""
    return f"p{participant_id}:{step_key}"


class RaiseTriggerKind(Kind):
    name = "raise_trigger"
    label = "Raise a trigger"
    help = "Raise a custom trigger for the contact (with attributes), to start or move other journeys."
    icon = '<path d="M12 20V5"/><path d="M6 11l6-6 6 6"/><path d="M5 21h14"/>'
    accent = "#6b46c1"
    fields = ("trigger", "attributes")
    side_effect = True  # the holdout group walks past it
    leaving_outcomes = RAISE_OUTCOMES

    # --- Format ---

    def parse(self, data: Mapping, step: StepSpec, path: SpecPath, ctx: "ParseContext", passed: list[str]) -> None:
        step.trigger = ctx.trigger(data.get("trigger"), path / "trigger")
        if step.trigger and step.trigger == ctx.start_trigger:
            ctx.add(path / "trigger", CONFLICT, "a journey cannot raise its own start trigger (it would loop)")
        raw = data.get("attributes") or {}
        if not isinstance(raw, Mapping):
            ctx.add(path / "attributes", WRONG_TYPE, "must be an object of attribute name to text")
            raw = {}
        if len(raw) > MAX_ATTRIBUTES:
            ctx.add(path / "attributes", TOO_MANY, f"at most {MAX_ATTRIBUTES} attributes")
        schema = ctx.schemas.get(step.trigger or "")
        attributes: dict[str, str] = {}
        for name, value in raw.items():
            for code, message in attribute_problems(str(name), value, schema, step.trigger or ""):
                ctx.add(path / "attributes" / str(name), code, message)
            if isinstance(value, str):
                attributes[str(name)] = value
        step.settings = {"attributes": _sorted(attributes)}

    def to_dict(self, step: StepSpec) -> dict[str, Any]:
        return {"trigger": step.trigger, "attributes": _sorted(step.settings.get("attributes", {}))}

    # --- Database ---

    def to_model(self, spec: StepSpec, refs: References) -> dict[str, Any]:
        return {
            "trigger": refs.triggers.get(spec.trigger) if spec.trigger else None,
            "settings": {"attributes": _sorted(spec.settings.get("attributes", {}))},
        }

    def from_model(self, step: "Step", spec: StepSpec, build: Callable[[str], list[StepSpec]]) -> None:
        spec.trigger = step.trigger.key if step.trigger else None
        spec.settings = {"attributes": _sorted(step.settings.get("attributes", {}))}

    def publish_problems(self, step: "Step", where: str) -> list[Problem]:
        trigger = step.trigger
        if trigger is None:
            return [Problem(where, "choose the trigger to raise")]
        problems = []
        if trigger.builtin:
            problems.append(Problem(where, f"{trigger.name!r} is a built-in trigger raised by the product itself"))
        elif not trigger.is_ready:
            problems.append(
                Problem(where, f"trigger {trigger.name!r} is not Ready to use", fix=("trigger", trigger.key))
            )
        if trigger.pk == step.version.start_trigger_id:
            problems.append(Problem(where, f"the journey cannot raise its own start trigger {trigger.name!r}"))
        schema = dict(trigger.attributes.values_list("name", "type"))
        for name, value in _sorted(step.settings.get("attributes", {})).items():
            for _, message in attribute_problems(name, value, schema, trigger.key):
                problems.append(Problem(where, f"attribute {name}: {message}", fix=("trigger", trigger.key)))
        return problems

    # --- Engine ---

    def execute(self, run: Run) -> Any:
        from triggers.ingest import ingest
        from triggers.schemas import load_schemas
        from triggers.validation import type_attributes

        from ..contacts import template_context

        participant, step, now = run.participant, run.step, run.now
        assert step.trigger is not None, "a published raise step has its trigger (publish_problems)"
        key = step.trigger.key
        entry = participant.entry_event
        hops = (entry.hops if entry is not None else 0) + 1
        detail: dict[str, Any] = {"trigger": key, "hops": hops}
        if hops > MAX_HOPS:
            reason = f"a chain of triggers raised by journeys is cut after {MAX_HOPS} hops"
            transitions.record(participant, step, CUT, now, {**detail, "reason": reason}, writes=run.writes)
            return run.plan.next_after(step)
        attributes: dict[str, Any] = {}
        texts, errors = render_attributes(
            step.settings.get("attributes", {}), template_context(participant, participant.contact)
        )
        schemas = load_schemas([key])
        if not errors and key in schemas:
            attributes, type_errors = type_attributes(texts, schemas[key])
            errors += [e.as_dict() for e in type_errors]
        if not errors:
            payload: dict[str, Any] = {
                "trigger": key,
                "event_id": event_id(participant.pk, step.key),
                "contact": {"id": participant.contact.external_id},
                "attributes": attributes,
            }
            if participant.binding_id:
                payload["binding_id"] = participant.binding_id
            result = ingest(event_source(participant.journey.key), [payload], schemas=schemas, hops=hops)[0]
            if result.status in ("accepted", "duplicate", "conflict"):
                # conflict: a re-run rendered other values; the event stored first stands.
                detail = {**detail, "event": result.id, "attributes": attributes}
                transitions.record(participant, step, RAISED, now, detail, writes=run.writes)
                return run.plan.next_after(step)
            errors = [e.as_dict() for e in result.errors] or [
                {"field": "trigger", "code": result.code or result.status, "message": "The event was not accepted."}
            ]
        transitions.record(participant, step, FAILED, now, {**detail, "errors": errors}, writes=run.writes)
        return run.plan.next_after(step)

    # --- Designer ---

    def form_fields(self, form: "forms.Form", step: StepSpec | None) -> None:
        import json

        from django import forms as django_forms

        from ..designer.fields import TriggerChoiceField, ready_triggers, trigger_schemas

        queryset = ready_triggers(step.trigger if step else None).filter(builtin=False)
        form.triggers = {t.key: t for t in queryset}  # type: ignore[attr-defined]
        form.trigger_schemas = trigger_schemas(queryset)  # type: ignore[attr-defined]
        form.fields["trigger"] = TriggerChoiceField(
            queryset=queryset,
            to_field_name="key",
            label="Trigger to raise",
            empty_label="Choose a trigger",
            initial=step.trigger if step else None,
            help_text="A custom trigger, Ready to use; not the one that starts this journey.",
        )
        attributes = step.settings.get("attributes", {}) if step else {}
        form.fields["attributes"] = django_forms.CharField(
            widget=django_forms.Textarea(attrs={"rows": 5, "class": "vLargeTextField", "spellcheck": "false"}),
            required=False,
            label="Attributes (JSON)",
            initial=json.dumps(attributes, indent=2) if attributes else "{}",
            help_text='Attribute name to text, e.g. {"total": "{{ trigger.cart.total }}"}: '
            "rendered like a message (contact, trigger), then typed by the trigger's schema.",
        )

    def clean_form(self, form: "forms.Form", data: dict[str, Any]) -> None:
        import json

        raw = (data.get("attributes") or "").strip() or "{}"
        try:
            attributes = json.loads(raw)
        except (ValueError, RecursionError) as error:
            form.add_error("attributes", f"Not JSON: {error}.")
            return
        if not isinstance(attributes, dict):
            form.add_error("attributes", 'Write an object, e.g. {"total": "{{ trigger.cart.total }}"}.')
            return
        trigger = data.get("trigger")
        schema = form.trigger_schemas.get(trigger.key, {}) if trigger else {}  # type: ignore[attr-defined]
        for name, value in attributes.items():
            for _, message in attribute_problems(str(name), value, schema, trigger.key if trigger else ""):
                form.add_error("attributes", f"{name}: {message}")
        data["attributes"] = attributes

    def form_to_spec(self, form: "forms.Form", spec: StepSpec) -> None:
        spec.trigger = form.cleaned_data["trigger"].key
        spec.settings = {"attributes": _sorted({str(k): v for k, v in form.cleaned_data["attributes"].items()})}

    def suggested_id(self, form: "forms.Form") -> str:
        return f"raise {form.cleaned_data['trigger'].name}"

    def summary(self, step: StepSpec, names: "Names") -> str:
        trigger = names.triggers.get(step.trigger or "", step.trigger or "(no trigger)")
        attributes = _sorted(step.settings.get("attributes", {}))
        return f"Raise {trigger}" + (f" with {', '.join(attributes)}" if attributes else "")

    # --- Reports ---

    def funnel_paths(self, step: "Step") -> list[tuple[str, str]]:
        return [(RAISED, "Raised"), (CUT, "Cut (too many hops)"), (FAILED, "Failed"), (HELD_OUT, "Held out")]

    def path_outcome(self, outcome: str, detail_path: str) -> str | None:
        return outcome if outcome in (*RAISE_OUTCOMES, HELD_OUT) else None

    def timeline_detail(self, outcome: str, detail: Mapping[str, Any]) -> str | None:
        """The event raised (other journeys react to it once it is stored for real; the
        simulation, rolled back, only shows it), or why it was not."""
        if outcome not in RAISE_OUTCOMES:
            return None
        text = f"trigger {detail.get('trigger')}"
        if outcome == RAISED:
            attributes = json.dumps(detail.get("attributes", {}), sort_keys=True)
            return f"{text} {attributes} (hop {detail.get('hops')})"
        if outcome == CUT:
            return f"{text} not raised: {detail.get('reason', '')}"
        errors = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in detail.get("errors", []))
        return f"{text} not raised: {errors}"


def _sorted(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes by name: the order is the same whichever database kept them (PostgreSQL's
    JSONB does not keep the order of keys)."""
    return dict(sorted(attributes.items()))


def attribute_problems(name: str, value: Any, schema: Mapping[str, str] | None, trigger: str) -> list[tuple[str, str]]:
    """What is wrong with one attribute of the step: (code, message) pairs, checked without
    rendering (a template that does not compile, a name the trigger does not have)."""
    from content.rendering import TemplateSyntaxError, compile_template

    problems = []
    if schema is not None and name not in schema:
        known = ", ".join(sorted(schema)) or "none"
        problems.append((UNKNOWN, f"the trigger {trigger!r} has no attribute {name!r} (it has: {known})"))
    if not isinstance(value, str):
        problems.append((WRONG_TYPE, "must be text (a template such as {{ trigger.cart.total }})"))
        return problems
    if len(value) > MAX_TEMPLATE:
        problems.append((INVALID, f"at most {MAX_TEMPLATE} characters"))
        return problems
    try:
        compile_template(value, html=False)
    except TemplateSyntaxError as error:
        problems.append((INVALID, f"the template does not compile: {error}"))
    return problems


def render_attributes(
    templates: Mapping[str, str], context: Mapping[str, Any]
) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Each attribute's template rendered as text, or the errors ({field, code, message})."""
    from content.rendering import RenderError, TemplateSyntaxError, render

    texts: dict[str, str] = {}
    errors: list[dict[str, str]] = []
    for name, template in templates.items():
        try:
            texts[name] = render(template, context, html=False)
        except (RenderError, TemplateSyntaxError) as error:
            errors.append({"field": f"attributes.{name}", "code": "render_error", "message": str(error)})
    return texts, errors


register(RaiseTriggerKind())
