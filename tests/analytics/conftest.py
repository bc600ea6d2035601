"""The seed scenario run for a handful of contacts, with time travel, as analytics' fixture.

Between them the contacts produce every figure the pages show: a completed journey down the
No path, a Yes path, an exit trigger with the goal met, a message blocked for want of an
address, a click, a bounce, a contact still waiting, a second version with a branch, and
an entry long before the default period.
"""

import copy
from datetime import timedelta

import pytest

from journeys.bundles import import_bundle
from journeys.models import Delivery, Journey
from journeys.tracking import record_bounced, record_click, record_open
from tests.engine.conftest import START, clock, raise_event, run_sweep, seed_bundle, seed_journey  # noqa: F401

# The main part of the scenario starts 20 days after the journey went live (START).
DAY_ONE = START + timedelta(days=20)


def contact(name: str, **fields) -> dict:
    return {
        "id": name,
        "email": f"{name}@example.com",
        "phone": "+1555123" + str(sum(map(ord, name))).zfill(4),
        "push_token": f"tok-{name}",
        **fields,
    }


def version_two(bundle: dict) -> dict:
    """The seed journey with a branch after the email: big carts get a text at once."""
    bundle = copy.deepcopy(bundle)
    steps = bundle["journeys"][0]["steps"]
    steps.insert(
        1,
        {
            "id": "big-cart",
            "type": "branch",
            "paths": [
                {
                    "name": "Big cart",
                    "conditions": [{"attribute": "trigger.cart_total", "operator": ">", "value": 100}],
                    "steps": [
                        {
                            "id": "big-cart-text",
                            "type": "text",
                            "content": "second-text-reminder",
                            "to": "contact.phone",
                        }
                    ],
                }
            ],
            "otherwise": [],
        },
    )
    return bundle


@pytest.fixture
def scenario(seed_journey, seed_bundle, raise_event, run_sweep, clock, django_capture_on_commit_callbacks) -> Journey:  # noqa: F811
    """Runs the scenario; the clock ends at DAY_ONE + 3 days."""

    def interact(who: str, step: str, action) -> None:
        delivery = Delivery.objects.get(contact__external_id=who, step__key=step)
        with django_capture_on_commit_callbacks(execute=True):
            action(delivery)

    # Long before the default 7-day period: counted only by longer periods.
    clock.move_to(START + timedelta(hours=1))
    raise_event("abandoned_cart", contact("old"), {"cart_total": 60})
    clock.move_to(DAY_ONE)

    for name in ("ana", "bo", "cy", "fay", "gil"):
        raise_event("abandoned_cart", contact(name), {"cart_total": 80})
    raise_event("abandoned_cart", contact("ed", email=""), {"cart_total": 90})  # no address: blocked
    raise_event("abandoned_cart", contact("di"), {"cart_total": 40})  # below 50: does not enter

    clock.shift(timedelta(hours=2))
    interact("bo", "initial-email", record_open)  # Yes path
    interact("fay", "initial-email", lambda d: record_click(d, "https://shop.example.com/cart"))
    interact("gil", "initial-email", lambda d: record_bounced(d, reason="mailbox full"))

    clock.shift(timedelta(hours=1))
    raise_event("purchase_completed", contact("cy"), {"order_total": 80})  # exits, goal met

    # Version 2 (with a branch) takes new participants from now on.
    import_bundle(version_two(seed_bundle), publish_journeys=True)
    clock.shift(timedelta(hours=1))
    raise_event("abandoned_cart", contact("hal"), {"cart_total": 150})  # Big cart path
    raise_event("abandoned_cart", contact("ivy"), {"cart_total": 70})  # otherwise

    clock.shift(timedelta(hours=22))  # 26 h after the first carts: the No paths
    run_sweep()
    raise_event("purchase_completed", contact("ana"), {"order_total": 80})  # exits at wait-a-day

    clock.shift(timedelta(hours=25))
    run_sweep()
    clock.shift(timedelta(hours=1))
    raise_event("abandoned_cart", contact("jo"), {"cart_total": 55})  # still waiting at "opened"
    clock.shift(timedelta(hours=20))
    return Journey.objects.get(key="abandoned-cart")
