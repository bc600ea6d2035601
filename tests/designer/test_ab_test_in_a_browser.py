"""A marketer builds and edits an A/B test in a real browser (Debian's chromium): the form's
variants and winner settings, a step on a variant's lane, and an edit that keeps it."""

import pytest

from journeys.bundles import export_bundle
from journeys.models import Journey

from .seed import seed_journey

pytestmark = pytest.mark.browser


@pytest.fixture
def draft_journey(transactional_db) -> Journey:
    from .seed import restore_migration_rows

    restore_migration_rows()
    seed_journey()
    return Journey.objects.get(key="abandoned-cart")


def save_step(page) -> None:
    page.get_by_role("button", name="Save step").click()
    page.wait_for_selector("#steps")


def test_a_marketer_builds_and_edits_an_ab_test(draft_journey, marketer, page, login, live_server):
    login(page, marketer)
    page.goto(f"{live_server.url}/admin/journeys/journey/{draft_journey.pk}/change/")

    page.get_by_role("link", name="Add a step after the start").click()
    page.locator(".jd-kinds").get_by_role("link", name="A/B test").first.click()
    page.wait_for_selector("form .jd-step-form")
    assert page.input_value("#id_path_1_name") == "A" and page.input_value("#id_path_2_percent") == "50"
    page.fill("#id_path_1_name", "Short subject")
    page.fill("#id_path_1_percent", "70")
    page.fill("#id_path_2_name", "Long subject")
    page.fill("#id_path_2_percent", "30")
    page.select_option("#id_winner_metric", "goal")
    page.fill("#id_winner_decide_after", "2d")
    page.fill("#id_winner_min_per_variant", "200")
    page.screenshot(path=page.artifacts / "form.png", full_page=True)
    save_step(page)

    canvas = page.locator("#steps")
    summary = "A/B test: Short subject 70 %, Long subject 30 %; best goal wins after 2 days (at least 200 each)"
    assert canvas.locator(".jd-summary").get_by_text(summary, exact=True).is_visible()
    assert canvas.get_by_role("region", name="Long subject").is_visible()

    # A wait on the second variant's lane.
    page.locator(".jd-path-1 .jd-plus").first.click()
    page.locator(".jd-kinds").get_by_role("link", name="Wait").first.click()
    page.wait_for_selector("form .jd-step-form")
    page.fill("#id_amount", "1")
    page.select_option("#id_unit", "h")
    save_step(page)
    assert page.locator(".jd-path-1 .jd-summary").get_by_text("Wait 1 hour", exact=True).is_visible()

    # Editing the test: a new name and shares; the lane keeps its wait.
    test_id = export_bundle(["abandoned-cart"])["journeys"][0]["steps"][0]["id"]
    page.locator(f"#step-{test_id} .jd-tile-actions a").first.click()
    page.wait_for_selector("form .jd-step-form")
    assert page.input_value("#id_path_1_percent") == "70"
    page.fill("#id_path_2_name", "Longer subject")
    page.fill("#id_path_1_percent", "50")
    page.fill("#id_path_2_percent", "50")
    save_step(page)
    assert page.locator(".jd-path-1 .jd-summary").get_by_text("Wait 1 hour", exact=True).is_visible()
    assert canvas.get_by_role("region", name="Longer subject").is_visible()
    page.screenshot(path=page.artifacts / "canvas.png", full_page=True)

    step = export_bundle(["abandoned-cart"])["journeys"][0]["steps"][0]
    assert [(v["name"], v["percent"], [s["type"] for s in v["steps"]]) for v in step["variants"]] == [
        ("Short subject", 50, []),
        ("Longer subject", 50, ["wait"]),
    ]
    assert step["winner"] == {"metric": "goal", "decide_after": "2d", "min_per_variant": 200}
