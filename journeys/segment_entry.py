"""Segment-based journeys: a segment's members enter through the workers, never in the
publish request.

A pass (`SegmentEntry`) walks the members in contact order, `ENTRY_BATCH` at a time, each
batch one task and one transaction that moves the pass's cursor with the entries it made:
a batch run twice starts after the cursor, and a pass whose next task was lost is picked
up again by the sweep (`resume_stalled_entries`). Entering goes through journeys.entry
(exclusions, window, hourly limit) and journeys.transitions, like an event's entry.

- one_time: one pass at publish.
- dynamic: one pass at publish, then each contact who joins later (`on_segment_joined`).
- recurring: one pass per occurrence (`every`, at `at` in the journey's time zone),
  started by the sweep; only the latest missed occurrence is run after downtime.
"""

import zoneinfo
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from .entry import Candidate, admit, capacity
from .models import (
    ONCE_EVER,
    Contact,
    JourneyStatus,
    JourneyType,
    JourneyVersion,
    Participant,
    ParticipantState,
    RepeatPolicy,
    SegmentEntry,
    SegmentMembership,
    SegmentMode,
    VersionState,
)
from .runtime import awaiting_kinds, plan_for, react_at_step

ENTRY_BATCH = 500
# A pass not moved for this long is re-driven by the sweep (its task was lost, or the
# hourly limit paused it).
STALLED_AFTER = timedelta(minutes=2)
DAY = timedelta(days=1)


def entry_key(version: JourneyVersion, tag: str) -> str:
    """The repeat policy in the schema, as for events: never -> once ever; after_exit -> one
    active at a time; immediately -> one per pass or join (`tag`)."""
    if version.repeat == RepeatPolicy.NEVER:
        return ONCE_EVER
    if version.repeat == RepeatPolicy.IMMEDIATELY:
        return tag
    return ""


def start_pass(version: JourneyVersion, occurrence: datetime) -> SegmentEntry | None:
    """Begin a pass of the members into `version` (once per occurrence) and ring the workers
    after commit. None when this occurrence already has its pass."""
    from .queue import enqueue_segment_entry

    total = SegmentMembership.objects.filter(segment_id=version.segment_id).count()  # type: ignore[misc]  # a segment-entry version has a segment
    entry, created = SegmentEntry.objects.get_or_create(
        version=version, occurrence=occurrence, defaults={"total": total, "updated_at": occurrence}
    )
    if not created:
        return None
    enqueue_segment_entry(entry.pk)
    return entry


def _live(version: JourneyVersion) -> bool:
    return version.state == VersionState.PUBLISHED and version.journey.status == JourneyStatus.LIVE


def enter_batch(entry_id: int, now: datetime | None = None, batch: int = ENTRY_BATCH) -> int:
    """Enter the next members of a pass; enqueue the following batch. Returns how many entered."""
    from .queue import enqueue_segment_entry

    now = now or timezone.now()
    with transaction.atomic():
        skip_locked = connection.features.has_select_for_update_skip_locked
        entry = (
            SegmentEntry.objects.select_for_update(skip_locked=skip_locked, of=("self",))
            .filter(pk=entry_id, finished_at__isnull=True)
            .select_related("version__journey", "version__segment")
            .first()
        )
        if entry is None:
            return 0
        version = entry.version
        if version.state != VersionState.PUBLISHED or version.journey.status == JourneyStatus.STOPPED:
            return _finish(entry, now)
        if version.journey.status != JourneyStatus.LIVE:
            return 0  # paused: the sweep resumes the pass once the journey is live again
        segment = version.segment
        if segment is None or (not segment.is_static and segment.built_at is None):
            return 0  # still being built: its last rebuild batch rings this pass again
        if entry.cursor == 0 and not entry.entered and not entry.skipped:
            entry.total = SegmentMembership.objects.filter(segment_id=segment.pk).count()
            entry.save(update_fields=["total"])
        room = capacity(version, now)
        size = batch if room is None else min(batch, room)
        if size == 0:
            return 0  # the hourly limit is reached: the sweep resumes the pass later, in order
        member_ids = list(
            SegmentMembership.objects.filter(segment_id=version.segment_id, contact_id__gt=entry.cursor)  # type: ignore[misc]  # a segment-entry version has a segment
            .order_by("contact_id")
            .values_list("contact_id", flat=True)[:size]
        )
        if not member_ids:
            return _finish(entry, now)
        contacts = Contact.objects.in_bulk(member_ids)
        key = entry_key(version, f"pass:{entry.pk}")
        candidates = [Candidate(contacts[pk], key) for pk in member_ids if pk in contacts]
        entered = admit(version, candidates, now, hold=False)
        entry.cursor = member_ids[-1]
        entry.entered += entered
        entry.skipped += len(member_ids) - entered
        entry.updated_at = now
        entry.save(update_fields=["cursor", "entered", "skipped", "updated_at"])
        enqueue_segment_entry(entry.pk)
    return entered


def _finish(entry: SegmentEntry, now: datetime) -> int:
    entry.finished_at = entry.updated_at = now
    entry.save(update_fields=["finished_at", "updated_at"])
    return 0


def ring_waiting_passes(segment_id: int) -> None:
    """A segment finished building: the passes that waited for it go on."""
    from .queue import enqueue_segment_entry

    waiting = SegmentEntry.objects.filter(finished_at__isnull=True, version__segment_id=segment_id)
    for entry_id in waiting.values_list("pk", flat=True):
        enqueue_segment_entry(entry_id)


