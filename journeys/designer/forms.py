"""What the marketer types in the designer, checked and turned into spec pieces.

Every choice offered is a valid one (ready triggers, content of the step's channel,
earlier email steps, durations within the 90-day limit); what is typed is checked with the
journey format's own rules so the messages match the ones an import would give.
"""

import zoneinfo
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.utils.dateparse import parse_datetime

from content.models import Content
from triggers.models import Trigger, TriggerAttribute, TriggerStatus

from ..conditions import MAX_CONDITIONS, NO_VALUE, OPERATORS, condition_problems
from ..definition import CONTACT_ADDRESSES, TIME_OF_DAY, PathSpec, StepSpec
from ..durations import MAX_WAIT, DurationError, parse_wait
from ..models import JourneyType, RepeatPolicy, Segment, SegmentMode
from ..tracking import TRIGGERS as INTERACTION_TRIGGERS
from .canvas import KIND_LABELS, OPERATOR_WORDS

UNITS = [("m", "minutes"), ("h", "hours"), ("d", "days"), ("w", "weeks")]
UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
CONTACT_FIELDS = ["email", "phone", "push_token", "first_name", "last_name", "time_zone"]
BRANCH_PATHS = 3
BRANCH_CONDITIONS = 3  # per path; all must hold
# The channel whose messages an interaction trigger is about (email_opened -> email).
INTERACTION_CHANNELS = {trigger: channel for (_, channel), trigger in INTERACTION_TRIGGERS.items()}
SPLIT_PATHS = 4
# What a wait-for waits for.
WAIT_ON_TRIGGER, WAIT_ON_SEGMENT = "trigger", "segment"


def ready_triggers(*keep: str | None) -> Any:
    """Triggers that are Ready to use, plus the ones already chosen (so a choice that went
    back to Draft still shows, and publishing explains the problem)."""
    return Trigger.objects.filter(Q(status=TriggerStatus.READY) | Q(key__in=[k for k in keep if k])).order_by("name")


class TriggerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Trigger) -> str:
        return obj.name if obj.is_ready else f"{obj.name} (Draft)"


class TriggersField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Trigger) -> str:
        return obj.name if obj.is_ready else f"{obj.name} (Draft)"


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


class ContentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Content) -> str:
        return obj.name if obj.is_ready else f"{obj.name} (Draft)"


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
        self.fields["start_trigger"].queryset = ready_triggers()
        self.fields["start_trigger"].empty_label = "Choose a trigger"
        self.fields["segment"].queryset = segments_with_counts()
        self.fields["segment"].empty_label = "Choose a segment"

    def clean(self) -> dict:
        data = super().clean()
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


def operator_choices() -> list[tuple[str, str]]:
    return [(op, f"{op} ({OPERATOR_WORDS[op]})" if OPERATOR_WORDS[op] != op else op) for op in OPERATORS]


def parse_value(raw: str, type_: str, operator: str) -> Any:
    """The typed value of what was typed for a condition on an attribute of `type_`."""
    if operator in NO_VALUE:
        return None
    if operator in ("in", "not_in"):
        items = [item.strip() for item in raw.split(",") if item.strip()]
        if not items:
            raise ValidationError(f"List the values for “{operator}”, separated by commas.")
        return [parse_value(item, type_, "=") for item in items]
    raw = raw.strip()
    if type_ == "number":
        try:
            number = Decimal(raw)
        except ArithmeticError:
            number = None
        if number is None or not number.is_finite():
            raise ValidationError(f"“{raw}” is not a number; enter a number such as 50 or 49.90.")
        return int(number) if number == number.to_integral_value() else float(number)
    if type_ == "boolean":
        if raw.lower() not in ("true", "false"):
            raise ValidationError("Choose true or false.")
        return raw.lower() == "true"
    if type_ == "datetime":
        when = parse_datetime(raw) if raw else None
        if when is None or when.tzinfo is None:
            raise ValidationError("Enter a date and time with its offset, e.g. 2026-12-24T09:00:00+01:00.")
        return raw
    if not raw:
        raise ValidationError(f"Enter a value for “{operator}”.")
    return raw


