"""A marketer builds the seed journey through the designer's forms (Django test client)."""

import json

import pytest
from django.urls import reverse

from journeys.bundles import export_bundle
from journeys.demo import SEED_BUNDLE
from journeys.models import Journey, VersionState

pytestmark = pytest.mark.django_db


def url(name: str, *args) -> str:
    return reverse(f"admin:journeys_journey_{name}", args=args)


def settings_post(**overrides) -> dict:
    data = {
        "name": "Abandoned cart reminders",
        "description": "",
        "start_trigger": "",
        "repeat": "after_exit",
        "time_zone": "UTC",
        "goal_trigger": "",
        "goal_target_percent": "",
        "conditions-TOTAL_FORMS": "1",
        "conditions-INITIAL_FORMS": "0",
        "conditions-MIN_NUM_FORMS": "0",
        "conditions-MAX_NUM_FORMS": "30",
        "conditions-0-attribute": "cart_total",
        "conditions-0-operator": ">",
        "conditions-0-value": "50",
    }
    data.update(overrides)
    return data


def create(client, name: str = "Abandoned cart reminders") -> Journey:
    from triggers.models import Trigger

    trigger = Trigger.objects.get(key="abandoned_cart")
    response = client.post(url("add"), {"name": name, "type": "trigger", "start_trigger": trigger.pk})
    journey = Journey.objects.get(name=name)
    assert response.status_code == 302
    assert response["Location"] == url("settings", journey.pk)
    return journey


def add_step(client, journey: Journey, parent: str, path: str, position: int, kind: str, **fields) -> str:
    data = {"parent": parent, "path": path, "position": position, "kind": kind, **fields}
    response = client.post(url("add_step", journey.pk), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    return response["Location"].rsplit("#step-", 1)[1]


def build_seed_journey(client) -> Journey:
    from triggers.models import Trigger

    journey = create(client)
    purchase = Trigger.objects.get(key="purchase_completed")
    response = client.post(
        url("settings", journey.pk),
        settings_post(
            start_trigger=Trigger.objects.get(key="abandoned_cart").pk,
            goal_trigger=purchase.pk,
            goal_target_percent="50",
            exit_triggers=[purchase.pk],
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    email = add_step(client, journey, "", "", 0, "email", content="initial-email-reminder", to="contact.email")
    opened = add_step(
        client,
        journey,
        "",
        "",
        1,
        "wait_for",
        trigger="email_opened",
        of_step=email,
        amount="1",
        unit="d",
    )
    add_step(client, journey, opened, "no", 0, "text", content="second-text-reminder", to="contact.phone")
    add_step(client, journey, opened, "no", 1, "wait", amount="1", unit="d")
    add_step(client, journey, opened, "no", 2, "push", content="final-push-notification", to="contact.push_token")
    return journey


def test_a_marketer_builds_the_seed_journey_without_touching_json(client, marketer, catalogue):
    client.force_login(marketer)

    journey = build_seed_journey(client)

    exported = export_bundle([journey.key])["journeys"][0]
    seed = json.loads(SEED_BUNDLE.read_text())["journeys"][0]
    assert exported["start"] == seed["start"]
    assert exported["goal"] == seed["goal"]
    assert exported["exit"] == seed["exit"]
    assert [s["type"] for s in exported["steps"]] == ["email", "wait_for"]
    assert exported["steps"][0] == {
        "id": "initial-email-reminder",
        "type": "email",
        "content": "initial-email-reminder",
        "to": "contact.email",
    }
    assert exported["steps"][1] == {
        "id": "wait-for-email-opened",
        "type": "wait_for",
        "trigger": "email_opened",
        "of_step": "initial-email-reminder",
        "within": "1d",
        "yes": [],
        "no": [
            {"id": "second-text-reminder", "type": "text", "content": "second-text-reminder", "to": "contact.phone"},
            {"id": "wait", "type": "wait", "duration": "1d"},
            {
                "id": "final-push-notification",
                "type": "push",
                "content": "final-push-notification",
                "to": "contact.push_token",
            },
        ],
    }
    journey.refresh_from_db()
    assert journey.status == "draft"
    assert list(journey.versions.values_list("number", "state")) == [(1, VersionState.DRAFT)]


def test_the_canvas_draws_each_step_with_its_summary(client, marketer, catalogue):
    client.force_login(marketer)
    journey = build_seed_journey(client)

    page = client.get(url("change", journey.pk)).content.decode()

    assert "Email: Initial email reminder to contact.email" in page
    assert "Wait for Email opened of Initial email reminder, up to 1 day" in page
    assert "Text message: Second text reminder to contact.phone" in page
    assert "Wait 1 day" in page
    assert "Push notification: Final push notification to contact.push_token" in page
    assert "When <strong>Abandoned cart</strong> happens and cart_total &gt; 50." in page
    assert "Purchase completed, 50 % of people" in page
    assert page.count('class="jd-plus"') == 8  # top: 3 places, Yes: 1, No: 4
