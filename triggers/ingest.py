"""Ingesting events from the public API: limits, validation, quotas, then the event store.

`ingest` is the one domain function the REST and Segment views call. It never evaluates
journeys: stored events are announced after commit (triggers.events) and the journeys app
enqueues their processing.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from django.utils import timezone

from .caching import pending_token, token_checked, version_key
from .events import Outcome, store_events
from .models import ApiKey
from .ratelimit import Decision, RedisLimiter, get_limiter, seconds_to_next_day
from .schemas import load_schemas
from .validation import FieldError, TriggerSchema, ValidatedEvent, validate_event

Status = Literal["accepted", "duplicate", "conflict", "rejected", "ignored"]


@dataclass
class Result:
    """The answer for one event of a request, in the request's order."""

    status: Status
    id: int | None = None
    event_id: str | None = None
    errors: list[FieldError] = field(default_factory=list)
    code: str = ""  # Why a rejection happened when it is not a field error (daily_quota_exceeded).
    retry_after: int = 0

    def as_dict(self, index: int) -> dict[str, Any]:
        body: dict[str, Any] = {"index": index, "status": self.status}
        if self.id is not None:
            body["id"] = self.id
            body["event_id"] = self.event_id
        if self.errors:
            body["errors"] = [error.as_dict() for error in self.errors]
        return body


class RateLimited(Exception):
    """The API key sent more than its rate allows: nothing of the request was stored."""

    def __init__(self, decision: Decision, cost: int, api_key: ApiKey) -> None:
        super().__init__(f"Rate limit of {api_key.rate_per_second}/s (burst {api_key.burst}) reached.")
        self.retry_after = decision.retry_after
        self.cost = cost
        self.api_key = api_key


class StaleKey(Exception):
    """The request's API key came from a copy that a change has made stale: load it again.

    `charged`: the events were taken from the bucket (at the limits of the stale copy); they
    are not taken again once the key is loaded, so a request is never counted twice.
    """

    def __init__(self, charged: bool) -> None:
        super().__init__("The API key changed since this process loaded it.")
        self.charged = charged


def check_rate(api_key: ApiKey, cost: int) -> None:
    """Take `cost` events from the key's bucket or raise RateLimited.

    When the request took its key from the process's cache without checking the version
    token (triggers.caching.defer_token_check), the token is read in the same Redis round
    trip, and StaleKey is raised if it moved: the caller loads the key again and retries.
    """
    limiter = get_limiter()
    rate, burst, now = max(api_key.rate_per_second, 1), max(api_key.burst, 1), timezone.now().timestamp()
    if pending_token() is not None and isinstance(limiter, RedisLimiter):
        decision, token = limiter.take_reading(
            f"key:{api_key.pk}", version_key(), rate=rate, burst=burst, cost=cost, now=now
        )
        if not token_checked(token):
            raise StaleKey(charged=decision.allowed)
    else:
        decision = limiter.take(f"key:{api_key.pk}", rate=rate, burst=burst, cost=cost, now=now)
    if not decision.allowed:
        raise RateLimited(decision, cost, api_key)


def ingest(
    source: str,
    payloads: Sequence[Any],
    *,
    schemas: dict[str, TriggerSchema] | None = None,
    builtin_allowed: Sequence[bool] = (),
    hops: int = 0,
) -> list[Result]:
    """Validate and store a request's events (one or many) from `source`; one Result each.

    Valid events are stored even when others fail. The per-key rate is checked by the caller
    before (`check_rate`), the per-trigger daily quota here, for the valid events only.
    `schemas` may be passed when the caller already resolved triggers (the Segment mapping).
    `hops` is stored on the events (Event.hops): a journey's raise-a-trigger step passes it.
    """
    if schemas is None:
        schemas = load_schemas(
            p["trigger"] for p in payloads if isinstance(p, dict) and isinstance(p.get("trigger"), str)
        )
    results: list[Result | None] = [None] * len(payloads)
    valid: list[tuple[int, ValidatedEvent]] = []
    for index, payload in enumerate(payloads):
        allow = bool(builtin_allowed[index]) if builtin_allowed else False
        checked = validate_event(payload, schemas, allow_builtin=allow)
        if isinstance(checked, ValidatedEvent):
            valid.append((index, replace(checked, hops=hops) if hops else checked))
        else:
            results[index] = Result("rejected", errors=checked)

    valid = _apply_quotas(valid, schemas, results)
    stored = store_events(source, [event for _, event in valid])
    refunds: Counter[int] = Counter()
    for (index, event), outcome in zip(valid, stored, strict=True):
        if outcome.outcome is Outcome.ACCEPTED:
            results[index] = Result("accepted", outcome.id, outcome.event_id)
        else:
            refunds[event.trigger_id] += 1
            if outcome.outcome is Outcome.DUPLICATE:
                results[index] = Result("duplicate", outcome.id, outcome.event_id)
            else:
                results[index] = Result(
                    "conflict",
                    outcome.id,
                    outcome.event_id,
                    errors=[
                        FieldError(
                            "event_id",
                            "event_id_conflict",
                            f"An event with the event_id {outcome.event_id!r} was already stored with a different body.",
                        )
                    ],
                )
    _refund(refunds, schemas)
    return [result for result in results if result is not None]


def _apply_quotas(
    valid: list[tuple[int, ValidatedEvent]],
    schemas: dict[str, TriggerSchema],
    results: list[Result | None],
) -> list[tuple[int, ValidatedEvent]]:
    """Reserve each trigger's share of its daily quota; refuse a trigger's events that do not fit.

    A reservation is all or nothing per trigger and request: a batch is not cut in two.
    """
    if not valid:
        return valid
    quotas = {schema.id: schema.daily_quota for schema in schemas.values() if schema.daily_quota is not None}
    if not quotas:
        return valid
    counts = Counter(event.trigger_id for _, event in valid if event.trigger_id in quotas)
    now = timezone.now()
    limiter = get_limiter()
    refused: set[int] = set()
    for trigger_id, count in counts.items():
        if not limiter.reserve_quota(trigger_id, quota=quotas[trigger_id], count=count, day=now.date()):
            refused.add(trigger_id)
    retry_after = Decision.refuse(seconds_to_next_day(now)).retry_after
    kept = []
    for index, event in valid:
        if event.trigger_id in refused:
            results[index] = Result(
                "rejected",
                code="daily_quota_exceeded",
                retry_after=retry_after,
                errors=[
                    FieldError(
                        "trigger",
                        "daily_quota_exceeded",
                        f"The trigger {event.trigger_key!r} reached its daily quota of "
                        f"{quotas[event.trigger_id]} events (UTC day).",
                    )
                ],
            )
        else:
            kept.append((index, event))
    return kept


def _refund(refunds: Counter[int], schemas: dict[str, TriggerSchema]) -> None:
    """Duplicates and conflicts were not accepted: give their quota back."""
    limited = {schema.id for schema in schemas.values() if schema.daily_quota is not None}
    today = timezone.now().date()
    limiter = get_limiter()
    for trigger_id, count in refunds.items():
        if trigger_id in limited:
            limiter.refund_quota(trigger_id, count=count, day=today)
