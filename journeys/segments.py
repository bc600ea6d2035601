"""Segment membership, kept incrementally.

A contact that changes is evaluated against the condition segments in the transaction of
the change (`refresh_memberships`): the cost follows the number of segments, not of
contacts. A new segment, or one whose conditions changed, is built once by `rebuild_segment`
in bounded batches of contacts (a worker task that re-enqueues itself with a cursor).
Static segments are lists: only `add_static_members` / `remove_static_members` change them.

Joining a segment rings the doorbell for the journeys that wait for it (dynamic segment
journeys, wait-for "segment_joined"): journeys.segment_entry, after commit.
"""

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from django.db import transaction
from django.utils import timezone

from .conditions import MAX_CONDITIONS, all_hold, condition_problems
from .models import Contact, Segment, SegmentKind, SegmentMembership
from .spec import dotted

if TYPE_CHECKING:
    from .conditions import Condition

# Contacts per rebuild batch: one SELECT and at most two writes per batch, a second or so.
REBUILD_BATCH = 2000
# A preview counts at most this many contacts (the designer shows "at least" beyond it).
PREVIEW_LIMIT = 200_000
SAMPLE_SIZE = 10
CONTACT_COLUMNS = ("external_id", "email", "phone", "push_token", "first_name", "last_name", "time_zone")


@dataclass
class MembershipChange:
    joined: list[int] = field(default_factory=list)  # segment ids
    left: list[int] = field(default_factory=list)


def contact_data(contact: Contact) -> dict[str, Any]:
    """What a segment's conditions read: `contact.<field>` and `contact.attributes.<path>`."""
    data: dict[str, Any] = {name: getattr(contact, name) or None for name in CONTACT_COLUMNS[1:]}
    data["id"] = contact.external_id
    data["attributes"] = contact.attributes or {}
    return {"contact": data}


def segment_problems(conditions: Any) -> list[tuple[str, str]]:
    """Problems of a segment's conditions as (where, message): each must read contact.<…>."""
    return [(dotted(parts), message) for parts, message in segment_problem_parts(conditions)]


