"""In a real browser: a marketer adds a webhook step with the + between two tiles, is told
what is wrong field by field, saves it, edits it, and gives the email an expiry."""

import re

import pytest

from journeys.bundles import export_bundle
from journeys.models import Journey

from .seed import restore_migration_rows, seed_journey

pytestmark = pytest.mark.browser


@pytest.fixture
def draft_seed(transactional_db) -> Journey:
    restore_migration_rows()
    seed_journey(publish=False)
    return Journey.objects.get(key="abandoned-cart")


def edit(page, step_id: str) -> None:
    page.locator(f"#step-{step_id}").get_by_role("link", name=re.compile("^Edit")).click()
    page.wait_for_selector("form .jd-step-form")


def save(page) -> None:
    page.get_by_role("button", name="Save step").first.click()


def test_a_marketer_builds_and_edits_a_webhook_step(draft_seed, marketer, page, login, live_server):
    login(page, marketer)
    page.goto(f"{live_server.url}/admin/journeys/journey/{draft_seed.pk}/change/")

    # The + between the email and the wait, then the kind.
    page.get_by_role("link", name="Add a step after Email: Initial email reminder to contact.email").click()
    page.locator(".jd-kinds").get_by_role("link", name="Call a webhook").click()
    page.wait_for_selector("form .jd-step-form")

    page.get_by_label("URL").fill("ftp://crm.example.com/hook")
    page.get_by_label("Body (JSON)").fill('{"contact": "{{ contact.id }}",}')
    page.get_by_label("Timeout").fill("2m")
    save(page)
    page.wait_for_selector(".errornote")
    text = page.locator("#content-main").inner_text()
    assert "The URL must start with https:// or http://." in text
    assert "The body is not JSON" in text
    assert "The timeout must be from 1s to 30s." in text
    page.screenshot(path=page.artifacts / "webhook-errors.png", full_page=True)

    page.get_by_label("URL").fill("https://crm.example.com/hook")
    page.get_by_label("Body (JSON)").fill('{"contact": "{{ contact.id }}", "total": "{{ trigger.cart_total }}"}')
    page.get_by_label("Timeout").fill("10s")
    save(page)
    page.wait_for_selector("#steps")
    canvas = page.locator("#steps")
    assert canvas.locator(".jd-summary").get_by_text("POST https://crm.example.com/hook", exact=True).is_visible()
    page.screenshot(path=page.artifacts / "canvas.png", full_page=True)

    edit(page, "webhook-crm")
    assert page.get_by_label("URL").input_value() == "https://crm.example.com/hook"
    page.get_by_label("Method").select_option("PUT")
    page.get_by_label("Timeout").fill("30s")
    save(page)
    page.wait_for_selector("#steps")
    assert canvas.locator(".jd-summary").get_by_text("PUT https://crm.example.com/hook", exact=True).is_visible()

    edit(page, "initial-email")
    page.get_by_label("Expires after").fill("2d")
    save(page)
    page.wait_for_selector("#steps")
    assert (
        canvas.locator(".jd-summary")
        .get_by_text("Email: Initial email reminder to contact.email, expires after 2d", exact=True)
        .is_visible()
    )

    steps = export_bundle(["abandoned-cart"])["journeys"][0]["steps"]
    assert steps[0]["expires_after"] == "2d"
    assert steps[1] == {
        "id": "webhook-crm",
        "type": "webhook",
        "url": "https://crm.example.com/hook",
        "method": "PUT",
        "body": {"contact": "{{ contact.id }}", "total": "{{ trigger.cart_total }}"},
        "timeout": "30s",
    }
