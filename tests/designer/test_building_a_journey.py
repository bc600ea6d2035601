"""A marketer builds the seed journey through the designer's forms (Django test client)."""

import json

import pytest

from journeys.bundles import export_bundle
from journeys.demo import SEED_BUNDLE
from journeys.models import VersionState

from .helpers import build_seed_journey, url

pytestmark = pytest.mark.django_db


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
