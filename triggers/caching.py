"""Per-process caches of what every ingest request reads: API keys and trigger schemas.

Both change rarely (an admin edits a key or a trigger) and are read on every request, where
loading them from the database cost a third of the request's CPU (docs/performance.md).
Each web process keeps what it loaded, tagged with a *version token* that lives in Redis
(the store the rate limiter already shares between processes). Every request reads the
token once (one GET, ~40 µs of CPU, shared by both caches) and uses a copy only when the
token is the one it was loaded under; every change of a key, trigger or attribute replaces
the token, so a revoked key is refused by every process from the next request on, not
after a timeout.

The token is replaced twice per change: at once (so this process, and tests that never
commit, see the change) and again after the transaction commits (so a process that loaded
the old rows between the first replacement and the commit does not keep them). The token
is read before loading, so a change racing a load leaves the loaded copy tagged with an
older token: it is loaded again on the next request, never kept stale.

The ingest endpoints save even that GET: they take the key from this process's copy without
reading the token (`defer_token_check`), and the rate limiter's script, which runs on every
ingest request anyway, returns the token in the same round trip (`triggers.ingest.check_rate`).
When the token moved, the key is loaded again and checked again before anything is stored;
an answer given before the rate check (a malformed body) checks the token first (the views).

Changes that bypass the model signals (`QuerySet.update`, `bulk_create`, raw SQL) must
call `definitions_changed()` themselves (`triggers.keys` and `triggers.definitions` do); as
a last guard an entry is also dropped after `MAX_AGE` seconds.

Without REDIS_URL there is no shared store to announce a change through, so a copy is kept
for `UNSHARED_MAX_AGE` seconds only: the process that makes a change drops its copies at once
(the same signals), and every other process loads again within that second. So without Redis
a revoked key or a paused trigger is refused everywhere within a second; under load that is
one read of each per process per second instead of one per request.
"""

import time
import uuid
from collections.abc import Callable, Hashable
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from typing import Generic, TypeVar, cast

import redis
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import connection, transaction
from django.db.models.signals import post_delete, post_save

from .models import ApiKey, Trigger, TriggerAttribute
from .validation import TriggerSchema

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# An entry older than this is loaded again even if no change was announced.
MAX_AGE = 60.0
# Without Redis: how long another process's change (a revoked key) may go unseen here.
UNSHARED_MAX_AGE = 1.0
# Bound per cache: schemas are cached per combination of trigger names a request sends.
MAX_ENTRIES = 1000


@cache
def _client(url: str) -> redis.Redis:
    # redis-py itself (not django.core.cache): its GET costs ~40 µs of CPU, the cache
    # framework's ~180 µs. The pool reconnects after a fork (gunicorn workers).
    return redis.Redis.from_url(url)


@dataclass
class _RequestState:
    """What the current request knows of the token."""

    token: bytes | None = None  # read (or returned by the rate limiter) during this request
    token_key: str = ""
    defer: bool = False  # the view checks the token with its rate limit (defer_token_check)
    pending: bytes | None = None  # the token the key was loaded under, while not yet checked


# Both caches are read in one request (the key, then the schemas), and one read of the token
# serves both. Set only between request_started and request_finished; outside a request
# (tasks, shell) every read goes to Redis.
_state_of_request: ContextVar[_RequestState | None] = ContextVar("triggers_cache_state", default=None)


def _request_started(**kwargs: object) -> None:
    _state_of_request.set(_RequestState())


def _request_finished(**kwargs: object) -> None:
    _state_of_request.set(None)


def defer_token_check() -> None:
    """For this request, take a cached key without reading the token: the caller promises
    to check it (`token_checked`) before it stores anything or answers."""
    state = _state_of_request.get()
    if state is not None:
        state.defer = True


def pending_token() -> bytes | None:
    """The token the request's key was loaded under, if nothing has checked it yet."""
    state = _state_of_request.get()
    return None if state is None else state.pending


def token_checked(token: bytes) -> bool:
    """Record the current token (read with the rate limit); False if the request's key was
    loaded under another one and must be loaded again."""
    state = _state_of_request.get()
    if state is None:
        return True
    current = state.pending is None or state.pending == token
    state.pending, state.defer = None, False
    if token:
        state.token, state.token_key = token, version_key()
    else:  # Redis lost the token: the next read starts one.
        state.token, current = None, False
    return current


def shared_client() -> redis.Redis | None:
    """The Redis shared by every web process, or None without REDIS_URL (read per call so
    tests can switch)."""
    url = getattr(settings, "REDIS_URL", "")
    return _client(url) if url else None


def version_key() -> str:
    return f"{getattr(settings, 'TRIGGERS_CACHE_PREFIX', 'journeys:triggers:')}definitions-version"


