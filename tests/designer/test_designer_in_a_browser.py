"""The issue's acceptance test, in a real browser: a marketer builds the seed journey from
nothing but the demo content and triggers, is refused while the text message is a draft,
marks it ready, publishes, and sees the participant an API event brings in."""

import json
import urllib.request

import pytest

from journeys.models import Journey, Participant
from triggers.keys import create_api_key

from .seed import seed_catalogue

pytestmark = pytest.mark.browser


@pytest.fixture
def demo_catalogue(transactional_db):
    seed_catalogue()


def add_step_at(page, plus, kind: str) -> None:
    plus.click()
    page.locator(".jd-kinds").get_by_role("link", name=kind).first.click()
    page.wait_for_selector("form .jd-step-form")


def save_step(page) -> None:
    page.get_by_role("button", name="Save step").click()
    page.wait_for_selector("#steps")


def raise_event(base_url: str, body: dict) -> int:
    _, raw = create_api_key("Shop website", scope="events:write", source="shop")
    request = urllib.request.Request(
        f"{base_url}/api/v1/events",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {raw}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def test_a_marketer_builds_publishes_and_runs_the_seed_journey(demo_catalogue, marketer, page, login, live_server):
    login(page, marketer)

    # Create: name, type, start trigger.
    page.goto(f"{live_server.url}/admin/journeys/journey/")
    page.get_by_role("link", name="Add journey").click()
    page.fill("#id_name", "Abandoned cart reminders")
    page.get_by_label("Trigger-based: respond to a customer action").check()
    page.select_option("#id_start_trigger", label="Abandoned cart")
    page.get_by_role("button", name="Create").click()

    # Settings: the cart condition, goal 50 %, exit on purchase.
    page.wait_for_selector("#id_conditions-0-attribute")
    page.select_option("#id_conditions-0-attribute", "cart_total")
    page.select_option("#id_conditions-0-operator", ">")
    page.fill("#id_conditions-0-value", "50")
    page.select_option("#id_goal_target_percent >> xpath=ancestor::fieldset//select", label="Purchase completed")
    page.fill("#id_goal_target_percent", "50")
    page.locator("#exit").get_by_label("Purchase completed").check()
    page.screenshot(path=page.artifacts / "settings.png", full_page=True)
    page.get_by_role("button", name="Save settings").click()
    page.wait_for_selector("#steps")

    # Canvas: email → wait for opened (1 day) → No: text → wait 1 day → push.
    add_step_at(page, page.get_by_role("link", name="Add a step after the start"), "Email")
    page.select_option("#id_content", label="Initial email reminder")
    save_step(page)
    add_step_at(
        page,
        page.get_by_role("link", name="Add a step after Email: Initial email reminder to contact.email"),
        "Wait for a trigger",
    )
    page.select_option("#id_trigger", label="Email opened")
    page.select_option("#id_of_step", "initial-email-reminder")
    page.fill("#id_amount", "1")
    page.select_option("#id_unit", "d")
    save_step(page)
    add_step_at(page, page.locator(".jd-path-no .jd-plus").nth(0), "Text message")
    page.select_option("#id_content", label="Second text reminder (Draft)")
    save_step(page)
    add_step_at(page, page.locator(".jd-path-no .jd-plus").nth(1), "Wait")
    page.fill("#id_amount", "1")
    page.select_option("#id_unit", "d")
    save_step(page)
    # The last one by keyboard only: focus the +, Enter, Tab to the kind, Enter.
    page.locator(".jd-path-no .jd-plus").nth(2).focus()
    page.keyboard.press("Enter")
    page.locator(".jd-kinds").get_by_role("link", name="Push notification").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("form .jd-step-form")
    page.select_option("#id_content", label="Final push notification")
    page.get_by_role("button", name="Save step").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#steps")
    canvas = page.locator("#steps")
    for summary in (
        "Email: Initial email reminder to contact.email",
        "Wait for Email opened of Initial email reminder, up to 1 day",
        "Text message: Second text reminder to contact.phone",
        "Wait 1 day",
        "Push notification: Final push notification to contact.push_token",
    ):
        assert canvas.locator(".jd-summary").get_by_text(summary, exact=True).is_visible()
    page.screenshot(path=page.artifacts / "canvas.png", full_page=True)

    # Publish is refused while the text message is a draft; the problem links to its tile.
    page.get_by_role("button", name="Publish").click()
    problems = page.wait_for_selector("#publish-problems")
    assert "Text message 'Second text reminder' is not Ready to send" in problems.inner_text()
    page.screenshot(path=page.artifacts / "publish-errors.png", full_page=True)
    journey = Journey.objects.get(name="Abandoned cart reminders")
    assert journey.status == "draft"
    page.get_by_role("link", name="Step second-text-reminder").click()
    assert page.url.endswith("#step-second-text-reminder")

    # The marketer marks the text message ready in the content admin, then publishes.
    canvas_url = page.url.split("?")[0]
    page.goto(f"{live_server.url}/admin/content/textmessage/")
    page.get_by_role("link", name="Second text reminder").click()
    page.get_by_role("button", name="Save and mark ready to send").click()
    page.wait_for_selector(".messagelist .success")
    page.goto(canvas_url)
    page.get_by_role("button", name="Publish").click()
    page.wait_for_selector(".jd-status-live")
    journey.refresh_from_db()
    assert journey.status == "live"

    # The website raises an abandoned cart; the participant shows on the journey.
    status = raise_event(
        live_server.url,
        {
            "trigger": "abandoned_cart",
            "event_id": "cart-981",
            "contact": {"id": "ana", "email": "ana@example.com", "phone": "+15551230001", "push_token": "tok-ana"},
            "attributes": {"cart_total": 80},
        },
    )
    assert status == 202
    page.goto(canvas_url)
    people = page.wait_for_selector("#participants table")
    assert "ana" in people.inner_text()
    assert Participant.objects.get(journey=journey).contact.external_id == "ana"
    page.screenshot(path=page.artifacts / "live-canvas.png", full_page=True)

    # Narrow window and dark mode: the same page stays usable, with no sideways scrolling.
    page.set_viewport_size({"width": 800, "height": 900})
    page.emulate_media(color_scheme="dark")
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 800
    assert page.evaluate("getComputedStyle(document.querySelector('.jd-tile')).backgroundColor") == "rgb(18, 18, 18)"
    assert page.get_by_role("button", name="Edit").is_visible()
    page.screenshot(path=page.artifacts / "live-canvas-800-dark.png", full_page=True)
