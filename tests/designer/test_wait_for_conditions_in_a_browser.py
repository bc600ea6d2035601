"""In a real browser: a marketer opens a new draft of the live seed journey, gives its wait
for a trigger conditions with the picker (it follows the trigger chosen, offers operators by
type, adds rows by keyboard, saves with Enter), checks the form at 800 px in dark mode, then
discards the draft. Without scripts, the same form is redrawn for another trigger."""

import re

import pytest

from journeys.bundles import version_to_spec
from journeys.models import Journey, VersionState

from ..conftest import ARTIFACTS
from .seed import restore_migration_rows, seed_journey

pytestmark = pytest.mark.browser

# Every visible control of the form has a name a screen reader reads out.
UNLABELLED = """() => Array.from(document.querySelectorAll(
    '#content-main form select, #content-main form input, #content-main form textarea, #content-main form button'))
  .filter(el => el.type !== 'hidden' && el.getAttribute('aria-hidden') !== 'true' && el.offsetParent !== null)
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
    && !el.getAttribute('aria-labelledby') && !((el.tagName === 'BUTTON' || el.type === 'submit')
    && (el.textContent.trim() || el.value)))
  .map(el => el.name || el.id)"""
# Controls that stick out of the form's right edge (cut off in a narrow window).
OVERFLOWING = """() => { const edge = document.querySelector('#content-main form').getBoundingClientRect().right;
  return Array.from(document.querySelectorAll('#content-main form select, #content-main form input'))
    .filter(el => el.type !== 'hidden' && el.offsetParent !== null && el.getBoundingClientRect().right > edge + 1)
    .map(el => el.name); }"""


@pytest.fixture
def live_seed(transactional_db) -> Journey:
    restore_migration_rows()
    seed_journey(publish=True)
    return Journey.objects.get(key="abandoned-cart")


def open_wait_for(page) -> None:
    page.locator("#step-opened").get_by_role("link", name=re.compile("^Edit")).click()
    page.wait_for_selector("form .jd-step-form")


def operator_offered(page, row: int) -> list[str]:
    return page.eval_on_selector_all(
        f"#id_conditions-{row}-operator option", "options => options.filter(o => !o.disabled).map(o => o.value)"
    )