def segment_problem_parts(conditions: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """`segment_problems` with each place as path parts: (("conditions", 0, "attribute"), …)."""
    if not isinstance(conditions, list):
        return [(("conditions",), "must be a list")]
    problems: list[tuple[tuple[str | int, ...], str]] = []
    if len(conditions) > MAX_CONDITIONS:
        problems.append((("conditions",), f"at most {MAX_CONDITIONS} conditions"))
    for i, condition in enumerate(conditions):
        for name, message in condition_problems(condition, None):
            problems.append((("conditions", i, name) if name else ("conditions", i), message))
        attribute = condition.get("attribute") if isinstance(condition, Mapping) else None
        if isinstance(attribute, str) and attribute and not attribute.startswith("contact."):
            problems.append((("conditions", i, "attribute"), "must be contact.<field> or contact.attributes.<path>"))
    return problems


def matches(segment: Segment, contact: Contact) -> bool:
    return bool(segment.conditions) and all_hold(segment.conditions, contact_data(contact))


def segment_keys(contact: Contact) -> list[str]:
    return sorted(SegmentMembership.objects.filter(contact=contact).values_list("segment__key", flat=True))


@dataclass
class _ReadOnce:
    """The condition segments of a block, once read (None until its first contact)."""

    segments: list[Segment] | None = None


# Inside segments_read_once: the block's holder; None outside.
_segments_of_block: ContextVar[_ReadOnce | None] = ContextVar("condition_segments", default=None)


@contextmanager
def segments_read_once() -> Iterator[None]:
    """Within the block (a task's group of events, in one transaction), the condition segments
    are read once, at the first contact, rather than once per contact."""
    token = _segments_of_block.set(_ReadOnce())
    try:
        yield
    finally:
        _segments_of_block.reset(token)


def _condition_segments() -> list[Segment]:
    held = _segments_of_block.get()
    if held is not None and held.segments is not None:
        return held.segments
    segments = list(Segment.objects.filter(kind=SegmentKind.CONDITIONS).only("pk", "conditions"))
    if held is not None:
        held.segments = segments
    return segments


def refresh_memberships(contact: Contact, now: datetime | None = None, *, new: bool = False) -> MembershipChange:
    """Evaluate one contact against every condition segment and write the difference, in
    the caller's transaction. Joins are announced to the journeys after commit. `new`: the
    contact was created in this transaction, so it is in no segment yet (nothing to read)."""
    now = now or timezone.now()
    segments = _condition_segments()
    if not segments:
        return MembershipChange()
    current: set[int] = set()
    if not new:
        current = set(
            SegmentMembership.objects.filter(contact=contact, segment__kind=SegmentKind.CONDITIONS).values_list(
                "segment_id", flat=True
            )
        )
    data = contact_data(contact)
    wanted = {s.pk for s in segments if s.conditions and all_hold(s.conditions, data)}
    change = MembershipChange(joined=sorted(wanted - current), left=sorted(current - wanted))
    _write(contact.pk, change, now)
    return change


def _write(contact_id: int, change: MembershipChange, now: datetime) -> None:
    if change.left:
        SegmentMembership.objects.filter(contact_id=contact_id, segment_id__in=change.left).delete()
    if change.joined:
        SegmentMembership.objects.bulk_create(
            [SegmentMembership(segment_id=s, contact_id=contact_id, joined_at=now) for s in change.joined],
            ignore_conflicts=True,  # a concurrent change of the same contact wrote it first
        )
        announce_joins({segment_id: [contact_id] for segment_id in change.joined})


def announce_joins(joined: Mapping[int, Sequence[int]]) -> None:
    """Tell the journeys (after commit) which contacts joined which segments."""
    from .queue import enqueue_segment_joined

    for segment_id, contact_ids in joined.items():
        if contact_ids:
            enqueue_segment_joined(segment_id, list(contact_ids))


def rebuild_segment(segment_id: int, after: int = 0, batch: int = REBUILD_BATCH) -> int | None:
    """Bring one batch of contacts (ids after `after`) in line with the segment's conditions.
    Returns the cursor for the next batch, or None when the segment is built. Harmless to
    run twice. Contacts who join here are announced like any other join."""
    now = timezone.now()
    with transaction.atomic():
        segment = Segment.objects.filter(pk=segment_id).first()
        if segment is None or segment.is_static:
            return None
        contacts = list(Contact.objects.filter(pk__gt=after).order_by("pk")[:batch])
        if not contacts:
            from .segment_entry import ring_waiting_passes

            Segment.objects.filter(pk=segment_id).update(built_at=now)
            ring_waiting_passes(segment_id)
            return None
        ids = [c.pk for c in contacts]
        current = set(
            SegmentMembership.objects.filter(segment=segment, contact_id__in=ids).values_list("contact_id", flat=True)
        )
        wanted = {c.pk for c in contacts if matches(segment, c)}
        if current - wanted:
            SegmentMembership.objects.filter(segment=segment, contact_id__in=current - wanted).delete()
        joined = sorted(wanted - current)
        SegmentMembership.objects.bulk_create(
            [SegmentMembership(segment=segment, contact_id=c, joined_at=now) for c in joined], ignore_conflicts=True
        )
        announce_joins({segment.pk: joined})
        return ids[-1]


def rebuild_now(segment: Segment) -> None:
    """The whole rebuild in this process (tests, the command with --inline)."""
    cursor: int | None = 0
    while cursor is not None:
        cursor = rebuild_segment(segment.pk, cursor)


def start_rebuild(segment: Segment) -> None:
    """Mark the segment as being built and hand the batches to the workers (after commit)."""
    from .queue import enqueue_rebuild_segment

    Segment.objects.filter(pk=segment.pk).update(built_at=None)
    enqueue_rebuild_segment(segment.pk, 0)


def set_static_members(segment: Segment, contact_ids: Iterable[int], *, replace: bool = False) -> int:
    """Add contacts (by primary key) to a static segment; with `replace`, remove the others.
    Returns how many joined."""
    assert segment.is_static, "only static segments have a list of members"
    now = timezone.now()
    wanted = set(contact_ids)
    with transaction.atomic():
        current = set(SegmentMembership.objects.filter(segment=segment).values_list("contact_id", flat=True))
        if replace and current - wanted:
            SegmentMembership.objects.filter(segment=segment, contact_id__in=current - wanted).delete()
        joined = sorted(wanted - current)
        SegmentMembership.objects.bulk_create(
            [SegmentMembership(segment=segment, contact_id=c, joined_at=now) for c in joined], ignore_conflicts=True
        )
        announce_joins({segment.pk: joined})
    return len(joined)


def member_count(segment: Segment) -> int:
    return SegmentMembership.objects.filter(segment=segment).count()


def sample(segment: Segment, size: int = SAMPLE_SIZE) -> list[Contact]:
    return list(Contact.objects.filter(memberships__segment=segment).order_by("-memberships__joined_at", "pk")[:size])


@dataclass
class Preview:
    count: int
    scanned: int
    complete: bool


def preview_count(conditions: list[dict], limit: int = PREVIEW_LIMIT) -> Preview:
    """How many contacts meet these conditions now (a marketer editing a segment), reading
    at most `limit` contacts in batches."""
    count = scanned = 0
    after = 0
    while scanned < limit:
        contacts = list(Contact.objects.filter(pk__gt=after).order_by("pk")[:REBUILD_BATCH])
        if not contacts:
            return Preview(count, scanned, True)
        scanned += len(contacts)
        after = contacts[-1].pk
        count += sum(
            1 for c in contacts if conditions and all_hold(cast("list[Condition]", conditions), contact_data(c))
        )
    return Preview(count, scanned, not Contact.objects.filter(pk__gt=after).exists())