def value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(value_text(v) for v in value)
    return "" if value is None else str(value)


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
        attribute = self.fields["attribute"]
        attribute.choices = [("", "Choose an attribute")] + [(p, p) for p in schema]
        # Django formats this message with %: a trigger named "50% off" must not break it.
        owner = (trigger_name or "the trigger").replace("%", "%%")
        attribute.error_messages["invalid_choice"] = (
            f"“%(value)s” is not an attribute of {owner}; choose one of its attributes."
        )
        self.fields["operator"].choices = operator_choices()

    def has_changed(self) -> bool:
        # Only what the marketer chose or typed counts: the operator select always sends "=".
        data = self.data
        return bool(data.get(self.add_prefix("attribute")) or (data.get(self.add_prefix("value")) or "").strip())

    @property
    def attribute_type(self) -> str:
        """The type of the attribute shown in this row ("" when none is chosen)."""
        return self.schema.get(str(self["attribute"].value() or ""), "")

    def clean(self) -> dict:
        data = super().clean()
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


def operator_types() -> dict[str, list[str]]:
    """Operator -> the attribute types it applies to (for the page's script)."""
    return {op: sorted(types) for op, types in OPERATORS.items()}


def trigger_schemas(triggers: Any, *, by: str = "key") -> dict[str, dict[str, str]]:
    """The attribute schema of each trigger (dotted paths for nested attributes), keyed by the
    trigger's `by` field as the trigger select sends it: one query."""
    schemas: dict[str, dict[str, str]] = {str(value): {} for value in triggers.values_list(by, flat=True)}
    rows = (
        TriggerAttribute.objects.filter(trigger__in=triggers)
        .order_by("position", "name")
        .values_list(f"trigger__{by}", "name", "type")
    )
    for owner, name, type_ in rows:
        schemas[str(owner)][name] = type_
    return schemas


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
        self, *args: Any, chosen: list[str] | None = None, journey_type: str = JourneyType.TRIGGER, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.journey_type = journey_type
        self.fields["segment"].queryset = segments_with_counts()
        self.fields["exclude_segments"].queryset = segments_with_counts()
        if journey_type == JourneyType.SEGMENT:
            self.fields["start_trigger"].required = False
            self.fields["segment"].required = True
            self.fields["segment_mode"].required = True
        chosen = chosen or []
        self.fields["start_trigger"].queryset = ready_triggers(*chosen)
        self.fields["goal_trigger"].queryset = ready_triggers(*chosen)
        self.fields["goal_trigger"].empty_label = "No goal"
        self.fields["exit_triggers"].queryset = ready_triggers(*chosen).filter(builtin=False)
        self.fields["time_zone"].choices = [(z, z) for z in sorted(zoneinfo.available_timezones())]

    def clean(self) -> dict:
        data = super().clean()
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


