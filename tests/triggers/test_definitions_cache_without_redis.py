"""Without Redis, each web process keeps API keys and trigger schemas for a second: a change
made by this process is seen at once, one made by another process within that second.

These tests commit (transaction=True), as production does: nothing is kept inside a
transaction. "Another process" changes rows with QuerySet.update, which sends no signal, so
only the copy's age can tell this process about it.
"""

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from triggers import caching, ratelimit
from triggers.keys import revoke_api_keys
from triggers.models import ApiKey, Trigger, TriggerStatus

from .conftest import cart_event, post

URL = "/api/v1/events"
START = "2026-11-28 12:00:00Z"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def without_redis(settings, monkeypatch):
    settings.REDIS_URL = ""
    caching.API_KEYS.clear()
    caching.TRIGGER_SCHEMAS.clear()
    monkeypatch.setattr(ratelimit, "_database_limiter_of_process", None)


def _reads(queries: CaptureQueriesContext, table: str) -> int:
    """Reads of `table` in the FROM clause (the events' task, run inline in tests, joins triggers too)."""
    return sum(q["sql"].startswith("SELECT") and f'FROM "{table}"' in q["sql"] for q in queries)


def test_a_process_reads_its_key_and_triggers_once_a_second(website, cart_trigger):
    with time_machine.travel(START, tick=False) as traveller:
        post(website, URL, cart_event(event_id="1"))
        with CaptureQueriesContext(connection) as next_request:
            assert post(website, URL, cart_event(event_id="2")).status_code == 202
        traveller.shift(caching.UNSHARED_MAX_AGE)
        with CaptureQueriesContext(connection) as a_second_later:
            assert post(website, URL, cart_event(event_id="3")).status_code == 202

    assert (_reads(next_request, "triggers_apikey"), _reads(next_request, "triggers_trigger")) == (0, 0)
    assert (_reads(a_second_later, "triggers_apikey"), _reads(a_second_later, "triggers_trigger")) == (1, 1)


def test_a_key_revoked_by_another_process_is_refused_within_a_second(website, website_key, cart_trigger):
    with time_machine.travel(START, tick=False) as traveller:
        assert post(website, URL, cart_event(event_id="1")).status_code == 202
        ApiKey.objects.filter(pk=website_key[0].pk).update(revoked_at=timezone.now())  # another process
        traveller.shift(caching.UNSHARED_MAX_AGE / 2)
        meanwhile = post(website, URL, cart_event(event_id="2"))
        traveller.shift(caching.UNSHARED_MAX_AGE / 2)
        refused = post(website, URL, cart_event(event_id="3"))

    assert meanwhile.status_code == 202  # the bound, not a wish: up to a second of its old copy
    assert refused.status_code == 401
    assert refused.json()["code"] == "revoked_api_key"


def test_a_key_revoked_in_this_process_is_refused_at_once(website, website_key, cart_trigger):
    with time_machine.travel(START, tick=False):
        assert post(website, URL, cart_event(event_id="1")).status_code == 202
        revoke_api_keys(ApiKey.objects.filter(pk=website_key[0].pk))
        refused = post(website, URL, cart_event(event_id="2"))

    assert refused.status_code == 401
    assert refused.json()["code"] == "revoked_api_key"


def test_a_trigger_paused_by_another_process_refuses_events_within_a_second(website, cart_trigger):
    with time_machine.travel(START, tick=False) as traveller:
        assert post(website, URL, cart_event(event_id="1")).status_code == 202
        Trigger.objects.filter(pk=cart_trigger.pk).update(status=TriggerStatus.DRAFT)  # another process
        traveller.shift(caching.UNSHARED_MAX_AGE)
        refused = post(website, URL, cart_event(event_id="2"))

    assert refused.status_code == 400
