"""The admin in a real browser: a marketer logs in and finds the seed journey."""

import pytest

from journeys.demo import load_demo

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(transactional_db):
    load_demo()


def test_a_marketer_logs_in_and_opens_the_seed_journey(demo, marketer, page, login, live_server):
    login(page, marketer)
    page.screenshot(path=page.artifacts / "admin-index.png", full_page=True)

    page.locator("#journeys-journey").get_by_role("link", name="Journeys").click()
    page.get_by_role("link", name="Abandoned cart reminders").click()

    assert page.locator("#id_key").input_value() == "abandoned-cart"
    page.screenshot(path=page.artifacts / "journey.png", full_page=True)


def test_an_outsider_sees_nothing_to_edit(transactional_db, outsider, page, login, live_server):
    login(page, outsider)

    assert "have permission to view or edit anything" in page.content()
