"""What the marketer types in the designer, checked and turned into spec pieces.

Every choice offered is a valid one (ready triggers, content of the step's channel,
earlier email steps, durations within the 90-day limit); what is typed is checked with the
journey format's own rules so the messages match the ones an import would give.
"""

import zoneinfo
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.utils.dateparse import parse_datetime

from triggers.models import Trigger

from ..conditions import MAX_CONDITIONS, NO_VALUE, OPERATORS, condition_problems
from ..definition import TIME_OF_DAY
from ..durations import DurationError, parse_wait
from ..models import JourneyType, RepeatPolicy, Segment, SegmentMode
from ..spec import StepSpec
from ..steps import kind_of
from .fields import (
    ContentChoiceField,
    TriggerChoiceField,
    TriggersField,
    operator_choices,
    operator_types,
    parse_value,
    ready_triggers,
    trigger_schemas,
    value_text,
)

__all__ = [
    "ContentChoiceField",
    "TriggerChoiceField",
    "TriggersField",
    "operator_choices",
    "operator_types",
    "parse_value",
    "ready_triggers",
    "trigger_schemas",
    "value_text",
]


def segments_with_counts() -> Any:
    """Segments, each with its member count (one grouped query), for the pickers."""
    return Segment.objects.annotate(member_total=Count("memberships")).order_by("name")


class SegmentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Segment) -> str:
        count = getattr(obj, "member_total", None)
        if count is None:
            return obj.name
        return f"{obj.name} ({count} member{'' if count == 1 else 's'})"


class SegmentsField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Segment) -> str:
        return SegmentChoiceField.label_from_instance(self, obj)  # type: ignore[arg-type]


# --- Create -----------------------------------------------------------------------------


