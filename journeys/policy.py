"""Decide whether a message may go now: address, readiness, consent, frequency cap, quiet hours.

The engine calls `decide` when a participant reaches a message step (and again when a
held participant wakes), then writes the delivery itself: queued, blocked with the reason,
or held until `until`. At most two queries: the channel's policy, and one row for the
contact with its consent and its recent commercial messages counted by subqueries. The
sweep's batches read all of that once per batch instead (`reads_for_batch`).
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from content.models import Content, Purpose

from .models import BlockReason, Consent, ConsentStatus, Contact, Delivery, DeliveryStatus, SendingPolicy

# Statuses that mean "sent, or about to be": they count toward the cap. Held, blocked and
# failed messages never reached the contact.
CAPPED_STATUSES = (
    DeliveryStatus.QUEUED,
    DeliveryStatus.SENT,
    DeliveryStatus.DELIVERED,
    DeliveryStatus.OPENED,
    DeliveryStatus.CLICKED,
    DeliveryStatus.BOUNCED,
)


@dataclass(frozen=True)
class Decision:
    action: Literal["send", "block", "hold"]
    reason: str = ""  # a journeys.models.BlockReason value when blocked
    until: datetime | None = None  # when held: the UTC moment quiet hours end


SEND = Decision("send")


def decide(*, contact: Contact, content: Content, address: str, journey_time_zone: str, now: datetime) -> Decision:
    """Whether `content` may be sent to `contact` at `address` now, and if not, why or until when."""
    if not address.strip():
        return Decision("block", BlockReason.NO_ADDRESS)
    if not content.is_ready:
        return Decision("block", BlockReason.CONTENT_NOT_READY)
    channel = content.channel
    policy = _policy(channel)
    commercial = content.purpose == Purpose.COMMERCIAL
    if commercial:
        refused = _commercial_checks(contact, channel, policy, now)
        if refused is not SEND:
            return refused
    if policy and policy.quiet_hours_start is not None and policy.quiet_hours_end is not None:
        zone = contact_zone(contact.time_zone, journey_time_zone)
        end = quiet_hours_end(now, zone, policy.quiet_hours_start, policy.quiet_hours_end)
        if end is not None:
            return Decision("hold", until=end)
    if commercial:
        _count_queued(contact, channel)
    return SEND


@dataclass
class _BatchReads:
    """What `decide` reads, read once for a whole block (a batch of the sweep, a group of
    events) instead of once per message, and the block's own queued messages counted in.

    `unsubscribed` and `recent` hold, per (contact id, channel), the consent and the commercial
    messages in the channel's capped window. They are complete for the contacts in `read`
    (every channel: the sweep's batch, read up front, and contacts created in the block, for
    which nothing can exist yet) and for the pairs in `read_pairs` (read at a message, kept
    until `forget_reads`)."""

    policies: dict[str, SendingPolicy] | None  # None: not read yet
    unsubscribed: set[tuple[int, str]] = field(default_factory=set)
    recent: dict[tuple[int, str], int] = field(default_factory=dict)
    read: set[int] = field(default_factory=set)
    read_pairs: set[tuple[int, str]] = field(default_factory=set)

    def knows(self, contact_id: int, channel: str) -> bool:
        return contact_id in self.read or (contact_id, channel) in self.read_pairs


def contact_created(contact_id: int) -> None:
    """Within a block: `contact_id` was created in this block's transaction (no consent row
    and no delivery can exist for it yet, so its checks need no query)."""
    batch = _batch.get()
    if batch is not None:
        batch.read.add(contact_id)


def forget_reads(contact_id: int) -> None:
    """Within a block: what it knows of this contact's consent and recent messages is read
    again at its next message (the engine calls this as another event of the contact starts,
    or after sending decisions made apart from the block's: an earlier event may have blocked
    some of its messages, the other decisions queued some)."""
    batch = _batch.get()
    if batch is not None:
        batch.read.discard(contact_id)
        batch.read_pairs = {pair for pair in batch.read_pairs if pair[0] != contact_id}
        batch.unsubscribed = {pair for pair in batch.unsubscribed if pair[0] != contact_id}
        batch.recent = {pair: n for pair, n in batch.recent.items() if pair[0] != contact_id}


_batch: ContextVar[_BatchReads | None] = ContextVar("policy_batch_reads", default=None)


@contextmanager
def reads_for_batch(contact_ids: Iterable[int], now: datetime) -> Iterator[None]:
    """Within the block (a batch of the sweep, in one transaction, at one `now`), `decide`
    reads policies, consent and recent counts from three queries made here, not two per
    message. Messages queued in the block count toward the cap as they are decided."""
    contact_ids = list(contact_ids)
    policies = {policy.channel: policy for policy in SendingPolicy.objects.all()}
    unsubscribed = set(
        Consent.objects.filter(contact_id__in=contact_ids, status=ConsentStatus.UNSUBSCRIBED).values_list(
            "contact_id", "channel"
        )
    )
    recent: dict[tuple[int, str], int] = {}
    for channel, policy in policies.items():
        if policy.cap_count is None:
            continue
        since = now - policy.cap_window
        counts = (
            Delivery.objects.filter(
                contact_id__in=contact_ids, channel=channel, commercial=True, status__in=CAPPED_STATUSES
            )
            .filter(Q(sent_at__gte=since) | Q(sent_at__isnull=True, created_at__gte=since))
            .order_by()
            .values_list("contact_id")
            .annotate(n=Count("pk"))
        )
        recent.update({(contact_id, channel): n for contact_id, n in counts})
    token = _batch.set(_BatchReads(policies, unsubscribed, recent, read=set(contact_ids)))
    try:
        yield
    finally:
        _batch.reset(token)


@contextmanager
def policies_read_once() -> Iterator[None]:
    """Within the block (a task's group of events, in one transaction), each channel's policy
    is read once, at the first message, rather than once per message; a contact's consent and
    recent count once per event and channel (`forget_reads`), its messages queued meanwhile
    counted in memory (a group may write its deliveries at its end)."""
    token = _batch.set(_BatchReads(None))
    try:
        yield
    finally:
        _batch.reset(token)


def _policy(channel: str) -> SendingPolicy | None:
    batch = _batch.get()
    if batch is None:
        return SendingPolicy.objects.filter(channel=channel).first()
    if batch.policies is None:
        batch.policies = {policy.channel: policy for policy in SendingPolicy.objects.all()}
    return batch.policies.get(channel)


def _commercial_checks(contact: Contact, channel: str, policy: SendingPolicy | None, now: datetime) -> Decision:
    """Consent and frequency cap, for a commercial message."""
    batch = _batch.get()
    if batch is None:
        unsubscribed, recent = _consent_and_recent_count(contact, channel, policy, now)
    else:
        key = (contact.pk, channel)
        if not batch.knows(*key):
            unsubscribed, recent = _consent_and_recent_count(contact, channel, policy, now)
            batch.read_pairs.add(key)
            if unsubscribed:
                batch.unsubscribed.add(key)
            batch.recent[key] = recent
        unsubscribed, recent = key in batch.unsubscribed, batch.recent.get(key, 0)
    if unsubscribed:
        return Decision("block", BlockReason.UNSUBSCRIBED)
    if policy and policy.cap_count is not None and recent >= policy.cap_count:
        return Decision("block", BlockReason.FREQUENCY_CAP)
    return SEND


def _count_queued(contact: Contact, channel: str) -> None:
    """A commercial message decided `send` is queued by the engine: it counts from now on
    (`_commercial_checks` has just read or known the pair)."""
    batch = _batch.get()
    if batch is not None:
        key = (contact.pk, channel)
        batch.recent[key] = batch.recent.get(key, 0) + 1


def _consent_and_recent_count(
    contact: Contact, channel: str, policy: SendingPolicy | None, now: datetime
) -> tuple[bool, int]:
    """One query: is the contact unsubscribed on `channel`, and how many commercial messages
    did it get (or is about to get) in the policy's rolling window."""
    unsubscribed = Exists(
        Consent.objects.filter(contact=OuterRef("pk"), channel=channel, status=ConsentStatus.UNSUBSCRIBED)
    )
    if policy and policy.cap_count is not None:
        since = now - policy.cap_window
        # Sent messages count by sent_at (the index delivery_contact_channel_sent); queued
        # ones have no sent_at yet and count by when they were queued.
        recent = (
            Delivery.objects.filter(
                contact=OuterRef("pk"), channel=channel, commercial=True, status__in=CAPPED_STATUSES
            )
            .filter(Q(sent_at__gte=since) | Q(sent_at__isnull=True, created_at__gte=since))
            .order_by()
            .values("contact")
            .annotate(n=Count("pk"))
            .values("n")
        )
        recent_count: Coalesce | Value = Coalesce(Subquery(recent, output_field=IntegerField()), Value(0))
    else:
        recent_count = Value(0, output_field=IntegerField())
    row = Contact.objects.filter(pk=contact.pk).values_list(unsubscribed, recent_count).first()
    if row is None:
        return False, 0
    return bool(row[0]), int(row[1])


def contact_zone(contact_time_zone: str, journey_time_zone: str) -> ZoneInfo:
    """The contact's time zone, else the journey's, else UTC (an unknown name falls through)."""
    for name in (contact_time_zone, journey_time_zone):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def quiet_hours_end(now: datetime, zone: ZoneInfo, start: time, end: time) -> datetime | None:
    """When the quiet hours around `now` end (UTC), or None when `now` is outside them.

    Local wall-clock times: a window may cross midnight (21:00-08:00). Each end is built on
    its local date with zoneinfo, so it stays at 08:00 local across a DST change.
    """
    if start == end:
        return None
    local = now.astimezone(zone)
    moment = local.time().replace(tzinfo=None)
    today = local.date()
    if start < end:
        if start <= moment < end:
            return _utc(today, end, zone)
        return None
    # Crossing midnight: quiet from `start` to the end of the day and from midnight to `end`.
    if moment >= start:
        return _utc(today + timedelta(days=1), end, zone)
    if moment < end:
        return _utc(today, end, zone)
    return None


def _utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    # A wall time in a spring-forward gap (02:30 on a DST night) maps, with fold=0, to the
    # first valid moment after it, so the hold never ends too early.
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
