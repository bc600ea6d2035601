"""The database rate limiter's leases: a process takes a tenth of a second of a key's rate from
the row at once and spends it from memory, and several processes together still never spend
more than the row holds. Each DatabaseLimiter instance stands for one web process."""

import threading

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from triggers import ratelimit
from triggers.keys import create_api_key
from triggers.models import Event, RateLimitBucket
from triggers.ratelimit import LEASE_SECONDS, DatabaseLimiter

from .conftest import cart_event, post

URL = "/api/v1/events"
# A key allowed 100 events at once, then 100 a second: a lease holds 10 tokens.
LIMITS = {"rate": 100, "burst": 100}


@pytest.fixture
def fresh_limiter(settings, monkeypatch):
    """Counting in the database, with no lease left by another test in this process."""
    settings.REDIS_URL = ""
    monkeypatch.setattr(ratelimit, "_database_limiter_of_process", None)


def _allowed(limiter: DatabaseLimiter, times: int, now: float, cost: int = 1) -> int:
    return sum(limiter.take("key:1", cost=cost, now=now, **LIMITS).allowed for _ in range(times))


def test_a_lease_serves_the_next_requests_without_a_query(transactional_db, fresh_limiter):
    web = DatabaseLimiter()
    assert web.take("key:1", cost=1, now=1000.0, **LIMITS).allowed  # the key's first: makes its row
    with CaptureQueriesContext(connection) as lease:
        assert web.take("key:1", cost=1, now=1000.0, **LIMITS).allowed
    with CaptureQueriesContext(connection) as next_nine:
        assert _allowed(web, 9, now=1000.05) == 9
    with CaptureQueriesContext(connection) as after_the_lease:
        assert web.take("key:1", cost=1, now=1000.06, **LIMITS).allowed

    assert (len(lease), len(next_nine), len(after_the_lease)) == (1, 0, 1)
    # The row holds what was taken: 1 token, then two leases of 10, 0.01 s each.
    assert RateLimitBucket.objects.get().tat == pytest.approx(1000.21)


def test_two_processes_with_leases_never_spend_more_than_the_bucket(transactional_db, fresh_limiter):
    first, second = DatabaseLimiter(), DatabaseLimiter()

    # Time stands still: the bucket's 100 tokens are all there is, whoever holds leases.
    allowed = [_allowed(limiter, 1, now=1000.0) for _ in range(150) for limiter in (first, second)]

    assert sum(allowed) == 100
    refused = first.take("key:1", cost=1, now=1000.0, **LIMITS)
    assert not refused.allowed and refused.retry_after == 1


def test_the_last_tokens_of_a_bucket_go_one_by_one_to_whoever_asks(transactional_db, fresh_limiter):
    first, second = DatabaseLimiter(), DatabaseLimiter()
    # The key's first token makes its row, then leases of 10: 91 taken, 6 of them unspent.
    assert _allowed(first, 85, now=1000.0) == 85

    # 9 left: too few for a lease, the row gives second one at a time; first spends what it holds.
    assert _allowed(second, 12, now=1000.0) == 9
    assert _allowed(first, 10, now=1000.0) == 6


def test_an_ended_lease_gives_its_unspent_tokens_back(transactional_db, fresh_limiter):
    first = DatabaseLimiter()
    assert _allowed(first, 2, now=1000.0) == 2  # the row, then a lease of 10: 9 unspent

    later = 1000.0 + LEASE_SECONDS * 3  # the lease ended; the bucket is full again
    assert first.take("key:1", cost=1, now=later, **LIMITS).allowed

    # The row counts the 10 tokens of the new lease only, not the 9 never spent (it would
    # be later + 0.19 if they were kept from the others).
    assert RateLimitBucket.objects.get().tat == pytest.approx(later + 0.1)


def test_unspent_tokens_given_back_serve_another_process(transactional_db, fresh_limiter):
    first, second = DatabaseLimiter(), DatabaseLimiter()
    assert _allowed(first, 2, now=1000.0) == 2  # the row, then a lease of 10: 9 unspent
    assert _allowed(second, 99, now=1000.0) == 89  # the row is empty; first still holds 9

    # The lease ended: a tenth of a second refilled 10 tokens, and first gives back its 9 with
    # its next statement (a new lease of 10), so 9 are left for second instead of none.
    later = 1000.0 + LEASE_SECONDS
    assert _allowed(first, 1, now=later) == 1
    assert _allowed(second, 30, now=later) == 9


def test_a_key_whose_limits_change_does_not_spend_the_old_lease(transactional_db, fresh_limiter):
    web = DatabaseLimiter()
    assert _allowed(web, 2, now=1000.0) == 2  # the row, then a lease of 10 at 100/s: 9 unspent

    # An admin lowers the key to 1/s with a burst of 2: the row alone decides (no lease).
    answers = [web.take("key:1", rate=1, burst=2, cost=1, now=1000.0).allowed for _ in range(3)]

    # The 9 unspent tokens went back at 0.01 s each (not at the new second each): the two
    # spent leave room for one more at 1/s with a burst of 2.
    assert answers == [True, False, False]


def test_no_lease_inside_a_transaction(db, fresh_limiter):
    """A rollback would undo the row's UPDATE and leave the process tokens nobody took."""
    web = DatabaseLimiter()
    with CaptureQueriesContext(connection) as queries:
        assert _allowed(web, 3, now=1000.0) == 3

    assert len([q for q in queries if q["sql"].startswith("UPDATE")]) == 3
    assert RateLimitBucket.objects.get().tat == pytest.approx(1000.03)


def test_a_key_spent_by_another_web_process_gets_a_429_naming_its_limit(transactional_db, fresh_limiter, cart_trigger):
    api_key, raw = create_api_key("Busy site", scope="events:write", source="busy", rate_per_second=100, burst=100)
    website = APIClient()
    website.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    def another_web_process() -> None:  # its own limiter and its own database connection
        try:
            other = DatabaseLimiter()
            assert sum(other.take(f"key:{api_key.pk}", cost=1, now=now, **LIMITS).allowed for _ in range(90)) == 90
        finally:
            connection.close()

    with time_machine.travel("2026-11-28 12:00:00Z", tick=False):
        from django.utils import timezone

        now = timezone.now().timestamp()
        thread = threading.Thread(target=another_web_process)
        thread.start()
        thread.join()
        answers = [post(website, URL, cart_event(event_id=str(i))) for i in range(15)]

    # The other process took 91 tokens (it holds one unspent): 9 are left for this one.
    assert [a.status_code for a in answers] == [202] * 9 + [429] * 6
    refused = answers[-1].json()
    assert refused["code"] == "rate_limited"
    assert refused["message"] == "Rate limit of 100 events per second (burst 100) reached; nothing was stored."
    assert answers[-1]["Retry-After"] == "1"
    assert Event.objects.count() == 9