class CreateJourneyForm(forms.Form):
    name = forms.CharField(
        max_length=200,
        help_text="What marketers and analysts call it.",
        widget=forms.TextInput(attrs={"class": "vTextField"}),
    )
    type = forms.ChoiceField(
        choices=[
            (JourneyType.TRIGGER, "Trigger-based: respond to a customer action"),
            (JourneyType.SEGMENT, "Segment-based: reach an audience"),
        ],
        initial=JourneyType.TRIGGER,
        widget=forms.RadioSelect,
        label="Type of journey",
    )
    start_trigger = TriggerChoiceField(
        queryset=Trigger.objects.none(),
        label="Start trigger",
        help_text="Only triggers that are Ready to use can start a journey.",
        required=False,
    )
    segment = SegmentChoiceField(
        queryset=Segment.objects.none(),
        label="Segment",
        help_text="Its members enter the journey (segment-based journeys).",
        required=False,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        start_trigger = cast(forms.ModelChoiceField, self.fields["start_trigger"])
        start_trigger.queryset = ready_triggers()
        start_trigger.empty_label = "Choose a trigger"
        segment = cast(forms.ModelChoiceField, self.fields["segment"])
        segment.queryset = segments_with_counts()
        segment.empty_label = "Choose a segment"

    def clean(self) -> dict:
        data = cast(dict[str, Any], super().clean())  # Form.clean returns cleaned_data
        if (
            data.get("type") == JourneyType.TRIGGER
            and not data.get("start_trigger")
            and "start_trigger" not in self.errors
        ):
            self.add_error("start_trigger", "Choose the trigger that starts the journey.")
        if data.get("type") == JourneyType.SEGMENT and not data.get("segment") and "segment" not in self.errors:
            self.add_error("segment", "Choose the segment whose members enter the journey.")
        return data


# --- Conditions --------------------------------------------------------------------------


class ConditionForm(forms.Form):
    """One condition: an attribute of the trigger, an operator its type allows, a value.

    A row is a condition when an attribute is chosen; a row left without one is empty (and an
    existing condition whose attribute is set back to "Choose an attribute" is removed), so the
    spare row the page always offers never stands in the way of saving."""

    attribute = forms.ChoiceField(choices=[], required=False)
    operator = forms.ChoiceField(choices=[])
    value = forms.CharField(required=False)

    def __init__(self, *args: Any, schema: dict[str, str], trigger_name: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.schema = schema
        attribute = cast(forms.ChoiceField, self.fields["attribute"])
        attribute.choices = [("", "Choose an attribute")] + [(p, p) for p in schema]
        # Django formats this message with %: a trigger named "50% off" must not break it.
        owner = (trigger_name or "the trigger").replace("%", "%%")
        attribute.error_messages["invalid_choice"] = (
            f"“%(value)s” is not an attribute of {owner}; choose one of its attributes."
        )
        cast(forms.ChoiceField, self.fields["operator"]).choices = operator_choices()

    def has_changed(self) -> bool:
        # Only what the marketer chose or typed counts: the operator select always sends "=".
        data = self.data
        return bool(data.get(self.add_prefix("attribute")) or (data.get(self.add_prefix("value")) or "").strip())

    @property
    def attribute_type(self) -> str:
        """The type of the attribute shown in this row ("" when none is chosen)."""
        return self.schema.get(str(self["attribute"].value() or ""), "")

    def clean(self) -> dict:
        data = cast(dict[str, Any], super().clean())  # Form.clean returns cleaned_data
        attribute, operator = data.get("attribute"), data.get("operator")
        if not attribute:
            if (data.get("value") or "").strip():
                self.add_error("attribute", "Choose an attribute, or clear the value to remove the condition.")
            return data
        if not operator:
            return data
        type_ = self.schema[attribute]
        if type_ not in OPERATORS[operator]:
            self.add_error("operator", f"“{operator}” does not apply to {type_} attribute {attribute}.")
            return data
        try:
            value = parse_value(data.get("value") or "", type_, operator)
        except ValidationError as error:
            self.add_error("value", error)
            return data
        condition = {"attribute": attribute, "operator": operator}
        if operator not in NO_VALUE:
            condition["value"] = value
        for field, message in condition_problems(condition, self.schema):
            self.add_error(field or None, message)
        data["condition"] = condition
        return data


class BaseConditionFormSet(forms.BaseFormSet):
    default_error_messages = {
        "too_many_forms": f"A journey start takes at most {MAX_CONDITIONS} conditions.",
        "missing_management_form": "The form was sent incomplete; reload the page.",
    }

    def condition_forms(self) -> list[ConditionForm]:
        """The rows that hold a condition, in order (row n is condition n of `conditions()`)."""
        return [
            f
            for f in self.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE") and "condition" in f.cleaned_data
        ]

    def conditions(self) -> list[dict]:
        return [f.cleaned_data["condition"] for f in self.condition_forms()]


ConditionFormSet = forms.formset_factory(
    ConditionForm,
    formset=BaseConditionFormSet,
    extra=1,
    can_delete=True,
    max_num=MAX_CONDITIONS,
    absolute_max=MAX_CONDITIONS,
    validate_max=True,
)
CONDITIONS_PREFIX = "conditions"


def condition_initial(conditions: list[dict]) -> list[dict]:
    return [
        {"attribute": c.get("attribute", ""), "operator": c.get("operator", ""), "value": value_text(c.get("value"))}
        for c in conditions
    ]


def posted_conditions(data: Any, prefix: str = CONDITIONS_PREFIX) -> list[dict[str, str]]:
    """The condition rows of a posted form as typed (not checked), without removed or empty
    rows: what a page redrawn for another trigger starts from."""
    try:
        total = min(int(data.get(f"{prefix}-TOTAL_FORMS", 0)), MAX_CONDITIONS)
    except (TypeError, ValueError):
        total = 0
    rows = []
    for i in range(total):
        row = {name: str(data.get(f"{prefix}-{i}-{name}", "")) for name in ("attribute", "operator", "value")}
        if row["attribute"] and not data.get(f"{prefix}-{i}-DELETE"):
            rows.append(row)
    return rows


# --- Settings ----------------------------------------------------------------------------


class SettingsForm(forms.Form):
    name = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"class": "vTextField"}))
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    start_trigger = TriggerChoiceField(queryset=Trigger.objects.none(), label="Start trigger")
    repeat = forms.ChoiceField(choices=RepeatPolicy.choices, label="Can people enter again?", widget=forms.RadioSelect)
    time_zone = forms.ChoiceField(choices=[], help_text="Used for quiet hours.")
    goal_trigger = TriggerChoiceField(
        queryset=Trigger.objects.none(),
        required=False,
        label="Goal trigger",
        help_text="The customer action this journey wants, e.g. Purchase completed.",
    )
    goal_target_percent = forms.DecimalField(
        required=False,
        min_value=0,
        max_value=100,
        decimal_places=2,
        label="Amount of people needed for this goal (%)",
    )
    holdout_percent = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=50,
        label="Holdout group (%)",
        help_text="This share of people (the same people each time) walks the journey without its messages "
        "or raised triggers, to measure the goal's lift. 0 for none.",
    )
    exit_triggers = TriggersField(
        queryset=Trigger.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Exit triggers",
        help_text="People leave the journey the moment one of these happens.",
    )
    # Segment-based start (issue 14).
    segment = SegmentChoiceField(queryset=Segment.objects.none(), required=False, label="Segment")
    segment_mode = forms.ChoiceField(
        choices=SegmentMode.choices, required=False, label="Who enters", widget=forms.RadioSelect
    )
    segment_every = forms.CharField(
        required=False, label="Every", help_text="Recurring: e.g. 1d or 7d (whole days keep local time)."
    )
    segment_at = forms.CharField(required=False, label="At", help_text="Recurring: time of day, e.g. 09:00.")
    # Entry controls, for every journey.
    exclude_segments = SegmentsField(
        queryset=Segment.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Never enter",
        help_text="Members of these segments never enter the journey.",
    )
    entry_starts_at = forms.CharField(
        required=False, label="Entries from", help_text="e.g. 2026-12-01T00:00:00+01:00; empty: from publishing."
    )
    entry_ends_at = forms.CharField(required=False, label="Entries until", help_text="Empty: no end.")
    entry_per_hour = forms.IntegerField(
        required=False,
        min_value=1,
        label="At most this many entries per hour",
        help_text="Over the limit people are held and enter later, in order.",
    )

    def __init__(
        self, *args: Any, chosen: list[str | None] | None = None, journey_type: str = JourneyType.TRIGGER, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.journey_type = journey_type
        cast(forms.ModelChoiceField, self.fields["segment"]).queryset = segments_with_counts()
        cast(forms.ModelMultipleChoiceField, self.fields["exclude_segments"]).queryset = segments_with_counts()
        if journey_type == JourneyType.SEGMENT:
            self.fields["start_trigger"].required = False
            self.fields["segment"].required = True
            self.fields["segment_mode"].required = True
        chosen = chosen or []
        cast(forms.ModelChoiceField, self.fields["start_trigger"]).queryset = ready_triggers(*chosen)
        goal_trigger = cast(forms.ModelChoiceField, self.fields["goal_trigger"])
        goal_trigger.queryset = ready_triggers(*chosen)
        goal_trigger.empty_label = "No goal"
        exit_triggers = cast(forms.ModelMultipleChoiceField, self.fields["exit_triggers"])
        exit_triggers.queryset = ready_triggers(*chosen).filter(builtin=False)
        cast(forms.ChoiceField, self.fields["time_zone"]).choices = [
            (z, z) for z in sorted(zoneinfo.available_timezones())
        ]

    def clean(self) -> dict:
        data = cast(dict[str, Any], super().clean())  # Form.clean returns cleaned_data
        if (
            data.get("goal_trigger")
            and data.get("goal_target_percent") is None
            and "goal_target_percent" not in self.errors
        ):
            self.add_error("goal_target_percent", "Set the share of people needed for the goal (0 to 100).")
        if data.get("goal_target_percent") is not None and not data.get("goal_trigger"):
            self.add_error("goal_trigger", "Choose the goal trigger the percentage is about.")
        for name in ("entry_starts_at", "entry_ends_at"):
            raw = (data.get(name) or "").strip()
            when = parse_datetime(raw) if raw else None
            if raw and (when is None or when.tzinfo is None):
                self.add_error(name, "Enter a date and time with its offset, e.g. 2026-12-24T09:00:00+01:00.")
            data[name] = when
        every = (data.get("segment_every") or "").strip()
        data["segment_every"] = None
        if every:
            try:
                data["segment_every"] = parse_wait(every)
            except DurationError as error:
                self.add_error("segment_every", str(error))
        if data.get("segment_mode") == SegmentMode.RECURRING and not every and "segment_every" not in self.errors:
            self.add_error("segment_every", "Say how often the members enter, e.g. 1d.")
        at = (data.get("segment_at") or "").strip()
        if at and not TIME_OF_DAY.match(at):
            self.add_error("segment_at", "Enter a time of day such as 09:00.")
        data["segment_at"] = at or None
        return data


# --- Steps ---------------------------------------------------------------------------------


class StepForm(forms.Form):
    """The fields of one kind of step, as its kind (journeys.steps) lays them out. `earlier`
    are the message steps before this place; `attributes` the start trigger's schema (for
    addresses and branch conditions); `time_zone` the journey's, in which a wait's "until"
    is typed."""

    # A formset of conditions on the schema of the trigger chosen in this form (a wait-for's).
    conditions: BaseConditionFormSet | None = None
    # Conditions left out when the form was redrawn for a trigger without their attribute.
    dropped_conditions: list[dict[str, str]]
    # Set by the step kinds' form_fields (journeys.steps): wait-for, branch and split.
    triggers: dict[str, Trigger]
    trigger_schemas: dict[str, dict[str, str]]
    condition_count: int
    path_count: int

    def __init__(
        self,
        *args: Any,
        kind: str,
        step: StepSpec | None,
        earlier: list[tuple[str, str, str]],
        attributes: dict[str, str],
        time_zone: str = "UTC",
        condition_rows: list[dict[str, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.kind, self.step, self.attributes = kind, step, attributes
        self.step_kind = kind_of(kind)
        self.time_zone = zoneinfo.ZoneInfo(time_zone)
        self.earlier = earlier  # (step id, label, channel) of the messages passed before here
        self.dropped_conditions = []
        self.condition_rows = condition_rows
        self.step_kind.form_fields(self, step)

    @classmethod
    def redrawn(cls, data: Any, **kwargs: Any) -> "StepForm":
        """The form as it was posted, unbound (so nothing is checked or saved yet), for the
        trigger chosen in it: how the page follows a change of trigger without scripts.
        Conditions on attributes the trigger does not have are left out (`dropped_conditions`)."""
        return cls(None, initial=dict(data.items()), condition_rows=posted_conditions(data), **kwargs)

    def is_valid(self) -> bool:
        valid = super().is_valid()
        if self.conditions is not None and self.step_kind.uses_conditions(self):
            valid = self.conditions.is_valid() and valid
        return valid

    @property
    def chosen_trigger(self) -> Trigger | None:
        """The trigger chosen in the form now: as posted, else as first shown."""
        if self.is_bound:
            key = self.data.get(self.add_prefix("trigger"))
        else:
            key = self.initial.get("trigger", self.fields["trigger"].initial)
        return self.triggers.get(str(key or ""))

    def add_conditions(self, step: StepSpec | None) -> None:
        """Conditions on the attributes of the trigger chosen in the `trigger` field."""
        trigger = self.chosen_trigger
        self.condition_schema = self.trigger_schemas.get(trigger.key, {}) if trigger else {}
        rows = self.condition_rows
        if rows is None:
            rows = condition_initial(step.conditions) if step and trigger and step.trigger == trigger.key else []
        else:
            self.dropped_conditions = [r for r in rows if r["attribute"] not in self.condition_schema]
            rows = [r for r in rows if r["attribute"] in self.condition_schema]
        self.conditions = cast(
            BaseConditionFormSet,
            ConditionFormSet(
                self.data if self.is_bound else None,
                initial=rows,
                prefix=CONDITIONS_PREFIX,
                form_kwargs={"schema": self.condition_schema, "trigger_name": trigger.name if trigger else ""},
                error_messages={"too_many_forms": f"A wait for a trigger takes at most {MAX_CONDITIONS} conditions."},
            ),
        )

    def branch_paths(self) -> list[dict]:
        """The path fields grouped for the template: path name, then condition rows."""
        return [
            {
                "number": n,
                "name": self[f"path_{n}_name"],
                "rows": [
                    (self[f"path_{n}_{m}_attribute"], self[f"path_{n}_{m}_operator"], self[f"path_{n}_{m}_value"])
                    for m in range(1, self.condition_count + 1)
                ],
            }
            for n in range(1, self.path_count + 1)
        ]

    def clean(self) -> dict:
        data = cast(dict[str, Any], super().clean())  # Form.clean returns cleaned_data
        self.step_kind.clean_form(self, data)
        return data

    def to_spec(self, step_id: str) -> StepSpec:
        spec = StepSpec(id=step_id, type=self.kind)
        self.step_kind.form_to_spec(self, spec)
        return spec

    def suggested_id(self) -> str:
        return self.step_kind.suggested_id(self)


# --- Test and import ------------------------------------------------------------------------


class SimulationForm(forms.Form):
    contact_id = forms.CharField(max_length=100, initial="sample-1", label="Contact id")
    email = forms.EmailField(required=False, initial="ada@example.com")
    phone = forms.CharField(required=False, initial="+15551234567")
    push_token = forms.CharField(required=False, initial="sample-push-token", label="Push token")
    first_name = forms.CharField(required=False, initial="Ada", label="First name")
    events = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5, "cols": 60, "class": "vLargeTextField"}),
        label="Events",
        help_text="One a line: an offset from the start, the trigger key, its attributes as JSON, e.g. "
        '0 abandoned_cart {"cart_total": 80} then 30h purchase_completed {}.',
    )

    def contact(self) -> dict[str, str]:
        data = self.cleaned_data
        contact = {"id": data["contact_id"]}
        for name in ("email", "phone", "push_token", "first_name"):
            if data.get(name):
                contact[name] = data[name]
        return contact


class ImportForm(forms.Form):
    file = forms.FileField(required=False, label="Bundle file (JSON)")
    text = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "class": "vLargeTextField"}),
        label="Or paste the bundle",
    )

    def clean(self) -> dict:
        data = cast(dict[str, Any], super().clean())  # Form.clean returns cleaned_data
        if not data.get("file") and not (data.get("text") or "").strip():
            raise ValidationError("Choose a bundle file or paste a bundle.")
        return data
