"""Fair use: a rate per API key (token bucket) and a daily quota per trigger.

Counted where every web process sees the same numbers: in Redis when REDIS_URL is set (one
Lua script call, atomic on the server), else in the database (one conditional UPDATE).
Never in process memory, which would multiply the limits by the number of processes.

The rate is a token bucket written as GCRA (the generic cell rate algorithm): a key's state
is one number, the "theoretical arrival time" `tat`. Each event moves it forward by
1/rate seconds; a request is refused when that would push `tat` more than `burst/rate`
seconds past now. So a key may send `burst` events at once, then `rate` per second.
"""

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Protocol

import redis
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest

from .models import DailyQuotaUsage, RateLimitBucket


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0  # whole seconds, for the Retry-After header

    @classmethod
    def refuse(cls, seconds: float) -> "Decision":
        return cls(False, max(1, math.ceil(seconds)))


ALLOWED = Decision(True)


class Limiter(Protocol):
    def take(self, key: str, *, rate: int, burst: int, cost: int, now: float) -> Decision: ...

    def reserve_quota(self, trigger_id: int, *, quota: int, count: int, day: date) -> bool: ...

    def refund_quota(self, trigger_id: int, *, count: int, day: date) -> None: ...


def gcra(tat: float, *, now: float, rate: int, burst: int, cost: int) -> tuple[float, float]:
    """The bucket's decision as a pure function: (new tat, seconds to wait; 0 when allowed)."""
    interval = 1.0 / rate
    new_tat = max(tat, now) + cost * interval
    wait = new_tat - now - burst * interval
    return (new_tat, 0.0) if wait <= 0 else (tat, wait)


def seconds_to_next_day(now: datetime) -> float:
    """Quotas are per UTC day: a refused request may come back at the next midnight UTC."""
    tomorrow = datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time(), tzinfo=UTC)
    return (tomorrow - now).total_seconds()


class DatabaseLimiter:
    """The fallback without Redis: small tables updated with atomic statements."""

    # Each attempt ends in a decision unless another process changed the row between our
    # statements; past a few such races the request is refused for a second, not looped on.
    ATTEMPTS = 5

    def take(self, key: str, *, rate: int, burst: int, cost: int, now: float) -> Decision:
        interval = 1.0 / rate
        if cost > burst:  # More than the bucket holds: no wait makes it fit.
            return Decision.refuse(gcra(now, now=now, rate=rate, burst=burst, cost=cost)[1])
        for _ in range(self.ATTEMPTS):
            if self._spend(key, now=now, interval=interval, burst=burst, cost=cost):
                return ALLOWED
            tat = RateLimitBucket.objects.filter(key=key).values_list("tat", flat=True).first()
            if tat is None:
                try:
                    with transaction.atomic():
                        RateLimitBucket.objects.create(key=key, tat=now + cost * interval)
                    return ALLOWED
                except IntegrityError:  # Another process created it first: take from its bucket.
                    continue
            wait = gcra(tat, now=now, rate=rate, burst=burst, cost=cost)[1]
            if wait > 0:
                return Decision.refuse(wait)
            # The bucket had room after all: another process created or refilled it between
            # our UPDATE and SELECT. Spend from it again.
        return Decision.refuse(1)

    def _spend(self, key: str, *, now: float, interval: float, burst: int, cost: int) -> bool:
        # max(tat, now) + cost*interval <= now + burst*interval, with cost <= burst, is just
        # tat <= now + (burst - cost)*interval. One conditional UPDATE: the row lock serialises
        # concurrent requests of the key and the WHERE is re-checked after the lock, so two
        # processes cannot both spend the same tokens.
        return bool(
            RateLimitBucket.objects.filter(key=key, tat__lte=now + (burst - cost) * interval).update(
                tat=Greatest(F("tat"), Value(now)) + Value(cost * interval)
            )
        )

    def reserve_quota(self, trigger_id: int, *, quota: int, count: int, day: date) -> bool:
        usage = DailyQuotaUsage.objects.filter(trigger_id=trigger_id, day=day)
        if usage.filter(count__lte=quota - count).update(count=F("count") + count):
            return True
        if count > quota or usage.exists():
            return False
        try:
            with transaction.atomic():
                DailyQuotaUsage.objects.create(trigger_id=trigger_id, day=day, count=count)
            return True
        except IntegrityError:
            return self.reserve_quota(trigger_id, quota=quota, count=count, day=day)

    def refund_quota(self, trigger_id: int, *, count: int, day: date) -> None:
        DailyQuotaUsage.objects.filter(trigger_id=trigger_id, day=day, count__gte=count).update(
            count=F("count") - count
        )