def test_a_marketer_gives_a_wait_conditions_then_discards_the_draft(live_seed, marketer, page, login, live_server):
    login(page, marketer)
    page.goto(f"{live_server.url}/admin/journeys/journey/{live_seed.pk}/change/")
    page.get_by_role("button", name="Edit").click()
    page.wait_for_selector(".messagelist .success")
    open_wait_for(page)

    # The script replaces the redraw button: the picker follows the trigger at once.
    assert page.locator("button[name=redraw]").count() == 0
    attribute = page.get_by_label("Condition 1: attribute")
    assert attribute.locator("option").all_inner_texts() == [
        "Choose an attribute",
        "delivery_id (text)",
        "journey (text)",
        "step (text)",
        "content (text)",
    ]
    page.get_by_label("Wait for the trigger").select_option(label="Email clicked")
    assert "url (text)" in attribute.locator("option").all_inner_texts()
    attribute.select_option("url")
    # Operators by type: text takes contains and starts with, not > or before.
    offered = operator_offered(page, 0)
    assert {"=", "contains", "starts_with", "in", "exists"} <= set(offered)
    assert not {">", "<=", "before"} & set(offered)
    page.get_by_label("Condition 1: operator").select_option("contains")
    page.get_by_label("Condition 1: value").fill("/checkout")

    # A second condition by keyboard: the button adds a row and moves focus into it.
    page.locator("#add-condition").focus()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "id_conditions-1-attribute"
    page.get_by_label("Condition 2: attribute").select_option("delivery_id")
    page.get_by_label("Condition 2: operator").select_option("exists")
    assert page.get_by_label("Condition 2: value").is_disabled()
    assert page.evaluate(UNLABELLED) == []
    page.screenshot(path=page.artifacts / "wait-for-conditions.png", full_page=True)

    # Enter in a field saves the step.
    page.get_by_label("Condition 1: value").press("Enter")
    page.wait_for_selector("#steps")
    summary = "Wait for Email clicked of Initial email where url contains /checkout and delivery_id exists, up to 1 day"
    assert page.locator("#step-opened .jd-summary").inner_text() == summary
    draft = live_seed.versions.get(state=VersionState.DRAFT)
    assert version_to_spec(draft).steps[1].conditions == [
        {"attribute": "url", "operator": "contains", "value": "/checkout"},
        {"attribute": "delivery_id", "operator": "exists"},
    ]

    # 800 px wide, dark mode: the form fits and follows the admin's dark colours.
    page.set_viewport_size({"width": 800, "height": 900})
    page.emulate_media(color_scheme="dark")
    open_wait_for(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 800
    assert page.evaluate(OVERFLOWING) == []
    assert page.get_by_label("Condition 2: value").is_visible()
    body = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert body == "rgb(18, 18, 18)", body
    assert page.evaluate(UNLABELLED) == []
    page.screenshot(path=page.artifacts / "wait-for-conditions-800-dark.png", full_page=True)

    # Discard the draft: confirm, and the live version is shown again.
    page.get_by_role("link", name="Back to the canvas").click()
    page.get_by_role("link", name="Discard draft…").click()
    assert "Version 1 (published) stays as it is and keeps running" in page.locator("#content-main").inner_text()
    page.screenshot(path=page.artifacts / "discard-confirm.png", full_page=True)
    page.get_by_role("button", name="Yes, discard the draft").click()
    message = page.wait_for_selector(".messagelist .success").inner_text()
    assert message == "Version 2 (draft) is discarded; the canvas shows version 1 (published)."
    assert (
        page.locator("#step-opened .jd-summary").inner_text() == "Wait for Email opened of Initial email, up to 1 day"
    )
    assert list(live_seed.versions.values_list("number", "state")) == [(1, VersionState.PUBLISHED)]


def test_without_scripts_the_wait_for_form_is_redrawn_for_the_trigger_chosen(
    live_seed, marketer, browser, login, live_server, request
):
    context = browser.new_context(viewport={"width": 800, "height": 900}, java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(10_000)
    folder = ARTIFACTS / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {folder}")
    try:
        login(page, marketer)
        page.goto(f"{live_seed_url(live_server, live_seed)}")
        page.get_by_role("button", name="Edit").click()
        open_wait_for(page)

        page.get_by_label("Wait for the trigger").select_option(label="Email clicked")
        redraw = page.get_by_role("button", name="Show this trigger's attributes")
        assert redraw.is_visible()
        redraw.click()
        page.wait_for_selector(".messagelist")
        assert "The conditions now offer the attributes of Email clicked. Nothing is saved yet." in (
            page.locator(".messagelist").inner_text()
        )
        page.get_by_label("Condition 1: attribute").select_option("url")
        page.get_by_label("Condition 1: operator").select_option("starts_with")
        page.get_by_label("Condition 1: value").fill("https://shop.example/cart")
        assert page.evaluate("document.documentElement.scrollWidth") <= 800
        assert page.evaluate(OVERFLOWING) == []
        page.screenshot(path=folder / "redrawn-without-scripts.png", full_page=True)
        page.get_by_role("button", name="Save step", exact=True).last.click()
        page.wait_for_selector("#steps")
        assert page.locator("#step-opened .jd-summary").inner_text() == (
            "Wait for Email clicked of Initial email where url starts with https://shop.example/cart, up to 1 day"
        )

        # The start conditions in the settings work the same way.
        page.get_by_role("link", name="Settings").click()
        page.get_by_label("Start trigger").select_option(label="Purchase completed")
        page.get_by_role("button", name="Show this trigger's attributes").click()
        page.wait_for_selector(".messagelist")
        assert "Purchase completed has no attribute cart_total" in page.locator(".messagelist").inner_text()
        page.get_by_label("Condition 1: attribute").select_option("order_total")
        page.get_by_label("Condition 1: operator").select_option(">=")
        page.get_by_label("Condition 1: value").fill("20")
        page.get_by_label("Condition 1: value").press("Enter")  # Enter saves
        page.wait_for_selector("#steps")
        assert "When Purchase completed happens and order_total ≥ 20." in page.locator("#start-tile").inner_text()
    finally:
        context.close()


def live_seed_url(live_server, journey: Journey) -> str:
    return f"{live_server.url}/admin/journeys/journey/{journey.pk}/change/"
