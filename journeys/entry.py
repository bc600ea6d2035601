"""Who may enter a journey now: the entry controls of every journey, and the one path by
which anyone enters (an event, a segment pass, a segment join, a held entry released).

- `exclude`: members of these segments never enter.
- `entry_window`: entries only between starts_at and ends_at (outside it: not entered).
- `entry_limit.per_hour`: at most this many entries in any hour. Over it, people are held
  (`HeldEntry`, in arrival order) and the sweep enters them as the hour frees up; a
  segment pass simply stops its cursor and resumes. Nobody over the limit is dropped.

The participant itself is created by journeys.transitions.enter and run by the runtime,
as for an event.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction

from triggers.models import Event

from . import transitions
from .models import (
    Contact,
    HeldEntry,
    JourneyStatus,
    JourneyVersion,
    Participant,
    SegmentMembership,
    VersionState,
)
from .policy import reads_for_batch
from .runtime import advance, plan_for

HOUR = timedelta(hours=1)
# Held entries released per version per sweep (the rest wait for the next sweep).
RELEASE_BATCH = 500


@dataclass(frozen=True)
class Candidate:
    contact: Contact
    entry_key: str
    event: Event | None = None
    binding_id: str = ""


def in_window(version: JourneyVersion, now: datetime) -> bool:
    if version.entry_starts_at is not None and now < version.entry_starts_at:
        return False
    return version.entry_ends_at is None or now < version.entry_ends_at


def excluded_contacts(version: JourneyVersion, contact_ids: Sequence[int]) -> set[int]:
    """Those of `contact_ids` in one of the version's excluded segments (one query)."""
    segment_ids = [s.pk for s in version.exclude_segments.all()]
    if not segment_ids or not contact_ids:
        return set()
    return set(
        SegmentMembership.objects.filter(segment_id__in=segment_ids, contact_id__in=contact_ids).values_list(
            "contact_id", flat=True
        )
    )


def capacity(version: JourneyVersion, now: datetime) -> int | None:
    """How many may still enter in the hour ending now (None: no limit)."""
    if version.entry_per_hour is None:
        return None
    recent = Participant.objects.filter(journey_id=version.journey_id, entered_at__gt=now - HOUR).count()
    return max(0, version.entry_per_hour - recent)


def admit(version: JourneyVersion, candidates: Sequence[Candidate], now: datetime, *, hold: bool = True) -> int:
    """Enter the candidates the controls let in, in order, inside the caller's transaction;
    returns how many entered. Over the hourly limit, the rest are held (with `hold`), behind
    anyone held before them."""
    if not candidates or not in_window(version, now):
        return 0
    excluded = excluded_contacts(version, [c.contact.pk for c in candidates])
    allowed = [c for c in candidates if c.contact.pk not in excluded]
    room = capacity(version, now)
    if room is not None:
        if HeldEntry.objects.filter(version=version).exists():
            room = 0  # earlier people are waiting: newcomers queue behind them
        held, allowed = allowed[room:], allowed[:room]
        if hold and held:
            HeldEntry.objects.bulk_create(
                HeldEntry(
                    version=version,
                    contact=c.contact,
                    event=c.event,
                    entry_key=c.entry_key,
                    binding_id=c.binding_id,
                    held_at=now,
                )
                for c in held
            )
    return enter_now(version, allowed, now)


def enter_now(version: JourneyVersion, candidates: Sequence[Candidate], now: datetime) -> int:
    """Create and run the participants (no controls). Their rows, history and deliveries
    are written once for the whole group."""
    if not candidates:
        return 0
    plan = plan_for(version)
    entered = 0
    writes = transitions.Writes(deliveries=len(candidates) > 1)
    with reads_for_batch([c.contact.pk for c in candidates], now):
        for group in _groups(candidates):
            for participant in _enter_group(version, group, plan, now, writes):
                participant.version = version
                advance(participant, now, arrived=True, writes=writes)
                entered += 1
    writes.flush()
    return entered


def _groups(candidates: Sequence[Candidate]) -> list[list[Candidate]]:
    """Runs of candidates that can be inserted together: no event, one entry key."""
    groups: list[list[Candidate]] = []
    for candidate in candidates:
        last = groups[-1] if groups else None
        if (
            last
            and candidate.event is None
            and last[0].event is None
            and not candidate.binding_id
            and not last[0].binding_id
            and candidate.entry_key == last[0].entry_key
        ):
            last.append(candidate)
        else:
            groups.append([candidate])
    return groups


def _enter_group(
    version: JourneyVersion, group: list[Candidate], plan, now: datetime, writes: transitions.Writes
) -> list[Participant]:
    if len(group) > 1:
        return transitions.enter_many(
            version=version,
            contacts=[c.contact for c in group],
            entry_key=group[0].entry_key,
            first_step=plan.first_step,
            now=now,
            writes=writes,
        )
    candidate = group[0]
    participant = transitions.enter(
        version=version,
        contact=candidate.contact,
        event=candidate.event,
        entry_key=candidate.entry_key,
        binding_id=candidate.binding_id,
        first_step=plan.first_step,
        now=now,
        writes=writes,
    )
    return [participant] if participant is not None else []


def release_held(now: datetime) -> int:
    """Enter held people, oldest first, as far as each journey's hourly limit allows."""
    released = 0
    version_ids = set(HeldEntry.objects.values_list("version_id", flat=True).distinct())
    for version in JourneyVersion.objects.filter(pk__in=version_ids).select_related("journey"):
        with transaction.atomic():
            if version.journey.status != JourneyStatus.LIVE:
                continue  # kept until the journey is live again
            # Held for a version since replaced: they enter the one live now.
            target = (
                version
                if version.state == VersionState.PUBLISHED
                else JourneyVersion.objects.filter(journey_id=version.journey_id, state=VersionState.PUBLISHED).first()
            )
            if target is None:
                continue
            room = capacity(target, now)
            take = RELEASE_BATCH if room is None else min(room, RELEASE_BATCH)
            held = list(
                HeldEntry.objects.select_for_update(of=("self",))
                .filter(version=version)
                .select_related("contact", "event")
                .order_by("pk")[:take]
            )
            if not held:
                continue
            HeldEntry.objects.filter(pk__in=[h.pk for h in held]).delete()
            released += enter_now(
                target,
                [Candidate(h.contact, h.entry_key, h.event, h.binding_id) for h in held],
                now,
            )
    return released
