"""Fair use: a rate per API key (token bucket) and a daily quota per trigger.

Counted where every web process sees the same numbers: in Redis when REDIS_URL is set (one
Lua script call, atomic on the server), else in the database (one conditional UPDATE).
Never in process memory, which would multiply the limits by the number of processes.

The rate is a token bucket written as GCRA (the generic cell rate algorithm): a key's state
is one number, the "theoretical arrival time" `tat`. Each event moves it forward by
1/rate seconds; a request is refused when that would push `tat` more than `burst/rate`
seconds past now. So a key may send `burst` events at once, then `rate` per second.

In the database a process does not spend one token per request: it takes a small *lease* of
tokens (a tenth of a second of the key's rate) from the row at once and spends it from memory,
so most requests touch no rate-limit row. A lease is good for `LEASE_SECONDS`; its unused tokens
go back to the row with the next statement of the process. Taken tokens are gone from the row,
so several processes can never spend more than the row allows; what a lease changes is only
*when* tokens are spent: one taken while the bucket was low may be spent a moment later, after
the bucket refilled. So in any `w` seconds a key is allowed at most
`burst + rate * (w + LEASE_SECONDS)` events (200/s, burst 1,000: 1,020 at once instead of
1,000), however many processes serve it; without leases the bound is `burst + rate * w`.
A request a lease cannot cover is decided on the row itself, as before, so the last tokens of a
bucket are spent one by one and a refusal and its Retry-After are the row's.
"""

import math
import os
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any, Protocol

import redis
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from redis.commands.core import Script

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


# Sums of intervals in floating point miss by a few ulps (ten leases of 0.1 s are not 1.0 s):
# a microsecond of slack, far below any key's interval, keeps the last token of a bucket.
SLACK = 1e-6


def gcra(tat: float, *, now: float, rate: int, burst: int, cost: int) -> tuple[float, float]:
    """The bucket's decision as a pure function: (new tat, seconds to wait; 0 when allowed)."""
    interval = 1.0 / rate
    new_tat = max(tat, now) + cost * interval
    wait = new_tat - now - burst * interval
    return (new_tat, 0.0) if wait <= SLACK else (tat, wait)


def seconds_to_next_day(now: datetime) -> float:
    """Quotas are per UTC day: a refused request may come back at the next midnight UTC."""
    tomorrow = datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time(), tzinfo=UTC)
    return (tomorrow - now).total_seconds()


# How long a lease of tokens lasts, and so how much of a second of the key's rate it holds.
LEASE_SECONDS = 0.1


def lease_size(*, rate: int, burst: int) -> int:
    """Tokens taken from the row at once: a lease's worth of the rate, never over the burst."""
    return min(burst, math.ceil(rate * LEASE_SECONDS))


@dataclass
class _Lease:
    """Tokens this process took from a key's row and has not spent yet."""

    tokens: int
    taken_at: float  # `now` when taken: good until taken_at + LEASE_SECONDS
    limits: tuple[int, int]  # (rate, burst) it was taken under: a changed key takes a new one

    def covers(self, cost: int, *, now: float, limits: tuple[int, int]) -> bool:
        # A clock that went back (time travel in tests, NTP) ends a lease like expiry does.
        fresh = self.taken_at <= now < self.taken_at + LEASE_SECONDS
        return fresh and self.limits == limits and self.tokens >= cost


class DatabaseLimiter:
    """The fallback without Redis: small tables updated with atomic statements.

    One instance per process (`get_limiter`) holds that process's leases; tests make a second
    instance to stand for a second process.
    """

    # Each attempt ends in a decision unless another process changed the row between our
    # statements; past a few such races the request is refused for a second, not looped on.
    ATTEMPTS = 5

    def __init__(self) -> None:
        self._leases: dict[str, _Lease] = {}
        # Unused tokens of ended leases, in seconds of the row's tat (tokens times the interval
        # they were taken at), returned with the next statement that changes the row (a
        # refused one changes nothing: they wait for the next).
        self._returns: dict[str, float] = {}
        self._lock = threading.Lock()  # threaded web servers share the instance

    def take(self, key: str, *, rate: int, burst: int, cost: int, now: float) -> Decision:
        with self._lock:
            lease = self._leases.get(key)
            if lease is not None and lease.covers(cost, now=now, limits=(rate, burst)):
                lease.tokens -= cost
                return ALLOWED
            if lease is not None:
                del self._leases[key]
                self._returns[key] = self._returns.get(key, 0.0) + lease.tokens / lease.limits[0]
            block = lease_size(rate=rate, burst=burst)
            # One statement for the lease; if the row is missing or too low for it, the row
            # decides this request alone below. Never inside a transaction: a rollback would
            # undo the row's UPDATE and leave this process tokens nobody took.
            if (
                block > cost
                and not connection.in_atomic_block
                and self._spend(key, now=now, interval=1.0 / rate, burst=burst, cost=block)
            ):
                self._leases[key] = _Lease(block - cost, now, (rate, burst))
                return ALLOWED
            # Too few tokens left for a lease (or a lease would hold just this request's): the
            # row decides this request alone, exactly as without leases.
            return self._take_from_row(key, rate=rate, burst=burst, cost=cost, now=now)

    def _take_from_row(self, key: str, *, rate: int, burst: int, cost: int, now: float) -> Decision:
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
                    self._returns.pop(key, None)  # Nothing to return to a row made anew.
                    return ALLOWED
                except IntegrityError:  # Another process created it first: take from its bucket.
                    continue
            wait = gcra(tat - self._returns.get(key, 0.0), now=now, rate=rate, burst=burst, cost=cost)[1]
            if wait > 0:
                return Decision.refuse(wait)
            # The bucket had room after all: another process created or refilled it between
            # our UPDATE and SELECT. Spend from it again.
        return Decision.refuse(1)

    def _spend(self, key: str, *, now: float, interval: float, burst: int, cost: int) -> bool:
        # Returning the unused tokens of ended leases moves tat back by as many intervals: as if they
        # had never been taken (max(tat, now) below keeps a full bucket from overflowing).
        # Then max(tat, now) + cost*interval <= now + burst*interval, with cost <= burst, is
        # just tat <= now + (burst - cost)*interval. One conditional UPDATE: the row lock
        # serialises concurrent requests of the key and the WHERE is re-checked after the
        # lock, so two processes cannot both spend the same tokens. Raw SQL: with leases it
        # runs a few times a second, but without them (slow keys) on every request, where the
        # ORM's UPDATE cost three times the CPU.
        tat, table, key_column = (
            connection.ops.quote_name(name) for name in ("tat", RateLimitBucket._meta.db_table, "key")
        )
        greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"  # SQLite's two-argument MAX
        back = self._returns.get(key, 0.0)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET {tat} = {greatest}({tat} - %s, %s) + %s WHERE {key_column} = %s AND {tat} - %s <= %s",
                [back, now, cost * interval, key, back, now + (burst - cost) * interval + SLACK],
            )
            spent = cursor.rowcount == 1
        if spent:
            self._returns.pop(key, None)
        return spent

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