def run_pass_now(entry: SegmentEntry, now: datetime | None = None) -> None:
    """A whole pass in this process (tests and the benchmark); workers use enter_batch."""
    while SegmentEntry.objects.filter(pk=entry.pk, finished_at__isnull=True).exists():
        before = SegmentEntry.objects.get(pk=entry.pk).cursor
        enter_batch(entry.pk, now)
        if (
            SegmentEntry.objects.get(pk=entry.pk).cursor == before
            and not SegmentEntry.objects.filter(pk=entry.pk, finished_at__isnull=False).exists()
        ):
            return  # held by the hourly limit


def on_segment_joined(segment_id: int, contact_ids: list[int], now: datetime | None = None) -> int:
    """Contacts joined a segment: they enter its dynamic journeys, and those waiting for
    the segment at a wait-for go down Yes. Returns how many moved."""
    now = now or timezone.now()
    moved = 0
    versions = JourneyVersion.objects.filter(
        state=VersionState.PUBLISHED,
        journey__status=JourneyStatus.LIVE,
        journey__type=JourneyType.SEGMENT,
        segment_id=segment_id,
        segment_mode=SegmentMode.DYNAMIC,
    ).select_related("journey")
    contacts = Contact.objects.in_bulk(contact_ids)
    for version in versions:
        with transaction.atomic():
            # Still members (they may have left again before this task ran).
            members = set(
                SegmentMembership.objects.filter(segment_id=segment_id, contact_id__in=contact_ids).values_list(
                    "contact_id", flat=True
                )
            )
            key = entry_key(version, f"joined:{now.isoformat()}")
            candidates = [Candidate(contacts[pk], key) for pk in contact_ids if pk in members and pk in contacts]
            moved += admit(version, candidates, now)
    moved += _take_segment_yes(segment_id, contact_ids, now)
    return moved


def _take_segment_yes(segment_id: int, contact_ids: list[int], now: datetime) -> int:
    moved = 0
    with transaction.atomic():
        waiting = (
            Participant.objects.filter(
                contact_id__in=contact_ids,
                state=ParticipantState.ACTIVE,
                current_step__kind__in=awaiting_kinds(),
                current_step__segment_id=segment_id,
                journey__status__in=[JourneyStatus.LIVE, JourneyStatus.PAUSED],
            )
            .select_related("version", "contact", "entry_event", "current_step")
            .select_for_update(of=("self",))
            .order_by("pk")
        )
        for participant in waiting:
            step = plan_for(participant.version).steps[participant.current_step_id]  # type: ignore[index]  # filtered on current_step
            if participant.state == ParticipantState.ACTIVE and participant.current_step_id == step.pk:
                react_at_step(participant, step, None, now)  # the step's kind takes its Yes
                moved += 1
    return moved


# --- The sweep's part --------------------------------------------------------------------


def latest_occurrence(version: JourneyVersion, now: datetime) -> datetime | None:
    """The most recent slot of a recurring journey at or before `now` (None before the first).

    Whole-day periods fall at `at` (default: the time of publishing) on the local calendar of
    the journey's time zone, so a daily 09:00 stays 09:00 across daylight saving; shorter
    periods count from the publish time."""
    every, published = version.segment_every, version.published_at
    if not every or published is None or now < published:
        return None
    zone = zoneinfo.ZoneInfo(version.time_zone or "UTC")
    if every % DAY == timedelta(0):
        days = every // DAY
        local_published = published.astimezone(zone)
        at = version.segment_at or local_published.time().replace(second=0, microsecond=0)
        first_day = local_published.date()
        if datetime.combine(first_day, at, zone) < published:
            first_day += DAY
        today = now.astimezone(zone).date()
        if today < first_day:
            return None
        day = first_day + ((today - first_day).days // days) * DAY * days
        slot = datetime.combine(day, at, zone)
        if slot > now:
            day -= DAY * days
            if day < first_day:
                return None
            slot = datetime.combine(day, at, zone)
        return slot.astimezone(UTC)
    steps = (now - published) // every
    return published + steps * every if steps >= 1 else None


def start_due_occurrences(now: datetime) -> int:
    """Start the pass of each recurring journey whose latest occurrence has none yet."""
    started = 0
    versions = JourneyVersion.objects.filter(
        state=VersionState.PUBLISHED,
        journey__status=JourneyStatus.LIVE,
        journey__type=JourneyType.SEGMENT,
        segment_mode=SegmentMode.RECURRING,
    ).select_related("journey")
    for version in versions:
        slot = latest_occurrence(version, now)
        if slot is not None:
            with transaction.atomic():
                started += start_pass(version, slot) is not None
    return started


def resume_stalled_entries(now: datetime) -> int:
    """Ring again for passes that have not moved lately (a lost task, a paused journey
    now live, an hour of the entry limit gone by)."""
    from .queue import enqueue_segment_entry

    stalled = list(
        SegmentEntry.objects.filter(
            finished_at__isnull=True, updated_at__lte=now - STALLED_AFTER, version__journey__status=JourneyStatus.LIVE
        ).values_list("pk", flat=True)[:1000]
    )
    for entry_id in stalled:
        enqueue_segment_entry(entry_id)
    return len(stalled)


def start_at_publish(version: JourneyVersion, now: datetime) -> None:
    """Called by publishing, in its transaction: one_time and dynamic journeys take the
    members at their first publish (through the workers); recurring ones wait for their
    first slot. A later version takes no new pass (its members were entered already; a
    dynamic journey's later joiners enter the version live when they join)."""
    if version.journey.type != JourneyType.SEGMENT or version.segment_mode == SegmentMode.RECURRING:
        return
    earlier = JourneyVersion.objects.filter(journey_id=version.journey_id, published_at__isnull=False).exclude(
        pk=version.pk
    )
    if not earlier.exists():
        start_pass(version, now)