def current_token(client: redis.Redis) -> bytes:
    """The shared version token, read at most once per request."""
    state = _state_of_request.get()
    if state is not None and state.token is not None and state.token_key == version_key():
        return state.token
    token = cast("bytes | None", client.get(version_key()))  # the client does not decode responses
    if token is None:  # First use, or Redis lost it: start a token; nothing cached is current.
        client.set(version_key(), uuid.uuid4().hex, nx=True)
        token = cast(bytes, client.get(version_key()) or b"")
    if state is not None:
        state.token, state.token_key = token, version_key()
    return token


def definitions_changed() -> None:
    """Announce a change of an API key, trigger or attribute: every process loads again."""
    _clear_copies()
    client = shared_client()
    if client is None:
        if connection.in_atomic_block:
            # A request of this process (another thread) may load the old rows before the
            # commit: drop its copies again once the change is visible.
            transaction.on_commit(_clear_copies, robust=True)
        return
    _replace_token(client)
    if connection.in_atomic_block:
        # robust: the change is committed; a failed second replacement must not turn it
        # into an error (MAX_AGE bounds what it could leave stale).
        transaction.on_commit(lambda: _replace_token(client), robust=True)


def _clear_copies() -> None:
    for versioned in (API_KEYS, TRIGGER_SCHEMAS):
        versioned.clear()


def _replace_token(client: redis.Redis) -> None:
    state = _state_of_request.get()
    if state is not None:
        state.token = None  # A request that changes something reads the new token afterwards.
    client.set(version_key(), uuid.uuid4().hex)


class VersionedCache(Generic[K, V]):
    """Values loaded from the database, kept while the shared version token is unchanged."""

    def __init__(self, name: str, *, cache_misses: bool, deferrable: bool = False) -> None:
        self.name = name
        # Whether a request may take a copy before checking the token (defer_token_check).
        self.deferrable = deferrable
        # Whether a load that found nothing (None) is kept too. Not for API keys: anyone
        # can send random keys, and a miss must not cost memory.
        self.cache_misses = cache_misses
        self._entries: dict[K, tuple[bytes, V | None, float]] = {}
        # Without Redis: (value, time.time() when loaded). Wall-clock time, so tests can travel.
        self._unshared: dict[K, tuple[V | None, float]] = {}

    def get(self, key: K, load: Callable[[K], V | None]) -> V | None:
        """The value for `key`: this process's copy if still current, else `load(key)`."""
        client = shared_client()
        if client is None:
            return self._get_unshared(key, load)
        now = time.monotonic()
        entry = self._entries.get(key)
        state = _state_of_request.get()
        deferred = self.deferrable and state is not None and state.defer and state.token is None
        if deferred and entry is not None and now - entry[2] < MAX_AGE:
            state.pending = entry[0]  # type: ignore[union-attr]  # deferred implies a state
            return entry[1]
        version = current_token(client)
        if entry is not None and entry[0] == version and now - entry[2] < MAX_AGE:
            return entry[1]
        value = load(key)
        # Not inside a transaction: it may see its own uncommitted change, and a rollback
        # announces nothing (the token replaced at the change would then tag rows that never
        # existed). The ingest path runs in autocommit.
        if (value is not None or self.cache_misses) and not connection.in_atomic_block:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (version, value, now)
        return value

    def _get_unshared(self, key: K, load: Callable[[K], V | None]) -> V | None:
        """Without Redis: this process's copy for at most UNSHARED_MAX_AGE seconds."""
        now = time.time()
        entry = self._unshared.get(key)
        if entry is not None and 0 <= now - entry[1] < UNSHARED_MAX_AGE:
            return entry[0]
        value = load(key)
        # Not inside a transaction, for the reasons given in `get`.
        if (value is not None or self.cache_misses) and not connection.in_atomic_block:
            if len(self._unshared) >= MAX_ENTRIES:
                self._unshared.clear()
            self._unshared[key] = (value, now)
        return value

    def clear(self) -> None:
        self._entries.clear()
        self._unshared.clear()


# API keys by hash; schemas by the (trigger keys, lower-cased display names) a request asks for.
API_KEYS: VersionedCache[str, ApiKey] = VersionedCache("api-keys", cache_misses=False, deferrable=True)
TRIGGER_SCHEMAS: VersionedCache[tuple[tuple[str, ...], tuple[str, ...]], dict[str, TriggerSchema]] = VersionedCache(
    "trigger-schemas", cache_misses=True
)


def connect_signals() -> None:
    """Saves and deletes of keys, triggers and attributes announce a change; requests scope
    the token (TriggersConfig.ready)."""

    def changed(**kwargs: object) -> None:
        definitions_changed()

    for signal in (post_save, post_delete):
        for model in (ApiKey, Trigger, TriggerAttribute):
            signal.connect(changed, sender=model, weak=False, dispatch_uid=f"definitions-{model.__name__}-{id(signal)}")
    request_started.connect(_request_started, weak=False, dispatch_uid="triggers-cache-request-started")
    request_finished.connect(_request_finished, weak=False, dispatch_uid="triggers-cache-request-finished")