class _ScriptConnection:
    """One connection per process and thread for the script every ingest request runs.

    redis-py's full path (the pool's lock, a poll() of the connection before each command,
    the retry wrapper, the script's own wrapper) cost half of the round trip's CPU in the web
    process (95 µs against 50 µs per call, docs/performance.md); this sends the packed EVALSHA
    and reads the answer on a connection of its own. What it does not do itself it leaves to
    redis-py: a script Redis lost (NOSCRIPT, after a restart or SCRIPT FLUSH) and a broken
    connection go through the client's own call once, which loads the script, reconnects and
    raises what it raises."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._local = threading.local()  # threaded web servers: a connection per thread

    def _connection(self) -> redis.connection.ConnectionInterface:
        held = getattr(self._local, "held", None)
        if held is None or held[0] != os.getpid():  # a forked child must not share the parent's socket
            held = (os.getpid(), self.client.connection_pool.make_connection())
            self._local.held = held
        return held[1]

    def run(self, script: Script, keys: list[str], args: list) -> Any:
        connection = self._connection()
        try:
            connection.send_packed_command(
                connection.pack_command("EVALSHA", script.sha, len(keys), *keys, *args), check_health=False
            )
            return connection.read_response()
        except (redis.ConnectionError, redis.TimeoutError, redis.exceptions.NoScriptError):
            connection.disconnect()  # a half-read answer must not be the next call's
            return script(keys=keys, args=args)


class RedisLimiter:
    """Counts in Redis: one round trip per decision, shared by every web process."""

    def __init__(self, client: redis.Redis, prefix: str = "journeys:limits:") -> None:
        self.client = client
        self.prefix = prefix
        self._take = client.register_script(_TAKE)
        self._take_reading = client.register_script(_TAKE_READING)
        self._reserve = client.register_script(_RESERVE)
        self._scripts = _ScriptConnection(client)

    def take(self, key: str, *, rate: int, burst: int, cost: int, now: float) -> Decision:
        # `now` comes from the web process (not Redis' TIME) so tests can travel in time;
        # web servers keep their clocks in sync with NTP.
        wait = float(self._take(keys=[f"{self.prefix}rate:{key}"], args=[repr(now), repr(1.0 / rate), burst, cost]))
        return ALLOWED if wait <= 0 else Decision.refuse(wait)

    def take_reading(
        self, key: str, read: str, *, rate: int, burst: int, cost: int, now: float
    ) -> tuple[Decision, bytes]:
        """`take`, and the value of the Redis key `read` (b"" if missing), in one round trip."""
        wait, value = self._scripts.run(
            self._take_reading, [f"{self.prefix}rate:{key}", read], [repr(now), repr(1.0 / rate), burst, cost]
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


_database_limiter_of_process: tuple[int, DatabaseLimiter] | None = None


def _database_limiter() -> DatabaseLimiter:
    """The process's one DatabaseLimiter (its leases). Per process id: a child forked after a
    lease was taken must not spend the parent's tokens a second time."""
    global _database_limiter_of_process
    if _database_limiter_of_process is None or _database_limiter_of_process[0] != os.getpid():
        _database_limiter_of_process = (os.getpid(), DatabaseLimiter())
    return _database_limiter_of_process[1]


def get_limiter() -> Limiter:
    """Redis when REDIS_URL is set, the database otherwise. Read per call so tests can switch."""
    url = getattr(settings, "REDIS_URL", "")
    if url:
        return _redis_limiter(url, getattr(settings, "RATE_LIMIT_PREFIX", "journeys:limits:"))
    return _database_limiter()
