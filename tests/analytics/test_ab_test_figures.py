"""An A/B test of two subject lines, decided on the open rate: the analytics API and the
journey page (server-rendered and in a real browser) show each variant's participants and
rate, the test's state and the decision with its p-value, equal to counts of the tables."""

from datetime import timedelta
from importlib import import_module

import pytest
from django.apps import apps as django_apps
from rest_framework.test import APIClient

from journeys.abtest import check_due_tests
from journeys.bundles import import_bundle
from journeys.models import ABTestResult, Delivery, Participant
from journeys.tracking import record_open
from triggers.keys import create_api_key

from .conftest import START

TEST = {
    "id": "subject-test",
    "type": "ab_test",
    "variants": [
        {
            "name": "Short subject",
            "percent": 50,
            "steps": [{"id": "email-a", "type": "email", "content": "initial-email-reminder", "to": "contact.email"}],
        },
        {
            "name": "Long subject",
            "percent": 50,
            "steps": [{"id": "email-b", "type": "email", "content": "initial-email-reminder", "to": "contact.email"}],
        },
    ],
    "winner": {"metric": "open_rate", "decide_after": "1d", "min_per_variant": 5},
}


def run_the_test(seed_bundle: dict, raise_event, clock, opens: dict[str, float]) -> None:
    seed_bundle["journeys"][0]["steps"] = [TEST, {"id": "wait-a-week", "type": "wait", "duration": "7d"}]
    import_bundle(seed_bundle, publish_journeys=True)
    for i in range(30):
        raise_event("abandoned_cart", {"id": f"c{i}", "email": f"c{i}@example.com"}, {"cart_total": 80})
    for key, share in opens.items():
        sent = list(Delivery.objects.filter(step__key=key, sent_at__isnull=False).order_by("pk"))
        for delivery in sent[: round(len(sent) * share)]:
            record_open(delivery)
    clock.shift(timedelta(days=1, minutes=5))
    check_due_tests(START + timedelta(days=1, minutes=5))


@pytest.fixture
def decided(db, seed_bundle, raise_event, clock):
    run_the_test(seed_bundle, raise_event, clock, {"email-a": 0.9, "email-b": 0.1})


def reporting() -> APIClient:
    _, raw = create_api_key("Reporting", scope="read", source="bi")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def variant_counts(key: str) -> tuple[int, int, int]:
    """(participants, emails sent, emails opened) of the variant whose email is `key`."""
    sent = Delivery.objects.filter(step__key=key, sent_at__isnull=False)
    return sent.count(), sent.count(), sent.filter(opened_at__isnull=False).count()


def test_the_api_shows_each_variants_figures_and_the_decision(decided):
    body = reporting().get("/api/v1/journeys/abandoned-cart/analytics").json()

    (test,) = body["ab_tests"]
    result = ABTestResult.objects.get()
    assert {k: test[k] for k in ("step", "metric", "decide_after", "min_per_variant", "state")} == {
        "step": "subject-test",
        "metric": "open_rate",
        "decide_after": "1 day",
        "min_per_variant": 5,
        "state": "decided",
    }
    assert test["decision"]["winner"] == "Short subject"
    assert test["decision"]["p_value"] == result.p_value < 0.05
    assert test["decision"]["decided_at"] == (START + timedelta(days=1, minutes=5)).isoformat()
    for variant, key in zip(test["variants"], ("email-a", "email-b"), strict=True):
        participants, sent, opened = variant_counts(key)
        assert (variant["participants"], variant["trials"], variant["successes"]) == (participants, sent, opened)
        assert variant["rate"] == pytest.approx(opened / sent, abs=1e-6)
    assert [v["winner"] for v in test["variants"]] == [True, False]
    assert sum(v["participants"] for v in test["variants"]) == Participant.objects.count() == 30
    assert test["decision"]["counts"] == result.counts


def test_the_journey_page_shows_the_test(decided, analyst, client):
    client.force_login(analyst)

    page = client.get("/analytics/journeys/abandoned-cart/").content.decode()

    assert "<h2>A/B tests</h2>" in page
    assert 'data-figure="winner">Short subject<' in page
    assert f'data-figure="p_value">{ABTestResult.objects.get().p_value:.3g}<' in page


def test_an_undecided_test_says_so_on_the_page(db, seed_bundle, raise_event, clock, analyst, client):
    run_the_test(seed_bundle, raise_event, clock, {"email-a": 0.5, "email-b": 0.45})
    client.force_login(analyst)

    page = client.get("/analytics/journeys/abandoned-cart/").content.decode()

    result = ABTestResult.objects.get()
    assert result.state == "undecided"
    assert f'data-figure="message">undecided: p = {result.p_value:.2g}, checking again every 5 minutes<' in page


@pytest.mark.browser
def test_an_analyst_reads_the_ab_test_in_a_browser(
    transactional_db, seed_bundle, raise_event, clock, analyst, page, login, live_server
):
    import_module("triggers.migrations.0002_builtin_triggers").create_builtin_triggers(django_apps, None)
    import_module("journeys.migrations.0002_marketer_and_analyst_roles").create_roles(django_apps, None)
    run_the_test(seed_bundle, raise_event, clock, {"email-a": 0.9, "email-b": 0.1})
    login(page, analyst)

    page.goto(f"{live_server.url}/analytics/journeys/abandoned-cart/")

    section = page.locator("#ab-test-subject-test")
    assert section.locator("[data-figure=state]").inner_text() == "decided"
    assert section.locator("[data-figure=winner]").inner_text() == "Short subject"
    assert section.locator("[data-figure=p_value]").inner_text() == f"{ABTestResult.objects.get().p_value:.3g}"
    for name, key in (("Short subject", "email-a"), ("Long subject", "email-b")):
        row = section.locator(f'tr[data-variant="{name}"]')
        participants, sent, opened = variant_counts(key)
        assert row.locator("[data-figure=participants]").inner_text() == str(participants)
        assert row.locator("[data-figure=successes]").inner_text() == str(opened)
        assert row.locator("[data-figure=rate]").inner_text() == f"{round(100 * opened / sent, 1)}%"
    assert "winner" in section.locator('tr[data-variant="Short subject"]').inner_text()
    page.screenshot(path=page.artifacts / "ab-test.png", full_page=True)
