"""Personas and shared fixtures: a marketer builds journeys, an analyst reads them,
an outsider (staff, no role) and a stranger (not staff) see nothing."""

import pytest
from django.contrib.auth.models import Group, User


def pytest_collection_modifyitems(items):
    """A test that commits (live_server, real workers) ends by flushing every table, which
    also empties the rows migrations wrote: built-in triggers, the roles, the sweep's
    schedule. With serialized rollback each such test starts with them restored, whatever
    ran before it."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker is not None and marker.kwargs.get("transaction"):
            kwargs = {**marker.kwargs, "serialized_rollback": True}
            item.add_marker(pytest.mark.django_db(*marker.args, **kwargs), append=False)
        elif marker is None and {"transactional_db", "live_server"} & set(item.fixturenames):
            item.fixturenames.append("django_db_serialized_rollback")


def _user(username: str, *, group: str | None = None, is_staff: bool = True) -> User:
    user = User.objects.create_user(username=username, password="pw", is_staff=is_staff)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def marketer(db) -> User:
    return _user("marketer", group="Marketer")


@pytest.fixture
def analyst(db) -> User:
    return _user("analyst", group="Analyst")


@pytest.fixture
def outsider(db) -> User:
    return _user("outsider")


@pytest.fixture
def stranger(db) -> User:
    return _user("stranger", is_staff=False)


# --- A real browser: Debian's chromium driven by Playwright ----------------------------
import os  # noqa: E402
import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Screenshots of browser tests land here; each test prints its folder.
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium. CI installs it (.ci/run); elsewhere, browser tests skip without it."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run should have installed it")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # between browser steps are still synchronous, so Django's async guard is lifted here.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # Starting Playwright switches this thread's context, and Django's connections are
    # context-local: tests after this point get fresh connection objects, without the test
    # database's serialized contents when it was created earlier, so serialized rollback
    # would silently restore nothing. Hand the contents over.
    serialized = {alias: getattr(connections[alias], "_test_serialized_contents", None) for alias in connections}
    with sync_playwright() as playwright:
        for alias, contents in serialized.items():
            if contents is not None and not hasattr(connections[alias], "_test_serialized_contents"):
                connections[alias]._test_serialized_contents = contents
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    """A fresh browser tab at 1280x900; `page.artifacts` is a folder for screenshots."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    folder = ARTIFACTS / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    tab.artifacts = folder
    print(f"\nscreenshots: {folder}")
    yield tab
    context.close()


@pytest.fixture
def login(live_server):
    """Log a persona into the admin through the real login form."""

    def _login(page, user) -> None:
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", "pw")
        page.click("input[type=submit]")
        page.wait_for_url(f"{live_server.url}/admin/")

    return _login


@pytest.fixture(autouse=True)
def _fresh_plan_cache():
    """Rolled-back tests reuse primary keys (and the clock is frozen): forget cached plans."""
    from journeys.runtime import clear_plan_cache

    clear_plan_cache()
