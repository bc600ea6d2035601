"""The admin in a real browser: a marketer logs in and finds the seed journey."""

import pytest

from journeys.demo import load_demo
from tests.designer.seed import restore_migration_rows

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(transactional_db):
    # Transactional tests start from emptied tables: the interaction triggers (Email opened,
    # which the seed journey waits for) and the roles that migrations add are put back first.
    restore_migration_rows()
    load_demo()


def test_a_marketer_logs_in_and_opens_the_seed_journey(demo, marketer, page, login, live_server):
    login(page, marketer)
    page.screenshot(path=page.artifacts / "admin-index.png", full_page=True)

    page.locator("#journeys-journey").get_by_role("link", name="Journeys").click()
    page.get_by_role("link", name="Abandoned cart reminders").click()

    # The change page is the designer: the live version's canvas, read-only until Edit.
    assert page.locator("h1").inner_text().startswith("Abandoned cart reminders")
    assert page.locator(".jd-status").inner_text().lower() == "live"
    assert "key abandoned-cart" in page.locator(".jd-version").inner_text()
    assert page.locator("#step-initial-email .jd-summary").inner_text() == (
        "Email: Initial email reminder to contact.email"
    )
    assert page.get_by_role("button", name="Edit").is_visible()
    assert page.get_by_role("button", name="Publish").count() == 0
    page.screenshot(path=page.artifacts / "journey.png", full_page=True)


def test_an_outsider_sees_nothing_to_edit(transactional_db, outsider, page, login, live_server):
    login(page, outsider)

    assert "have permission to view or edit anything" in page.content()
