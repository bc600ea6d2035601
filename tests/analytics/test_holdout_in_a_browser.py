"""An analyst in a real browser reads a journey's holdout group: goal rate per group and
the lift with its 95 % interval, on the dashboard and on the journey's page."""

from importlib import import_module

import pytest
from django.apps import apps as django_apps

from analytics.lift import newcombe
from journeys.bundles import import_bundle
from journeys.holdout import in_holdout

pytestmark = pytest.mark.browser

PEOPLE = [f"cust-{n}" for n in range(40)]


@pytest.fixture(autouse=True)
def migrated_rows(transactional_db):
    import_module("triggers.migrations.0002_builtin_triggers").create_builtin_triggers(django_apps, None)
    import_module("journeys.migrations.0002_marketer_and_analyst_roles").create_roles(django_apps, None)


def test_an_analyst_sees_the_lift_over_the_holdout_group(
    clock, seed_bundle, raise_event, analyst, page, login, live_server
):
    seed_bundle["journeys"][0]["holdout_percent"] = 50
    import_bundle(seed_bundle, publish_journeys=True)
    clock.shift(60)
    for key in PEOPLE:
        raise_event("abandoned_cart", {"id": key, "email": f"{key}@example.com"}, {"cart_total": 80})
    clock.shift(3600)
    held = [k for k in PEOPLE if in_holdout("abandoned-cart", k, 50)]
    treated = [k for k in PEOPLE if k not in held]
    buyers = treated[: len(treated) * 3 // 4] + held[: len(held) // 4]
    for key in buyers:
        raise_event("purchase_completed", {"id": key}, {})
    met_t, met_h = len(treated) * 3 // 4, len(held) // 4
    difference, low, high = newcombe(met_t, len(treated), met_h, len(held))

    login(page, analyst)
    page.goto(f"{live_server.url}/analytics/")
    lift = page.locator('tr[data-journey="abandoned-cart"] [data-figure=lift]').inner_text()
    assert lift == f"lift {round(difference * 100, 2)} pts [{round(low * 100, 2)}, {round(high * 100, 2)}]"

    page.get_by_role("link", name="Abandoned cart reminders").click()
    page.wait_for_selector("#holdout")
    assert page.locator('#holdout [data-group="treatment"] [data-figure=treatment_rate]').inner_text() == (
        f"{round(met_t / len(treated) * 100, 2)}%"
    )
    assert page.locator('#holdout [data-group="holdout"] [data-figure=holdout_rate]').inner_text() == (
        f"{round(met_h / len(held) * 100, 2)}%"
    )
    assert page.locator("#lift [data-figure=lift]").inner_text() == f"{round(difference * 100, 2)} points"
    assert page.locator("#lift [data-figure=lift_interval]").inner_text() == (
        f"{round(low * 100, 2)} to {round(high * 100, 2)} points"
    )
    page.screenshot(path=page.artifacts / "holdout.png", full_page=True)