class DurationMixin:
    """A duration as amount + unit, within the 90-day limit."""

    def duration_fields(self, label: str, initial: timedelta | None, *, required: bool = True) -> None:
        amount, unit = "", "d"
        if initial:
            seconds = int(initial.total_seconds())
            for u in ("w", "d", "h", "m"):
                if seconds % UNIT_SECONDS[u] == 0:
                    amount, unit = str(seconds // UNIT_SECONDS[u]), u
                    break
        self.fields["amount"] = forms.IntegerField(
            min_value=1,
            max_value=MAX_WAIT.days * 24 * 60,
            label=label,
            initial=amount or None,
            required=required,
            help_text="At most 90 days.",
        )
        self.fields["unit"] = forms.ChoiceField(choices=UNITS, initial=unit, label="Unit", required=required)

    def clean_duration(self) -> timedelta | None:
        amount, unit = self.cleaned_data.get("amount"), self.cleaned_data.get("unit")
        if amount is None or unit is None:
            return None
        duration = timedelta(seconds=amount * UNIT_SECONDS[unit])
        if duration > MAX_WAIT:
            self.add_error("amount", f"{amount} {dict(UNITS)[unit]} is longer than the 90-day limit.")
            return None
        return duration


class StepForm(DurationMixin, forms.Form):
    """The fields of one kind of step. `earlier` are the message steps before this place;
    `attributes` the start trigger's schema (for addresses and branch conditions);
    `time_zone` the journey's, in which a wait's "until" is typed."""

    # The wait-for's conditions: a formset on the schema of the trigger chosen in this form.
    conditions: BaseConditionFormSet | None = None
    # Conditions left out when the form was redrawn for a trigger without their attribute.
    dropped_conditions: list[dict[str, str]]

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
        self.time_zone = zoneinfo.ZoneInfo(time_zone)
        self.earlier = earlier  # (step id, label, channel) of the messages passed before here
        self.dropped_conditions = []
        getattr(self, f"_fields_{kind}", self._fields_message)(step, earlier)
        if kind == "wait_for":
            self._conditions(step, condition_rows)

    @classmethod
    def redrawn(cls, data: Any, **kwargs: Any) -> "StepForm":
        """The form as it was posted, unbound (so nothing is checked or saved yet), for the
        trigger chosen in it: how the page follows a change of trigger without scripts.
        Conditions on attributes the trigger does not have are left out (`dropped_conditions`)."""
        return cls(None, initial=dict(data.items()), condition_rows=posted_conditions(data), **kwargs)

    def is_valid(self) -> bool:
        valid = super().is_valid()
        if self.conditions is not None and not self.waits_for_segment:
            valid = self.conditions.is_valid() and valid
        return valid

    @property
    def waits_for_segment(self) -> bool:
        """A wait-for chosen (as posted) to wait for joining a segment, not for a trigger."""
        if self.kind != "wait_for" or not self.is_bound:
            return False
        return self.data.get(self.add_prefix("wait_on")) == WAIT_ON_SEGMENT

    @property
    def chosen_trigger(self) -> Trigger | None:
        """The trigger chosen in the form now: as posted, else as first shown."""
        if self.is_bound:
            key = self.data.get(self.add_prefix("trigger"))
        else:
            key = self.initial.get("trigger", self.fields["trigger"].initial)
        return self.triggers.get(str(key or ""))

    # Fields by kind.
    def _fields_message(self, step: StepSpec | None, earlier: list) -> None:
        self.fields["content"] = ContentChoiceField(
            queryset=Content.objects.filter(channel=self.kind).order_by("name"),
            to_field_name="key",
            label={"email": "Email to send", "text": "Text message to send", "push": "Push notification to send"}[
                self.kind
            ],
            empty_label="Choose the message",
            initial=step.content if step else None,
            help_text="Build with Draft content; it must be Ready to send before the journey can go live.",
        )
        address = CONTACT_ADDRESSES[self.kind]
        choices = [(address, f"The contact's {address.split('.')[1].replace('_', ' ')} ({address})")]
        choices += [(f"trigger.{p}", f"Trigger attribute {p}") for p, t in self.attributes.items() if t == "text"]
        self.fields["to"] = forms.ChoiceField(
            choices=choices, label="Send to", initial=step.to if step and step.to else address
        )

    def _fields_wait(self, step: StepSpec | None, earlier: list) -> None:
        until = step.until.astimezone(self.time_zone) if step and step.until else None
        self.fields["mode"] = forms.ChoiceField(
            choices=[("duration", "For a time"), ("until", "Until a date and time")],
            widget=forms.RadioSelect,
            initial="until" if until else "duration",
            required=False,
            label="Wait",
        )
        self.duration_fields("Wait for", step.duration if step else None, required=False)
        self.fields["until"] = forms.DateTimeField(
            required=False,
            label="Until",
            initial=until.replace(tzinfo=None, second=0, microsecond=0) if until else None,
            input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
            widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            help_text=f"In the journey's time zone ({self.time_zone.key}). A date already passed continues at once.",
        )

    def _fields_wait_for(self, step: StepSpec | None, earlier: list) -> None:
        queryset = ready_triggers(step.trigger if step else None)
        self.triggers = {t.key: t for t in queryset}
        self.trigger_schemas = trigger_schemas(queryset)
        self.fields["wait_on"] = forms.ChoiceField(
            choices=[(WAIT_ON_TRIGGER, "A trigger (an event)"), (WAIT_ON_SEGMENT, "Joining a segment")],
            widget=forms.RadioSelect,
            initial=WAIT_ON_SEGMENT if step and step.segment else WAIT_ON_TRIGGER,
            label="Wait for",
            required=False,  # a trigger unless a segment is chosen
        )
        self.fields["trigger"] = TriggerChoiceField(
            queryset=queryset,
            to_field_name="key",
            label="Wait for the trigger",
            empty_label="Choose a trigger",
            initial=step.trigger if step else None,
            required=False,
        )
        self.fields["segment"] = SegmentChoiceField(
            queryset=segments_with_counts(),
            to_field_name="key",
            label="Wait to join the segment",
            empty_label="Choose a segment",
            initial=step.segment if step else None,
            required=False,
            help_text="Yes when the contact joins the segment while waiting, No when the time limit passes first.",
        )
        self.fields["of_step"] = forms.ChoiceField(
            choices=[("", "Any (not about an earlier message)"), *[(i, label) for i, label, _ in earlier]],
            required=False,
            label="Of the earlier message",
            help_text="For interactions such as Email opened: which message to watch (one sent earlier on this path).",
            initial=step.of_step if step else "",
        )
        self.duration_fields("Time limit", step.duration if step else timedelta(days=1))

    def _conditions(self, step: StepSpec | None, rows: list[dict[str, str]] | None) -> None:
        trigger = self.chosen_trigger
        self.condition_schema = self.trigger_schemas.get(trigger.key, {}) if trigger else {}
        if rows is None:
            rows = condition_initial(step.conditions) if step and trigger and step.trigger == trigger.key else []
        else:
            self.dropped_conditions = [r for r in rows if r["attribute"] not in self.condition_schema]
            rows = [r for r in rows if r["attribute"] in self.condition_schema]
        self.conditions = ConditionFormSet(
            self.data if self.is_bound else None,
            initial=rows,
            prefix=CONDITIONS_PREFIX,
            form_kwargs={"schema": self.condition_schema, "trigger_name": trigger.name if trigger else ""},
            error_messages={"too_many_forms": f"A wait for a trigger takes at most {MAX_CONDITIONS} conditions."},
        )

    def _branch_attributes(self) -> list[tuple[str, str]]:
        return [(f"trigger.{p}", f"trigger.{p}") for p in self.attributes] + [
            (f"contact.{f}", f"contact.{f}") for f in CONTACT_FIELDS
        ]

    def _fields_branch(self, step: StepSpec | None, earlier: list) -> None:
        paths = step.paths if step else []
        # Room for every path and condition an imported branch has, so editing loses none.
        self.path_count = max(BRANCH_PATHS, len(paths))
        self.condition_count = max([BRANCH_CONDITIONS, *(len(p.conditions) for p in paths)])
        for n in range(1, self.path_count + 1):
            path = paths[n - 1] if n - 1 < len(paths) else None
            self.fields[f"path_{n}_name"] = forms.CharField(
                required=False, max_length=60, label=f"Path {n} name", initial=path.name if path else ""
            )
            conditions = path.conditions if path else []
            for m in range(1, self.condition_count + 1):
                condition = conditions[m - 1] if m - 1 < len(conditions) else {}
                prefix, label = f"path_{n}_{m}", f"Path {n}, condition {m}"
                self.fields[f"{prefix}_attribute"] = forms.ChoiceField(
                    choices=[("", "Choose an attribute"), *self._branch_attributes()],
                    required=False,
                    label=f"{label}: attribute",
                    initial=condition.get("attribute", ""),
                )
                self.fields[f"{prefix}_operator"] = forms.ChoiceField(
                    choices=operator_choices(),
                    required=False,
                    label=f"{label}: operator",
                    initial=condition.get("operator"),
                )
                self.fields[f"{prefix}_value"] = forms.CharField(
                    required=False, label=f"{label}: value", initial=value_text(condition.get("value"))
                )

    def branch_paths(self) -> list[dict]:
        """The branch form's fields grouped for the template: path name, then condition rows."""
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

    def _fields_split(self, step: StepSpec | None, earlier: list) -> None:
        paths = step.paths if step else []
        defaults = [50, 50, None, None]
        self.path_count = max(SPLIT_PATHS, len(paths))
        for n in range(1, self.path_count + 1):
            path = paths[n - 1] if n - 1 < len(paths) else None
            self.fields[f"path_{n}_name"] = forms.CharField(
                required=False,
                max_length=60,
                label=f"Path {n} name",
                initial=path.name if path else ("A", "B", "", "")[n - 1] if not paths else "",
            )
            self.fields[f"path_{n}_percent"] = forms.IntegerField(
                required=False,
                min_value=1,
                max_value=100,
                label=f"Path {n} share (%)",
                initial=path.percent if path else (defaults[n - 1] if not paths and n <= len(defaults) else None),
            )

    def clean(self) -> dict:
        data = super().clean()
        if self.kind == "wait" and data.get("mode") == "until":
            data["duration"] = None
            if data.get("until") is None and "until" not in self.errors:
                self.add_error("until", "Enter the date and time to wait until.")
            elif data.get("until") is not None:
                data["until"] = data["until"].replace(tzinfo=self.time_zone)
        elif self.kind in ("wait", "wait_for"):
            data["duration"] = self.clean_duration()
            if data["duration"] is None and "amount" not in self.errors:
                self.add_error("amount", "Enter how long, e.g. 1 day.")
        if self.kind == "wait_for":
            self._clean_wait_for(data)
        if self.kind == "branch":
            data["paths"] = self._clean_branch(data)
        if self.kind == "split":
            data["paths"] = self._clean_split(data)
        return data

    def _clean_wait_for(self, data: dict) -> None:
        """A trigger (with its message and conditions) or a segment, whichever is chosen."""
        if data.get("wait_on") == WAIT_ON_SEGMENT:
            data["trigger"], data["of_step"] = None, ""
            if data.get("segment") is None and "segment" not in self.errors:
                self.add_error("segment", "Choose the segment to wait for the contact to join.")
            return
        data["segment"] = None
        if data.get("trigger") is None and "trigger" not in self.errors:
            self.add_error("trigger", "Choose the trigger to wait for.")
            return
        self._clean_of_step(data)

    def _clean_of_step(self, data: dict) -> None:
        trigger, of_step = data.get("trigger"), data.get("of_step")
        if not of_step or trigger is None:
            return
        channel = INTERACTION_CHANNELS.get(trigger.key)
        if channel is None:
            self.add_error("of_step", f"{trigger.name} is not about a message; choose Any.")
            return
        channels = {step_id: step_channel for step_id, _, step_channel in self.earlier}
        if channels.get(of_step) != channel:
            self.add_error("of_step", f"{trigger.name} is about a {KIND_LABELS[channel].lower()}; choose one of those.")

    def _clean_branch(self, data: dict) -> list[PathSpec]:
        paths = []
        types = {f"trigger.{p}": t for p, t in self.attributes.items()}
        for n in range(1, self.path_count + 1):
            conditions = []
            for m in range(1, self.condition_count + 1):
                prefix = f"path_{n}_{m}"
                attribute = data.get(f"{prefix}_attribute")
                if not attribute:
                    continue
                operator = data.get(f"{prefix}_operator") or "="
                # Contact fields are text; trigger attributes have the start trigger's types.
                type_ = types.get(attribute, "text")
                if type_ not in OPERATORS[operator]:
                    self.add_error(
                        f"{prefix}_operator", f"“{operator}” does not apply to {type_} attribute {attribute}."
                    )
                    continue
                try:
                    value = parse_value(data.get(f"{prefix}_value") or "", type_, operator)
                except ValidationError as error:
                    self.add_error(f"{prefix}_value", error)
                    continue
                condition = {"attribute": attribute, "operator": operator}
                if operator not in NO_VALUE:
                    condition["value"] = value
                conditions.append(condition)
            if conditions:
                name = data.get(f"path_{n}_name") or f"Path {n}"
                paths.append(PathSpec(name=name, steps=[], conditions=conditions))
            elif data.get(f"path_{n}_name"):
                self.add_error(f"path_{n}_1_attribute", f"Give path {n} a condition, or leave its name empty.")
        if not paths and not self.errors:
            self.add_error("path_1_1_attribute", "A branch needs at least one path with a condition.")
        return paths

    def _clean_split(self, data: dict) -> list[PathSpec]:
        paths = []
        for n in range(1, self.path_count + 1):
            percent = data.get(f"path_{n}_percent")
            if percent is None:
                continue
            paths.append(PathSpec(name=data.get(f"path_{n}_name") or f"Path {n}", steps=[], percent=percent))
        if len(paths) < 2:
            self.add_error("path_1_percent", "A split needs at least two paths with a share.")
        elif sum(p.percent or 0 for p in paths) != 100:
            self.add_error(
                None, f"The shares add up to {sum(p.percent or 0 for p in paths)} %; they must add up to 100 %."
            )
        return paths

    def to_spec(self, step_id: str) -> StepSpec:
        data = self.cleaned_data
        spec = StepSpec(id=step_id, type=self.kind)
        if self.kind in ("email", "text", "push"):
            spec.content, spec.to = data["content"].key, data["to"]
        elif self.kind == "wait":
            spec.duration = data["duration"]
            spec.until = data.get("until") if data.get("mode") == "until" else None
        elif self.kind == "wait_for" and data.get("segment") is not None:
            spec.segment = data["segment"].key
            spec.duration = data["duration"]
        elif self.kind == "wait_for":
            spec.trigger = data["trigger"].key
            spec.of_step = data.get("of_step") or None
            spec.duration = data["duration"]
            spec.conditions = self.conditions.conditions() if self.conditions is not None else []
        elif self.kind in ("branch", "split"):
            spec.paths = data["paths"]
        return spec

    def suggested_id(self) -> str:
        data = self.cleaned_data
        if self.kind in ("email", "text", "push"):
            return data["content"].name
        if self.kind == "wait_for" and data.get("segment") is not None:
            return f"wait to join {data['segment'].name}"
        if self.kind == "wait_for":
            return f"wait for {data['trigger'].name}"
        if self.kind == "wait":
            return "wait"
        return KIND_LABELS[self.kind]


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
        data = super().clean()
        if not data.get("file") and not (data.get("text") or "").strip():
            raise ValidationError("Choose a bundle file or paste a bundle.")
        return data
