"""In a real browser: a marketer adds a raise-a-trigger step with + between tiles, fills its
attributes, sees its tile, then edits it; a mistake in the attributes is named on the form."""

import json
import re

import pytest

from journeys.bundles import export_bundle, import_bundle
from journeys.models import Journey

from .seed import seed_catalogue

pytestmark = pytest.mark.browser


@pytest.fixture
def draft_journey(transactional_db) -> Journey:
    seed_catalogue()
    import_bundle(
        {
            "journeys": [
                {
                    "key": "carts",
                    "name": "Carts",
                    "start": {"trigger": "abandoned_cart"},
                    "steps": [{"id": "note", "type": "log", "message": "entered"}],
                }
            ]
        }
    )
    return Journey.objects.get(key="carts")


def test_a_marketer_builds_and_edits_a_raise_step(draft_journey, marketer, page, login, live_server):
    login(page, marketer)
    page.goto(f"{live_server.url}/admin/journeys/journey/{draft_journey.pk}/change/")

    page.get_by_role("link", name="Add a step after Log a note: entered").click()
    kind = page.locator(".jd-kinds").get_by_role("link", name="Raise a trigger").first
    assert kind.locator("svg").count() == 1  # its icon
    kind.click()
    page.wait_for_selector("form .jd-step-form")
    page.get_by_label("Trigger to raise").select_option(label="Purchase completed")
    # A mistake first: an attribute the trigger does not have, named on the form.
    page.get_by_label("Attributes (JSON)").fill('{"total": "{{ trigger.cart_total }}"}')
    page.get_by_role("button", name="Save step").click()
    error = page.locator(".errorlist").first.inner_text()
    assert "total: the trigger 'purchase_completed' has no attribute 'total' (it has: order_total)" in error
    page.get_by_label("Attributes (JSON)").fill('{"order_total": "{{ trigger.cart_total }}"}')
    page.get_by_role("button", name="Save step").click()
    page.wait_for_selector("#steps")

    tile = page.locator("#step-raise-purchase-completed")
    assert tile.locator(".jd-summary").inner_text() == "Raise Purchase completed with order_total"
    page.screenshot(path=page.artifacts / "canvas.png", full_page=True)

    tile.get_by_role("link", name=re.compile("^Edit")).click()
    page.wait_for_selector("form .jd-step-form")
    assert json.loads(page.get_by_label("Attributes (JSON)").input_value()) == {
        "order_total": "{{ trigger.cart_total }}"
    }
    page.get_by_label("Attributes (JSON)").fill('{"order_total": "{{ trigger.cart_total|add:10 }}"}')
    page.get_by_role("button", name="Save step").click()
    page.wait_for_selector("#steps")

    steps = export_bundle(["carts"])["journeys"][0]["steps"]
    assert steps[1] == {
        "id": "raise-purchase-completed",
        "type": "raise_trigger",
        "trigger": "purchase_completed",
        "attributes": {"order_total": "{{ trigger.cart_total|add:10 }}"},
    }


def test_a_marketer_sets_a_holdout_group_in_the_settings(draft_journey, marketer, page, login, live_server):
    login(page, marketer)
    page.goto(f"{live_server.url}/admin/journeys/journey/{draft_journey.pk}/settings/")

    page.get_by_label("Holdout group (%)").fill("10")
    page.get_by_role("button", name="Save settings").click()
    page.wait_for_selector("#steps")

    assert page.locator("#holdout-summary").inner_text() == "10 % of people get no messages (control)"
    assert export_bundle(["carts"])["journeys"][0]["holdout_percent"] == 10
