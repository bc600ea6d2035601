"""Fair use: each key's rate (with a burst) and each trigger's daily quota, answered 429 with
Retry-After, counted in Redis or in the database, never in process memory."""

import uuid
from datetime import date

import pytest
import redis
import time_machine
from rest_framework.test import APIClient

from triggers.keys import create_api_key
from triggers.models import DailyQuotaUsage, Event, RateLimitBucket, Trigger
from triggers.ratelimit import DatabaseLimiter, Decision, RedisLimiter, gcra, get_limiter

from .conftest import cart_event, post

URL = "/api/v1/events"
REDIS_TEST_URL = "redis://127.0.0.1:6379/14"


def _redis_or_skip() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_TEST_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("Redis is not running at 127.0.0.1:6379")
    return client


@pytest.fixture(params=["database", "redis"])
def counting_in(request, settings, db):
    """Run the test once with the database fallback and once against the real Redis."""
    if request.param == "database":
        settings.REDIS_URL = ""
        yield "database"
        return
    client = _redis_or_skip()
    prefix = f"test-{uuid.uuid4().hex}:"
    settings.REDIS_URL = REDIS_TEST_URL
    settings.RATE_LIMIT_PREFIX = prefix
    yield "redis"
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


@pytest.fixture
def slow_site(db) -> APIClient:
    """A key allowed 2 events at once, then 1 per second."""
    _, raw = create_api_key("Slow site", scope="events:write", source="slow", rate_per_second=1, burst=2)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_the_bucket_allows_the_burst_then_the_rate():
    tat, wait = gcra(0.0, now=100.0, rate=10, burst=5, cost=5)
    assert (tat, wait) == (100.5, 0.0)
    tat2, wait = gcra(tat, now=100.0, rate=10, burst=5, cost=1)
    assert tat2 == tat and wait == pytest.approx(0.1)
    assert gcra(tat, now=100.1, rate=10, burst=5, cost=1) == (pytest.approx(100.6), 0.0)


def test_beyond_its_rate_a_key_gets_a_429_with_retry_after(counting_in, slow_site, cart_trigger):
    with time_machine.travel("2026-11-28 12:00:00Z", tick=False) as traveller:
        answers = [post(slow_site, URL, cart_event(event_id=str(i))).status_code for i in range(3)]
        refused = post(slow_site, URL, cart_event(event_id="x"))
        traveller.shift(1.0)
        again = post(slow_site, URL, cart_event(event_id="later"))

    assert answers == [202, 202, 429]
    assert refused.status_code == 429
    assert refused["Retry-After"] == "1"
    assert refused.json()["code"] == "rate_limited"
    assert "1 events per second (burst 2)" in refused.json()["message"]
    assert again.status_code == 202
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["0", "1", "later"]


def test_a_batch_costs_one_token_per_event(counting_in, slow_site, cart_trigger):
    with time_machine.travel("2026-11-28 12:00:00Z", tick=False):
        response = post(slow_site, f"{URL}/batch", {"events": [cart_event(event_id=str(i)) for i in range(3)]})

    assert response.status_code == 429
    assert "exceed this key's burst of 2" in response.json()["message"]
    assert not Event.objects.exists()


def test_two_processes_share_one_bucket(counting_in):
    """Two limiter instances stand for two web processes: the second sees the first's spending."""
    if counting_in == "redis":
        first = RedisLimiter(redis.Redis.from_url(REDIS_TEST_URL), get_limiter().prefix)
        second = RedisLimiter(redis.Redis.from_url(REDIS_TEST_URL), get_limiter().prefix)
    else:
        first, second = DatabaseLimiter(), DatabaseLimiter()

    assert first.take("key:1", rate=1, burst=3, cost=2, now=1000.0).allowed
    assert second.take("key:1", rate=1, burst=3, cost=1, now=1000.0).allowed
    refused = first.take("key:1", rate=1, burst=3, cost=1, now=1000.0)
    assert (refused.allowed, refused.retry_after) == (False, 1)
    assert second.take("key:1", rate=1, burst=3, cost=1, now=1001.0).allowed


def test_the_database_fallback_keeps_one_row_per_key(db, settings, slow_site, cart_trigger):
    settings.REDIS_URL = ""
    post(slow_site, URL, cart_event(event_id="1"))
    post(slow_site, URL, cart_event(event_id="2"))

    assert RateLimitBucket.objects.count() == 1


@pytest.fixture
def quota_trigger(cart_trigger) -> Trigger:
    Trigger.objects.filter(pk=cart_trigger.pk).update(daily_quota=2)
    return cart_trigger


def test_beyond_its_daily_quota_a_trigger_gets_a_429_until_midnight_utc(counting_in, website, quota_trigger):
    with time_machine.travel("2026-11-28 23:00:00Z", tick=False):
        answers = [post(website, URL, cart_event(event_id=str(i))).status_code for i in range(2)]
        refused = post(website, URL, cart_event(event_id="2"))
    with time_machine.travel("2026-11-29 00:00:01Z", tick=False):
        next_day = post(website, URL, cart_event(event_id="3"))

    assert answers == [202, 202]
    assert refused.status_code == 429
    assert refused["Retry-After"] == "3600"
    assert refused.json()["code"] == "daily_quota_exceeded"
    assert "daily quota of 2 events" in refused.json()["message"]
    assert next_day.status_code == 202
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["0", "1", "3"]


