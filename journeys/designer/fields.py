"""Form fields and helpers the designer's forms and the step kinds' form fields share."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.dateparse import parse_datetime

from content.models import Content
from triggers.models import Trigger, TriggerAttribute, TriggerStatus

from ..conditions import NO_VALUE, OPERATORS
from ..durations import MAX_WAIT
from .canvas import OPERATOR_WORDS

UNITS = [("m", "minutes"), ("h", "hours"), ("d", "days"), ("w", "weeks")]
UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}


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


class ContentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Content) -> str:
        return obj.name if obj.is_ready else f"{obj.name} (Draft)"


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


def operator_types() -> dict[str, list[str]]:
    """Operator -> the attribute types it applies to (for the page's script)."""
    return {op: sorted(types) for op, types in OPERATORS.items()}


def duration_fields(form: forms.Form, label: str, initial: timedelta | None, *, required: bool = True) -> None:
    """A duration as amount + unit fields, within the 90-day limit (read with clean_duration)."""
    amount, unit = "", "d"
    if initial:
        seconds = int(initial.total_seconds())
        for u in ("w", "d", "h", "m"):
            if seconds % UNIT_SECONDS[u] == 0:
                amount, unit = str(seconds // UNIT_SECONDS[u]), u
                break
    form.fields["amount"] = forms.IntegerField(
        min_value=1,
        max_value=MAX_WAIT.days * 24 * 60,
        label=label,
        initial=amount or None,
        required=required,
        help_text="At most 90 days.",
    )
    form.fields["unit"] = forms.ChoiceField(choices=UNITS, initial=unit, label="Unit", required=required)


def clean_duration(form: forms.Form) -> timedelta | None:
    amount, unit = form.cleaned_data.get("amount"), form.cleaned_data.get("unit")
    if amount is None or unit is None:
        return None
    duration = timedelta(seconds=amount * UNIT_SECONDS[unit])
    if duration > MAX_WAIT:
        form.add_error("amount", f"{amount} {dict(UNITS)[unit]} is longer than the 90-day limit.")
        return None
    return duration