# Both scripts run atomically inside Redis: no other client sees a half-made decision.
_TAKE = """
local tat = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
local now, interval, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if tat < now then tat = now end
local new_tat = tat + cost * interval
local wait = new_tat - now - burst * interval
if wait > 0 then return tostring(wait) end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
return '0'
"""
# The same, also returning another key's value (the API keys' version token, triggers.caching):
# the ingest endpoints check their cached key in the rate limit's round trip.
_TAKE_READING = """
local tat = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
local now, interval, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local token = redis.call('GET', KEYS[2]) or ''
if tat < now then tat = now end
local new_tat = tat + cost * interval
local wait = new_tat - now - burst * interval
if wait > 0 then return {tostring(wait), token} end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
return {'0', token}
"""
_RESERVE = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used + tonumber(ARGV[1]) > tonumber(ARGV[2]) then return 0 end
redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], 172800)
return 1
"""


class RedisLimiter:
    """Counts in Redis: one round trip per decision, shared by every web process."""

    def __init__(self, client: redis.Redis, prefix: str = "journeys:limits:") -> None:
        self.client = client
        self.prefix = prefix
        self._take = client.register_script(_TAKE)
        self._take_reading = client.register_script(_TAKE_READING)
        self._reserve = client.register_script(_RESERVE)

    def take(self, key: str, *, rate: int, burst: int, cost: int, now: float) -> Decision:
        # `now` comes from the web process (not Redis' TIME) so tests can travel in time;
        # web servers keep their clocks in sync with NTP.
        wait = float(self._take(keys=[f"{self.prefix}rate:{key}"], args=[repr(now), repr(1.0 / rate), burst, cost]))
        return ALLOWED if wait <= 0 else Decision.refuse(wait)

    def take_reading(
        self, key: str, read: str, *, rate: int, burst: int, cost: int, now: float
    ) -> tuple[Decision, bytes]:
        """`take`, and the value of the Redis key `read` (b"" if missing), in one round trip."""
        wait, value = self._take_reading(
            keys=[f"{self.prefix}rate:{key}", read], args=[repr(now), repr(1.0 / rate), burst, cost]
        )
        return (ALLOWED if float(wait) <= 0 else Decision.refuse(float(wait))), value

    def _quota_key(self, trigger_id: int, day: date) -> str:
        return f"{self.prefix}quota:{trigger_id}:{day.isoformat()}"

    def reserve_quota(self, trigger_id: int, *, quota: int, count: int, day: date) -> bool:
        return bool(self._reserve(keys=[self._quota_key(trigger_id, day)], args=[count, quota]))

    def refund_quota(self, trigger_id: int, *, count: int, day: date) -> None:
        self.client.decrby(self._quota_key(trigger_id, day), count)


@cache
def _redis_limiter(url: str, prefix: str) -> RedisLimiter:
    return RedisLimiter(redis.Redis.from_url(url), prefix)


def get_limiter() -> Limiter:
    """Redis when REDIS_URL is set, the database otherwise. Read per call so tests can switch."""
    url = getattr(settings, "REDIS_URL", "")
    if url:
        return _redis_limiter(url, getattr(settings, "RATE_LIMIT_PREFIX", "journeys:limits:"))
    return DatabaseLimiter()
