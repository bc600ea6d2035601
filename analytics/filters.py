"""The query parameters of the analytics pages and API, as a django-filter FilterSet.

    ?period=24h|7d|30d|custom   (default 7d; a preset period ends now)
    &since=YYYY-MM-DD&until=YYYY-MM-DD   (custom: whole days, `until` included; until
                                          defaults to today)
    &version=N                  (journey page and API: one version's participants)

The FilterSet filters participants by entry time and version: its `qs` is the cohort that
analytics.figures counts (see the definitions there).
"""

from datetime import datetime, time, timedelta

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from journeys.models import Journey, JourneyVersion, Participant
from triggers.validation import EARLIEST_YEAR, LATEST_YEAR

from .figures import Cohort

PRESETS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
PERIOD_CHOICES = [("24h", "Last 24 hours"), ("7d", "Last 7 days"), ("30d", "Last 30 days"), ("custom", "Custom")]
DEFAULT_PERIOD = "7d"
# A custom period longer than this is refused: the charts and queries are sized for it.
LONGEST_CUSTOM_PERIOD = timedelta(days=366)


class PeriodForm(forms.Form):
    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("period") != "custom":
            return data
        for name in ("since", "until"):
            day = data.get(name)
            if day is not None and not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
                # Beyond these a day's bounds overflow Python's dates (9999-12-31 + 1 day).
                self.add_error(name, f"Give a day between the years {EARLIEST_YEAR} and {LATEST_YEAR}.")
        since, until = data.get("since"), data.get("until")
        if since is None and "since" not in self.errors:
            self.add_error("since", "Give the first day of a custom period (YYYY-MM-DD).")
        if since is not None and until is not None:
            if until < since:
                self.add_error("until", "The last day must not be before the first day.")
            elif until - since > LONGEST_CUSTOM_PERIOD:
                self.add_error("until", f"A custom period is at most {LONGEST_CUSTOM_PERIOD.days} days.")
        return data


def day_start(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def period_bounds(data: dict, now: datetime) -> tuple[datetime, datetime]:
    """[since, until) of validated parameters."""
    period = data.get("period") or DEFAULT_PERIOD
    if period != "custom":
        return now - PRESETS[period], now
    until_day = data.get("until") or timezone.localdate(now)
    return day_start(data["since"]), day_start(until_day + timedelta(days=1))


class AnalyticsFilter(django_filters.FilterSet):
    """Validates the parameters; `qs` is the cohort of participants they select."""

    period = django_filters.ChoiceFilter(
        choices=PERIOD_CHOICES, method="filter_period", empty_label=None, label="Period"
    )
    since = django_filters.DateFilter(method="keep", label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = django_filters.DateFilter(method="keep", label="To", widget=forms.DateInput(attrs={"type": "date"}))
    version = django_filters.ModelChoiceFilter(
        queryset=JourneyVersion.objects.none(), to_field_name="number", empty_label="All versions", label="Version"
    )

    class Meta:
        model = Participant
        fields = ["period", "since", "until", "version"]
        form = PeriodForm

    def __init__(self, data=None, *, journey: Journey | None = None, now: datetime | None = None, **kwargs):
        data = data.copy() if data is not None else {}
        if not data.get("period"):
            data["period"] = DEFAULT_PERIOD
        self.journey = journey
        self.now = now or timezone.now()
        queryset = Participant.objects.filter(journey=journey) if journey is not None else Participant.objects.all()
        super().__init__(data, queryset=queryset, **kwargs)
        if journey is not None:
            self.filters["version"].queryset = journey.versions.order_by("-number")
        else:
            del self.filters["version"]

    def filter_period(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        since, until = self.bounds()
        return queryset.filter(entered_at__gte=since, entered_at__lt=until)

    def keep(self, queryset: QuerySet, name: str, value) -> QuerySet:
        return queryset  # since/until are read by filter_period

    def bounds(self) -> tuple[datetime, datetime]:
        return period_bounds(self.form.cleaned_data, self.now)

    def cohort(self) -> Cohort:
        """The validated parameters as the cohort analytics.figures counts (call is_valid first)."""
        assert self.journey is not None
        since, until = self.bounds()
        return Cohort(journey=self.journey, since=since, until=until, version=self.form.cleaned_data.get("version"))

    def error_messages(self) -> dict[str, list[str]]:
        return {name: [str(e) for e in errors] for name, errors in self.errors.items()}
