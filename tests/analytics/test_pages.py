"""The dashboard, the journey page and the CSV exports, through the test client: who may see
them, what they show (compared with the report and the tables), their filters and their
query counts."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from analytics.exports import BLOCK_REASONS
from analytics.figures import journey_report
from analytics.filters import AnalyticsFilter
from journeys.bundles import import_bundle
from journeys.models import Delivery, Participant

from .conftest import DAY_ONE


def figure(html: str, scope: str, name: str) -> str:
    """The text of the element with data-figure=`name` inside the element marked `scope`."""
    start = html.index(scope)
    match = re.search(rf'data-figure="{name}">([^<]*)<', html[start:])
    assert match, f"{name} not found after {scope}"
    return match.group(1).strip()


def report_for(journey, params: dict | None = None):
    from django.utils import timezone

    filters = AnalyticsFilter(params or {}, journey=journey)
    assert filters.is_valid(), filters.errors
    return journey_report(filters.cohort(), timezone.now())


# --- Who may look ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["analytics:dashboard", "analytics:journey", "analytics:steps-csv"])
def test_anonymous_visitors_are_sent_to_the_login(client, seed_journey, name):
    url = reverse(name, args=[] if name == "analytics:dashboard" else ["abandoned-cart"])
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")


@pytest.mark.parametrize("persona", ["outsider", "stranger"])
def test_people_without_a_role_are_refused(client, seed_journey, persona, request):
    client.force_login(request.getfixturevalue(persona))

    assert client.get(reverse("analytics:dashboard")).status_code == 403
    assert client.get(reverse("analytics:journey", args=["abandoned-cart"])).status_code == 403
    assert client.get(reverse("analytics:messages-csv", args=["abandoned-cart"])).status_code == 403


@pytest.mark.parametrize("persona", ["analyst", "marketer"])
def test_analysts_and_marketers_see_both_pages(client, seed_journey, persona, request):
    client.force_login(request.getfixturevalue(persona))

    assert client.get(reverse("analytics:dashboard")).status_code == 200
    assert client.get(reverse("analytics:journey", args=["abandoned-cart"])).status_code == 200


def test_the_admin_links_to_the_dashboard_for_the_roles_only(client, analyst, outsider):
    client.force_login(analyst)
    assert 'href="/analytics/" id="analytics-link"' in client.get("/admin/").content.decode()

    client.force_login(outsider)
    assert "analytics-link" not in client.get("/admin/").content.decode()


def test_an_unknown_journey_is_not_found(client, analyst, seed_journey):
    client.force_login(analyst)

    assert client.get(reverse("analytics:journey", args=["no-such-journey"])).status_code == 404


# --- What they show -------------------------------------------------------------------------


def test_the_dashboard_shows_each_journeys_figures_from_the_tables(client, analyst, scenario):
    client.force_login(analyst)
    html = client.get(reverse("analytics:dashboard")).content.decode()

    row = 'data-journey="abandoned-cart"'
    since = DAY_ONE + timedelta(days=3) - timedelta(days=7)
    cohort = Participant.objects.filter(journey=scenario, entered_at__gte=since)
    deliveries = Delivery.objects.filter(participant__in=cohort)
    sent = deliveries.filter(sent_at__isnull=False).count()
    assert figure(html, row, "entered") == str(cohort.count()) == "9"
    assert figure(html, row, "active") == str(cohort.filter(state="active").count()) == "3"
    assert figure(html, row, "goal_met") == str(cohort.filter(goal_met_at__isnull=False).count()) == "2"
    assert figure(html, row, "goal_percent") == "(22.2%)"
    assert figure(html, row, "sent") == str(sent)
    opened = deliveries.filter(opened_at__isnull=False).count()
    clicked = deliveries.filter(clicked_at__isnull=False).count()
    assert figure(html, row, "open_rate") == f"{round(100 * opened / sent, 1)}%"
    assert figure(html, row, "click_rate") == f"{round(100 * clicked / sent, 1)}%"
    assert 'class="progress"' in html and 'style="left: 50.0%"' in html  # the 50 % target marker


def test_the_dashboard_sums_the_figures_per_journey_type(client, analyst, scenario):
    client.force_login(analyst)
    html = client.get(reverse("analytics:dashboard")).content.decode()

    assert figure(html, 'data-journey="abandoned-cart"', "type") == "Trigger-based"
    assert figure(html, 'data-type="trigger"', "entered") == "9"
    assert figure(html, 'data-type="trigger"', "active") == "3"
    assert figure(html, 'data-type="segment"', "entered") == "0"


def test_the_dashboard_period_changes_who_is_counted(client, analyst, scenario):
    client.force_login(analyst)

    html = client.get(reverse("analytics:dashboard"), {"period": "30d"}).content.decode()

    assert figure(html, 'data-journey="abandoned-cart"', "entered") == "10"  # "old" too


def test_the_journey_page_shows_every_steps_figures(client, analyst, scenario):
    client.force_login(analyst)
    html = client.get(reverse("analytics:journey", args=["abandoned-cart"])).content.decode()
    report = report_for(scenario)

    for name in ("entered", "active", "completed", "exited", "goal_met"):
        assert figure(html, 'id="kpis"', name) == str(getattr(report, name)), name
    for step in report.steps:
        tile = f'data-step="{step.key}"'
        if step.in_shown_version:
            for name in ("inflow", "processing", "processed", "exited"):
                assert figure(html, f'id="step-{step.key}"', name) == str(getattr(step, name)), (step.key, name)
        row = html[html.index('id="steps-table"') :]
        for name in ("inflow", "processing", "processed", "exited", "completed"):
            assert figure(row, tile, name) == str(getattr(step, name)), (step.key, name)
    messages = html[html.index('id="messages-table"') :]
    email = report.steps[0].messages
    assert (figure(messages, 'data-step="initial-email"', "sent"), email.sent) == ("8", 8)
    assert figure(messages, 'data-step="initial-email"', "opened") == "2"
    assert figure(messages, 'data-step="initial-email"', "bounced") == "1"
    assert figure(messages, 'data-step="initial-email"', "blocked") == "1"
    assert "no_address: 1" in messages
    # The Yes/No counts and the branch of version 2 are drawn on the tree.
    assert re.search(r'data-path="opened:yes">Yes: <span data-figure="path">2<', html)
    assert re.search(r'data-path="opened:no">No: <span data-figure="path">5<', html)
    assert re.search(r'data-path="big-cart:0">Big cart: <span data-figure="path">1<', html)
    assert re.search(r'data-path="big-cart:otherwise">Otherwise: <span data-figure="path">2<', html)
    assert "exit trigger: 1" in html


def test_the_charts_are_inline_svg_with_tooltips_and_nothing_from_elsewhere(client, analyst, scenario):
    client.force_login(analyst)
    html = client.get(reverse("analytics:journey", args=["abandoned-cart"])).content.decode()

    assert html.count('<svg class="chart"') == 2
    # One bar per day of the 7-day period; the day of the first carts says what happened.
    assert "<title>2026-11-22 00:00: 8 entered, 2 of them met the goal</title>" in html
    assert "<title>Target: 50%</title>" in html
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="https?://', html)


def test_a_version_filter_counts_that_versions_participants_only(client, analyst, scenario):
    client.force_login(analyst)

    html = client.get(reverse("analytics:journey", args=["abandoned-cart"]), {"version": "2"}).content.decode()

    assert figure(html, 'id="kpis"', "entered") == "3"  # hal, ivy, jo
    assert 'id="step-big-cart"' in html
    assert '<option value="2" selected>' in html


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"period": "custom"}, "Give the first day of a custom period"),
        ({"period": "custom", "since": "2026-11-20", "until": "2026-11-01"}, "must not be before the first day"),
        ({"period": "custom", "since": "2024-01-01", "until": "2026-01-01"}, "at most 366 days"),
        ({"period": "1y"}, "Select a valid choice"),
        ({"version": "9"}, "Select a valid choice"),
    ],
)
def test_bad_filters_are_refused_with_the_reason(client, analyst, scenario, params, message):
    client.force_login(analyst)

    page = client.get(reverse("analytics:journey", args=["abandoned-cart"]), params)
    export = client.get(reverse("analytics:steps-csv", args=["abandoned-cart"]), params)

    assert page.status_code == export.status_code == 400
    assert message in page.content.decode() and message in export.content.decode()
    assert 'id="kpis"' not in page.content.decode()


# --- CSV ------------------------------------------------------------------------------------


def read_csv(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_the_steps_csv_has_the_pages_figures(client, analyst, scenario):
    client.force_login(analyst)
    response = client.get(reverse("analytics:steps-csv", args=["abandoned-cart"]), {"period": "7d"})
    rows = {row["step"]: row for row in read_csv(response)}
    report = report_for(scenario)

    assert 'filename="abandoned-cart-steps-' in response["Content-Disposition"]
    assert list(rows) == [step.key for step in report.steps]
    for step in report.steps:
        row = rows[step.key]
        assert [int(row[k]) for k in ("inflow", "processing", "processed", "exited", "completed")] == [
            step.inflow,
            step.processing,
            step.processed,
            step.exited,
            step.completed,
        ]
    assert (rows["opened"]["exit_trigger"], rows["opened"]["paths"]) == ("1", "Yes: 2; No: 5")


def test_the_messages_csv_has_every_block_reason_as_a_column(client, analyst, scenario):
    client.force_login(analyst)
    rows = read_csv(client.get(reverse("analytics:messages-csv", args=["abandoned-cart"])))
    email = next(row for row in rows if row["step"] == "initial-email")

    assert {f"blocked_{reason}" for reason in BLOCK_REASONS} <= set(email)
    assert (email["sent"], email["opened"], email["clicked"], email["bounced"]) == ("8", "2", "1", "1")
    assert (email["blocked"], email["blocked_no_address"], email["blocked_unsubscribed"]) == ("1", "1", "0")
    assert (email["open_rate"], email["click_rate"]) == ("25.0", "12.5")
    assert [row["step"] for row in rows] == ["initial-email", "big-cart-text", "second-text", "final-push"]


# --- Query counts ---------------------------------------------------------------------------


def longer_version(bundle: dict, extra: int) -> dict:
    """The seed journey with `extra` more waits and emails after the final push."""
    import copy

    bundle = copy.deepcopy(bundle)
    steps = bundle["journeys"][0]["steps"]
    no_path = next(s for s in steps if s["id"] == "opened")["no"]
    for i in range(extra):
        no_path.append({"id": f"extra-wait-{i}", "type": "wait", "duration": "1h"})
        no_path.append(
            {"id": f"extra-email-{i}", "type": "email", "content": "initial-email-reminder", "to": "contact.email"}
        )
    return bundle


def queries_for(client, url: str, params: dict | None = None) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, params or {}).status_code == 200
    return len(queries)


def test_the_number_of_queries_does_not_grow_with_steps_or_journeys(
    client, analyst, scenario, seed_bundle, raise_event
):
    from .conftest import contact

    client.force_login(analyst)
    page = reverse("analytics:journey", args=["abandoned-cart"])
    dashboard = reverse("analytics:dashboard")
    before = (queries_for(client, page), queries_for(client, page, {"version": "1"}), queries_for(client, dashboard))

    import_bundle(longer_version(seed_bundle, 10), publish_journeys=True)
    for i in range(3):
        raise_event("abandoned_cart", contact(f"new{i}"), {"cart_total": 99})
    bundle = longer_version(seed_bundle, 0)
    for i in range(5):  # five more journeys on the dashboard
        bundle["journeys"][0]["key"], bundle["journeys"][0]["name"] = f"copy-{i}", f"Copy {i}"
        import_bundle(bundle, publish_journeys=True)
    after = (queries_for(client, page), queries_for(client, page, {"version": "1"}), queries_for(client, dashboard))

    assert Participant.objects.filter(journey=scenario, version__number=3).count() == 3
    assert 'id="step-extra-email-9"' in client.get(page).content.decode()  # 20 more steps drawn
    assert after == before
    assert before[0] <= 16 and before[2] <= 12
