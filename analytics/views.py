"""The dashboard, the journey page and the CSV exports (login required; Marketer and Analyst).

Anonymous visitors are sent to the admin's login; signed-in people without the roles'
`journeys.view_journey` permission get 403.
"""

import csv
from collections.abc import Callable
from functools import wraps

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from journeys.models import Journey

from . import charts
from .exports import BLOCK_REASONS, csv_cell, message_rows, step_rows
from .figures import Cohort, JourneyReport, by_journey_type, dashboard_rows, journey_report
from .filters import AnalyticsFilter
from .sources import sources_for

PERMISSION = "journeys.view_journey"


def analytics_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Login for the anonymous, 403 for those without the analytics permission."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied("Analytics are for the Marketer and Analyst roles.")
        return view(request, *args, **kwargs)

    return wrapper


def _context(request: HttpRequest, **extra) -> dict:
    # The admin's own context (branding, theme toggle, nav) so the pages look like the admin.
    return {**admin.site.each_context(request), **extra}


@analytics_page
def dashboard(request: HttpRequest) -> HttpResponse:
    """Every journey: status, entered in the period, active now, goal, messages and rates."""
    filters = AnalyticsFilter(request.GET)
    rows = []
    since = until = sources = None
    if filters.is_valid():
        since, until = filters.bounds()
        sources = sources_for(since, until)
        rows = dashboard_rows(since, until, sources)
    status = 200 if filters.is_valid() else 400
    context = _context(
        request,
        title="Analytics",
        filters=filters,
        rows=rows,
        by_type=by_journey_type(rows),
        since=since,
        until=until,
        sources=sources,
        drawn_at=timezone.now(),
    )
    return render(request, "analytics/dashboard.html", context, status=status)


def _report(request: HttpRequest, key: str) -> tuple[Journey, AnalyticsFilter, JourneyReport | None]:
    journey = get_object_or_404(Journey, key=key)
    filters = AnalyticsFilter(request.GET, journey=journey)
    if not filters.is_valid():
        return journey, filters, None
    return journey, filters, journey_report(filters.cohort(), timezone.now())


@analytics_page
def journey_page(request: HttpRequest, key: str) -> HttpResponse:
    """One journey: its steps as a tree with their figures, the messages, the charts."""
    journey, filters, report = _report(request, key)
    context = _context(request, title=journey.name, journey=journey, filters=filters, report=report)
    if report is not None:
        context.update(
            entries_chart=_entries_chart(report),
            goal_chart=_goal_chart(report),
            block_reasons=BLOCK_REASONS,
            query=request.GET.urlencode(),
        )
    return render(request, "analytics/journey.html", context, status=200 if report is not None else 400)


def _entries_chart(report: JourneyReport):
    bucket = report.cohort.bucket
    bars = [
        charts.Bar(
            label=charts.tick_label(b.at, bucket),
            value=b.entered,
            overlay=b.goal_met,
            tooltip=f"{b.at:%Y-%m-%d %H:%M}: {b.entered} entered, {b.goal_met} of them met the goal",
        )
        for b in report.entries_over_time
    ]
    return charts.bar_chart(bars, f"Entries per {bucket}, and how many of them met the goal")


def _goal_chart(report: JourneyReport):
    bucket = report.cohort.bucket
    points = [
        (
            charts.tick_label(b.at, bucket),
            b.goal_percent,
            f"{b.at:%Y-%m-%d %H:%M}: {b.goal_met} of {b.entered} met the goal"
            + (f" ({b.goal_percent}%)" if b.goal_percent is not None else ""),
        )
        for b in report.entries_over_time
    ]
    return charts.percent_line_chart(
        points, report.goal_target_percent, f"Goal met, in percent of the entries of each {bucket}"
    )


def _csv(rows: list[list], filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerows([csv_cell(value) for value in row] for row in rows)
    return response


def _export(request: HttpRequest, key: str, rows: Callable[[JourneyReport], list[list]], name: str) -> HttpResponse:
    journey, filters, report = _report(request, key)
    if report is None:
        return HttpResponse(
            "\n".join(f"{field}: {' '.join(errors)}" for field, errors in filters.error_messages().items()),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    return _csv(rows(report), f"{journey.key}-{name}-{_stamp(report.cohort)}.csv")


def _stamp(cohort: Cohort) -> str:
    return f"{cohort.since:%Y%m%d%H%M}-{cohort.until:%Y%m%d%H%M}"


@analytics_page
def steps_csv(request: HttpRequest, key: str) -> HttpResponse:
    """The per-step table as CSV, for the same parameters as the page."""
    return _export(request, key, step_rows, "steps")


@analytics_page
def messages_csv(request: HttpRequest, key: str) -> HttpResponse:
    """The per-message table as CSV, for the same parameters as the page."""
    return _export(request, key, message_rows, "messages")
