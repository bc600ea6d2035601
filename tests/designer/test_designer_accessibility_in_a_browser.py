"""Every designer page, checked in a real browser at 1280 px in light mode and at 800 px in
dark mode: every control has a label, none is out of keyboard reach or cut off at the
form's edge, nothing scrolls sideways, and the page takes the admin's dark colours."""

import pytest

from journeys.models import Journey
from journeys.publishing import open_draft

from .seed import restore_migration_rows, seed_journey

pytestmark = pytest.mark.browser

CONTROLS = "#content-main select, #content-main input, #content-main textarea, #content-main button, #content-main a"
# Visible controls without a name a screen reader reads out.
UNLABELLED = f"""() => Array.from(document.querySelectorAll('{CONTROLS}'))
  .filter(el => el.type !== 'hidden' && el.getAttribute('aria-hidden') !== 'true' && el.offsetParent !== null)
  .filter(el => {{
    if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')) return false;
    if (el.tagName === 'A' || el.tagName === 'BUTTON' || el.type === 'submit') return !(el.textContent.trim() || el.value);
    return !(el.labels && el.labels.length);
  }})
  .map(el => el.name || el.id || el.outerHTML.slice(0, 80))"""
# Visible controls taken out of the keyboard's reach.
UNREACHABLE = f"""() => Array.from(document.querySelectorAll('{CONTROLS}'))
  .filter(el => el.type !== 'hidden' && el.getAttribute('aria-hidden') !== 'true' && el.offsetParent !== null)
  .filter(el => el.tabIndex < 0 && !el.disabled)
  .map(el => el.name || el.id || el.outerHTML.slice(0, 80))"""
# Controls that run past the right edge of the content (cut off or scrolling in a narrow window).
OVERFLOWING = """() => { const main = document.querySelector('#content-main');
  const edge = main.getBoundingClientRect().right;
  return Array.from(main.querySelectorAll('select, input, textarea'))
    .filter(el => el.type !== 'hidden' && el.offsetParent !== null && !el.closest('.jd-canvas'))
    .filter(el => el.getBoundingClientRect().right > edge + 1)
    .map(el => el.name || el.id); }"""


@pytest.fixture
def draft_of_live_seed(transactional_db) -> Journey:
    restore_migration_rows()
    seed_journey(publish=True)
    journey = Journey.objects.get(key="abandoned-cart")
    open_draft(journey)
    return journey


def designer_pages(journey: Journey) -> dict[str, str]:
    base = f"/admin/journeys/journey/{journey.pk}"
    place = "?parent=&path=&position=1"
    pages = {
        "create": "/admin/journeys/journey/add/",
        "import": "/admin/journeys/journey/import/",
        "canvas": f"{base}/change/",
        "settings": f"{base}/settings/",
        "choose-step": f"{base}/steps/add/{place}",
        "test": f"{base}/test/",
        "stop": f"{base}/lifecycle/stop/",
        "discard": f"{base}/lifecycle/discard/",
        "remove-step": f"{base}/steps/opened/remove/",
    }
    for kind in ("email", "text", "push", "wait", "wait_for", "branch", "split"):
        pages[f"add-{kind}"] = f"{base}/steps/add/{place}&kind={kind}"
    for step in ("initial-email", "opened", "second-text", "wait-a-day", "final-push"):
        pages[f"edit-{step}"] = f"{base}/steps/{step}/"
    return pages


@pytest.mark.parametrize(("width", "scheme"), [(1280, "light"), (800, "dark")])
def test_every_designer_page_is_labelled_keyboard_usable_and_fits(
    draft_of_live_seed, marketer, page, login, live_server, width, scheme
):
    login(page, marketer)
    page.set_viewport_size({"width": width, "height": 900})
    page.emulate_media(color_scheme=scheme)
    found = {}
    for name, path in designer_pages(draft_of_live_seed).items():
        response = page.goto(live_server.url + path)
        assert response.status == 200, name
        problems = {
            "unlabelled": page.evaluate(UNLABELLED),
            "unreachable": page.evaluate(UNREACHABLE),
            "overflowing": page.evaluate(OVERFLOWING),
            "sideways": page.evaluate("document.documentElement.scrollWidth") > width,
        }
        if any(problems.values()):
            found[name] = problems
        if scheme == "dark":
            assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(18, 18, 18)", name
        page.screenshot(path=page.artifacts / f"{name}-{width}-{scheme}.png", full_page=True)
    assert found == {}
