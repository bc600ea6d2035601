"""The triggers admin: API keys shown once and revocable, the trigger screen's snippet and
volumes, Ready to use, and the event list without COUNT(*) on the event store."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from triggers.models import ApiKey, Event, Trigger, TriggerStatus, hash_api_key

from .conftest import cart_event, post

NOW = "2026-11-28 12:00:00Z"


@pytest.fixture
def marketer_admin(client, marketer):
    client.force_login(marketer)
    return client


def _bearer(raw: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return api


def test_a_new_key_is_shown_once_and_only_its_hash_is_kept(marketer_admin, marketer, cart_trigger):
    response = marketer_admin.post(
        "/admin/triggers/apikey/add/",
        {"name": "Shop website", "scope": "events:write", "source": "shop", "rate_per_second": 50, "burst": 100},
    )

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    raw = re.search(r'<pre id="api-key"[^>]*>(jk_[^<]+)</pre>', response.content.decode()).group(1)
    api_key = ApiKey.objects.get()
    assert (api_key.name, api_key.scope, api_key.source, api_key.rate_per_second, api_key.burst) == (
        "Shop website",
        "events:write",
        "shop",
        50,
        100,
    )
    assert (api_key.hashed_key, api_key.prefix, api_key.created_by) == (hash_api_key(raw), raw[:11], marketer)
    assert post(_bearer(raw), "/api/v1/events", cart_event()).status_code == 202
    # Never again: not on the key's page, not in a message kept for the next page.
    change_page = marketer_admin.get(f"/admin/triggers/apikey/{api_key.pk}/change/").content.decode()
    assert raw not in change_page
    assert api_key.prefix in change_page
    assert raw not in marketer_admin.get("/admin/triggers/apikey/").content.decode()


def test_limits_are_edited_on_the_key_and_apply_to_the_next_request(marketer_admin, website_key, website, cart_trigger):
    api_key = website_key[0]
    marketer_admin.post(
        f"/admin/triggers/apikey/{api_key.pk}/change/",
        {"name": api_key.name, "scope": "events:write", "source": "shop", "rate_per_second": 1, "burst": 1},
    )

    with time_machine.travel(NOW, tick=False):
        answers = [post(website, "/api/v1/events", cart_event(event_id=str(i))).status_code for i in range(2)]

    assert answers == [202, 429]


def test_revoking_a_key_refuses_its_next_request(marketer_admin, website_key, website, cart_trigger):
    with time_machine.travel(NOW, tick=False):
        response = marketer_admin.post(
            "/admin/triggers/apikey/", {"action": "revoke", "_selected_action": [website_key[0].pk]}, follow=True
        )

    assert "1 key(s) revoked" in response.content.decode()
    assert ApiKey.objects.get().revoked_at == datetime(2026, 11, 28, 12, tzinfo=UTC)
    refused = post(website, "/api/v1/events", cart_event())
    assert refused.status_code == 401
    assert refused.json()["code"] == "revoked_api_key"
    assert not Event.objects.exists()


def test_analysts_do_not_see_api_keys(client, analyst):
    client.force_login(analyst)

    assert client.get("/admin/triggers/apikey/").status_code == 403
    assert client.get("/admin/triggers/event/").status_code == 200


def _snippet(page: str, language: str) -> str:
    import html

    match = re.search(rf'<pre class="integration-snippet" data-language="{language}"[^>]*>(.*?)</pre>', page, re.S)
    return html.unescape(match.group(1))


def test_the_trigger_screen_shows_snippets_whose_payload_the_api_accepts(marketer_admin, cart_trigger, website):
    page = marketer_admin.get(f"/admin/triggers/trigger/{cart_trigger.pk}/change/").content.decode()

    curl = _snippet(page, "curl")
    payload = json.loads(curl.split("-d '", 1)[1].rsplit("'", 1)[0])
    assert payload["trigger"] == "abandoned_cart"
    assert payload["attributes"] == {
        "cart_total": 42,
        "cart": {"items": 42, "currency": "text"},
        "coupon": "text",
        "first_seen": "2026-11-28T12:00:00Z",
        "gift": True,
        "skus": ["a", "b"],
    }
    assert "http://testserver/api/v1/events" in curl
    assert post(website, "/api/v1/events", payload).status_code == 202
    javascript = _snippet(page, "javascript")
    assert 'fetch("http://testserver/api/v1/events"' in javascript
    assert json.dumps(payload, indent=2).replace("\n", "\n  ") in javascript
    python = _snippet(page, "python")
    assert "requests.post(" in python
    namespace: dict = {}
    exec(python.split("response = ")[0].replace("import requests", ""), namespace)
    assert namespace["event"] == payload


def test_a_draft_trigger_screen_warns_before_the_snippet(marketer_admin, cart_trigger):
    Trigger.objects.filter(pk=cart_trigger.pk).update(status=TriggerStatus.DRAFT)

    page = marketer_admin.get(f"/admin/triggers/trigger/{cart_trigger.pk}/change/").content.decode()

    assert "Move the trigger to Ready to use first" in page


def test_the_attribute_schema_is_edited_inline(marketer_admin, db):
    response = marketer_admin.post(
        "/admin/triggers/trigger/add/",
        {
            "name": "Purchase completed",
            "key": "purchase_completed",
            "description": "",
            "status": "ready",
            "daily_quota": "",
            "attributes-TOTAL_FORMS": "2",
            "attributes-INITIAL_FORMS": "0",
            "attributes-0-position": "0",
            "attributes-0-name": "order_total",
            "attributes-0-type": "number",
            "attributes-0-required": "on",
            "attributes-1-position": "1",
            "attributes-1-name": "order.id",
            "attributes-1-type": "text",
        },
    )

    assert response.status_code == 302
    trigger = Trigger.objects.get(key="purchase_completed")
    assert list(trigger.attributes.values_list("name", "type", "required")) == [
        ("order_total", "number", True),
        ("order.id", "text", False),
    ]


def test_move_to_ready_lets_websites_raise_the_trigger(marketer_admin, cart_trigger, website):
    Trigger.objects.filter(pk=cart_trigger.pk).update(status=TriggerStatus.DRAFT)
    assert post(website, "/api/v1/events", cart_event(event_id="early")).status_code == 400

    response = marketer_admin.post(
        "/admin/triggers/trigger/",
        {"action": "move_to_ready", "_selected_action": [cart_trigger.pk, Trigger.objects.get(key="identify").pk]},
        follow=True,
    )

    assert "1 trigger(s) moved to Ready to use" in response.content.decode()
    assert post(website, "/api/v1/events", cart_event()).status_code == 202


def _raise_at(website, when: str, event_id: str) -> None:
    with time_machine.travel(when, tick=False):
        assert post(website, "/api/v1/events", cart_event(event_id=event_id)).status_code == 202


def test_a_trigger_shows_its_volume_over_24_hours_and_30_days(marketer_admin, cart_trigger, website):
    _raise_at(website, "2026-10-01 12:00:00Z", "too-old")
    _raise_at(website, "2026-11-10 12:00:00Z", "this-month")
    _raise_at(website, "2026-11-28 09:00:00Z", "today-1")
    _raise_at(website, "2026-11-28 11:00:00Z", "today-2")

    with time_machine.travel(NOW, tick=False):
        change = marketer_admin.get(f"/admin/triggers/trigger/{cart_trigger.pk}/change/").content.decode()
        listing = marketer_admin.get("/admin/triggers/trigger/?q=abandoned").content.decode()

    assert "2 in the last 24 hours, 3 in the last 30 days" in change
    row = re.search(r"<tr>.*?abandoned_cart.*?</tr>", listing, re.S).group(0)
    assert re.findall(r'<td class="field-events_last_(?:24_hours|30_days)">(\d+)</td>', row) == ["2", "3"]


def _listed_event_ids(page: str) -> list[str]:
    return re.findall(r'<td class="field-event_id">([^<]+)</td>', page)


def test_events_are_listed_read_only_with_filters_and_without_counting_the_table(marketer_admin, cart_trigger, website):
    other = Trigger.objects.create(key="purchase", name="Purchase completed", status="ready")
    _raise_at(website, "2026-11-20 12:00:00Z", "old")
    _raise_at(website, "2026-11-28 11:30:00Z", "recent")
    with time_machine.travel("2026-11-28 11:45:00Z", tick=False):
        post(website, "/api/v1/events", cart_event(trigger="purchase", event_id="p", attributes={}))
        post(website, "/api/v1/events", cart_event(event_id="ben", contact={"id": "cust-7"}))

    with time_machine.travel(NOW, tick=False), CaptureQueriesContext(connection) as queries:
        everything = marketer_admin.get("/admin/triggers/event/").content.decode()
    counts = [
        q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper() and "triggers_event" in q["sql"]
    ]
    with time_machine.travel(NOW, tick=False):
        by_trigger = marketer_admin.get(f"/admin/triggers/event/?trigger__id__exact={other.pk}").content.decode()
        last_hour = marketer_admin.get("/admin/triggers/event/?received=1h").content.decode()
        by_contact = marketer_admin.get("/admin/triggers/event/?q=cust-7").content.decode()

    assert _listed_event_ids(everything) == ["ben", "p", "recent", "old"]
    assert "4 events" in everything
    assert _listed_event_ids(by_trigger) == ["p"]
    assert _listed_event_ids(last_hour) == ["ben", "p", "recent"]
    assert _listed_event_ids(by_contact) == ["ben"]
    assert counts, "the list counts its page range"
    assert all("LIMIT 10001" in sql for sql in counts), counts
    assert marketer_admin.get(f"/admin/triggers/event/{Event.objects.first().pk}/change/").status_code == 200
    assert marketer_admin.get("/admin/triggers/event/add/").status_code == 403


def test_past_the_cap_the_event_list_says_more_than(marketer_admin, cart_trigger, monkeypatch):
    from triggers.admin import EventPaginator

    monkeypatch.setattr(EventPaginator, "CAP", 2)
    Event.objects.bulk_create(
        Event(
            trigger=cart_trigger, source="shop", contact_key=f"c{i}", received_at=timezone.now() - timedelta(minutes=i)
        )
        for i in range(4)
    )

    page = marketer_admin.get("/admin/triggers/event/").content.decode()

    assert "More than 2 events" in page
    assert len(re.findall(r'<td class="field-contact_key">', page)) == 4


def test_a_builtin_trigger_screen_says_it_cannot_be_sent(marketer_admin, db):
    identify = Trigger.objects.get(key="identify")

    page = marketer_admin.get(f"/admin/triggers/trigger/{identify.pk}/change/").content.decode()

    assert "The product raises this trigger itself" in page
    assert "integration-snippet" not in page
    assert "0 in the last 24 hours, 0 in the last 30 days" in page


def test_an_analyst_reads_a_trigger_screen_but_cannot_move_it_to_ready(client, analyst, cart_trigger):
    Trigger.objects.filter(pk=cart_trigger.pk).update(status=TriggerStatus.DRAFT)
    client.force_login(analyst)

    response = client.get(f"/admin/triggers/trigger/{cart_trigger.pk}/change/")
    client.post("/admin/triggers/trigger/", {"action": "move_to_ready", "_selected_action": [cart_trigger.pk]})

    assert response.status_code == 200
    assert "0 in the last 24 hours, 0 in the last 30 days" in response.content.decode()
    assert Trigger.objects.get(pk=cart_trigger.pk).status == TriggerStatus.DRAFT


@pytest.mark.parametrize(
    ("rate", "burst", "field"),
    [
        (100_000, 100_000_000, "rate_per_second"),
        (100, 100_000_000, "burst"),
        (0, 10, "rate_per_second"),
        (100, 50, "burst"),
    ],
)
def test_an_api_key_rate_and_burst_are_bounded(client, marketer, rate, burst, field):
    from triggers.models import ApiKey

    client.force_login(marketer)

    response = client.post(
        reverse("admin:triggers_apikey_add"),
        {"name": "Greedy", "scope": "events:write", "source": "greedy", "rate_per_second": rate, "burst": burst},
    )

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not ApiKey.objects.filter(name="Greedy").exists()


def test_the_bounds_of_api_keys_come_from_settings(db, settings):
    from django.core.exceptions import ValidationError

    from triggers.keys import create_api_key

    settings.API_KEY_MAX_RATE, settings.API_KEY_MAX_BURST = 10, 20
    with pytest.raises(ValidationError) as refused:
        create_api_key("Website", scope="events:write", rate_per_second=11, burst=20)

    assert list(refused.value.message_dict) == ["rate_per_second"]
    assert create_api_key("Website", scope="events:write", rate_per_second=10, burst=20)[0].burst == 20