def test_duplicates_do_not_use_the_quota(counting_in, website, quota_trigger):
    with time_machine.travel("2026-11-28 12:00:00Z", tick=False):
        post(website, URL, cart_event(event_id="1"))
        duplicates = [post(website, URL, cart_event(event_id="1")).json()["duplicate"] for _ in range(3)]
        second = post(website, URL, cart_event(event_id="2"))

    assert duplicates == [True, True, True]
    assert second.status_code == 202
    if counting_in == "database":
        assert DailyQuotaUsage.objects.get().count == 2


def test_a_batch_over_the_quota_stores_the_other_triggers_events(counting_in, website, quota_trigger):
    other = Trigger.objects.create(key="purchase", name="Purchase completed", status="ready")
    events = [cart_event(event_id=str(i)) for i in range(3)] + [
        cart_event(trigger=other.key, event_id="p", attributes={})
    ]

    with time_machine.travel("2026-11-28 12:00:00Z", tick=False):
        response = post(website, f"{URL}/batch", {"events": events})

    assert response.status_code == 207
    assert response["Retry-After"] == str(12 * 3600)
    assert [r["status"] for r in response.json()["results"]] == ["rejected"] * 3 + ["accepted"]
    assert response.json()["results"][0]["errors"][0]["code"] == "daily_quota_exceeded"
    assert list(Event.objects.values_list("event_id", flat=True)) == ["p"]


def test_quota_reservations_are_all_or_nothing(counting_in):
    limiter = get_limiter()
    trigger = Trigger.objects.create(key="t", name="T", status="ready")
    day = date(2026, 11, 28)

    assert limiter.reserve_quota(trigger.pk, quota=5, count=3, day=day)
    assert not limiter.reserve_quota(trigger.pk, quota=5, count=3, day=day)
    assert limiter.reserve_quota(trigger.pk, quota=5, count=2, day=day)
    limiter.refund_quota(trigger.pk, count=1, day=day)
    assert limiter.reserve_quota(trigger.pk, quota=5, count=1, day=day)
    assert not limiter.reserve_quota(trigger.pk, quota=5, count=1, day=day)
    assert limiter.reserve_quota(trigger.pk, quota=5, count=5, day=date(2026, 11, 29))


def test_a_bucket_another_process_creates_between_two_statements_is_spent_not_refused(db, monkeypatch):
    """The race behind a spurious 429: our UPDATE finds no row, another process creates the
    bucket, and our SELECT then finds one with room in it."""
    limiter = DatabaseLimiter()
    spend = DatabaseLimiter._spend
    calls = []

    def spend_after_another_process(self, key, **kwargs):
        calls.append(key)
        if len(calls) == 1:
            RateLimitBucket.objects.create(key=key, tat=kwargs["now"] + 0.005)  # The other process.
            return False
        return spend(self, key, **kwargs)

    monkeypatch.setattr(DatabaseLimiter, "_spend", spend_after_another_process)

    decision = limiter.take("key:1", rate=200, burst=1000, cost=1, now=1000.0)

    assert decision.allowed
    assert calls == ["key:1", "key:1"]
    assert RateLimitBucket.objects.get().tat == pytest.approx(1000.010)


@pytest.fixture
def redis_limiter(db):
    client = _redis_or_skip()
    prefix = f"test-{uuid.uuid4().hex}:"
    yield RedisLimiter(redis.Redis.from_url(REDIS_TEST_URL), prefix), client
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def _take_reading(limiter: RedisLimiter, now: float = 1000.0):
    return limiter.take_reading("key:1", f"{limiter.prefix}token", rate=1, burst=3, cost=1, now=now)


def test_the_ingest_script_survives_redis_forgetting_it(redis_limiter):
    """After a Redis restart (or SCRIPT FLUSH) the script is loaded again and counted once."""
    limiter, client = redis_limiter
    client.set(f"{limiter.prefix}token", b"v1")
    assert _take_reading(limiter) == (Decision(True), b"v1")
    client.script_flush()

    assert _take_reading(limiter) == (Decision(True), b"v1")
    assert _take_reading(limiter) == (Decision(True), b"v1")
    refused, token = _take_reading(limiter)
    assert (refused.allowed, token) == (False, b"v1")  # three taken: one per call, none twice


def test_the_ingest_script_survives_its_connection_being_cut(redis_limiter):
    limiter, client = redis_limiter
    assert _take_reading(limiter)[0].allowed
    own = limiter._scripts._connection()
    client.client_kill_filter(_id=_client_id(client, own))

    assert _take_reading(limiter)[0].allowed
    assert _take_reading(limiter)[0].allowed
    assert not _take_reading(limiter)[0].allowed


def _client_id(client: redis.Redis, connection) -> int:
    """The server's id for one of our connections, by its local port."""
    port = connection._sock.getsockname()[1]
    return next(c["id"] for c in client.client_list() if c["addr"].endswith(f":{port}"))


def test_each_process_and_thread_has_its_own_script_connection(redis_limiter, monkeypatch):
    """A forked web worker must not write on its parent's socket, nor two threads on one."""
    import os
    import threading

    limiter, _ = redis_limiter
    parent = limiter._scripts._connection()
    assert limiter._scripts._connection() is parent
    seen = []
    thread = threading.Thread(target=lambda: seen.append(limiter._scripts._connection()))
    thread.start()
    thread.join()
    monkeypatch.setattr(os, "getpid", lambda: -1)  # as in a child forked after the first call

    assert seen[0] is not parent
    assert limiter._scripts._connection() is not parent
    assert _take_reading(limiter)[0].allowed
