"""An analyst in a real browser (Debian's chromium): after the seed scenario ran for a few
contacts, the dashboard and the seed journey's page show what the tables hold, in light
and in dark mode. Screenshots go to test-artifacts/<test name>/."""

from datetime import timedelta
from importlib import import_module

import pytest
from django.apps import apps as django_apps

from journeys.models import Delivery, Participant

from .conftest import DAY_ONE

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def migrated_rows(transactional_db):
    """Transactional tests start from empty tables: put back the rows migrations add."""
    import_module("triggers.migrations.0002_builtin_triggers").create_builtin_triggers(django_apps, None)
    import_module("journeys.migrations.0002_marketer_and_analyst_roles").create_roles(django_apps, None)


def shown(page, selector: str) -> str:
    return page.locator(selector).first.inner_text().strip()


def test_an_analyst_reads_the_seed_journeys_figures(scenario, analyst, page, login, live_server):
    since = DAY_ONE + timedelta(days=3) - timedelta(days=7)  # the default period: 7 days to now
    cohort = Participant.objects.filter(journey=scenario, entered_at__gte=since)
    deliveries = Delivery.objects.filter(participant__in=cohort)
    login(page, analyst)

    page.get_by_role("link", name="Analytics").click()
    page.wait_for_url(f"{live_server.url}/analytics/")
    row = 'tr[data-journey="abandoned-cart"]'
    assert shown(page, f"{row} [data-figure=entered]") == str(cohort.count()) == "9"
    assert shown(page, f"{row} [data-figure=active]") == str(cohort.filter(state="active").count())
    assert shown(page, f"{row} [data-figure=goal_met]") == str(cohort.filter(goal_met_at__isnull=False).count())
    assert shown(page, f"{row} [data-figure=sent]") == str(deliveries.filter(sent_at__isnull=False).count())
    assert page.locator(f"{row} .progress .target").count() == 1
    page.screenshot(path=page.artifacts / "dashboard.png", full_page=True)

    page.get_by_role("link", name="Abandoned cart reminders").click()
    page.wait_for_url(f"{live_server.url}/analytics/journeys/abandoned-cart/")
    for state, figure in (("completed", "completed"), ("active", "active")):
        assert shown(page, f"#kpis [data-figure={figure}]") == str(cohort.filter(state=state).count())
    assert shown(page, "#kpis [data-figure=exited]") == str(cohort.filter(state__in=["exited", "stopped"]).count())
    for key in ("initial-email", "opened", "second-text", "wait-a-day", "final-push", "big-cart"):
        here = cohort.filter(current_step__key=key)
        tile = f"#step-{key}"
        assert shown(page, f"{tile} [data-figure=processing]") == str(here.filter(state="active").count()), key
        assert shown(page, f"{tile} [data-figure=exited]") == str(here.filter(state="exited").count()), key
    email = deliveries.filter(step__key="initial-email")
    assert shown(page, "#step-initial-email [data-figure=sent]") == str(email.filter(sent_at__isnull=False).count())
    assert shown(page, "#step-initial-email [data-figure=opened]") == str(email.filter(opened_at__isnull=False).count())
    assert shown(page, "#step-initial-email [data-figure=blocked]") == str(email.filter(status="blocked").count())
    assert shown(page, '[data-path="opened:no"] [data-figure=path]') == "5"
    # Tooltips are the SVG's own <title> elements, one per bar and point.
    bars = page.locator("svg.chart").first.locator("g > title")
    assert bars.count() == 8  # one per day of the period
    assert "8 entered, 2 of them met the goal" in bars.nth(4).text_content()
    page.locator("svg.chart").first.locator("g").nth(4).hover()
    page.screenshot(path=page.artifacts / "journey-light.png", full_page=True)

    page.emulate_media(color_scheme="dark")
    page.reload()
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    text = page.evaluate("getComputedStyle(document.querySelector('#kpis .value')).color")
    assert brightness(background) < 80 and brightness(text) > 170, (background, text)
    page.screenshot(path=page.artifacts / "journey-dark.png", full_page=True)

    with page.expect_download() as download:
        page.get_by_role("link", name="messages (CSV)").click()
    lines = download.value.path().read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("step,channel,content,sent,delivered,opened,clicked")
    assert lines[1].startswith("initial-email,email,Initial email reminder,8,0,2,1,")


def brightness(css_colour: str) -> float:
    """Mean of the red, green and blue of an rgb()/rgba() colour, 0 to 255."""
    r, g, b = (float(part) for part in css_colour[css_colour.index("(") + 1 : -1].split(",")[:3])
    return (r + g + b) / 3
