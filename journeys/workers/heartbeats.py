"""The one writer of `Heartbeat` rows."""

import os
import socket
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.utils import timezone

from journeys.models import Heartbeat

SWEEP = "sweep"
# Which cluster's guard loop asks for the next extra sweep (see `claim_sweep_turn`).
SWEEP_TURN = "sweep-turn"
CLUSTER_PREFIX = "cluster:"
# Rows of clusters gone for longer than this are removed when another cluster beats.
FORGET_AFTER = timedelta(days=1)


def record_cluster_beat(*, queued: int, reincarnations: int, now: datetime | None = None) -> None:
    """A supervised cluster is alive (called by its sentinel's guard loop)."""
    now = now or timezone.now()
    key = f"{CLUSTER_PREFIX}{socket.gethostname()}:{os.getppid()}"
    Heartbeat.objects.update_or_create(
        key=key, defaults={"beat_at": now, "detail": {"queued": queued, "reincarnations": reincarnations}}
    )
    Heartbeat.objects.filter(key__startswith=CLUSTER_PREFIX, beat_at__lt=now - FORGET_AFTER).delete()


def record_sweep(detail: dict, now: datetime | None = None) -> None:
    """The one-minute sweep finished."""
    from journeys.metrics import SWEEPS

    SWEEPS.inc()
    Heartbeat.objects.update_or_create(key=SWEEP, defaults={"beat_at": now or timezone.now(), "detail": detail})


def claim_sweep_turn(every: timedelta, now: datetime | None = None) -> bool:
    """True for exactly one caller per `every` across all clusters: that guard loop enqueues
    a sweep. A conditional UPDATE, like every other claim: two clusters never both win."""
    now = now or timezone.now()
    Heartbeat.objects.get_or_create(key=SWEEP_TURN, defaults={"beat_at": now - every, "detail": {}})
    return Heartbeat.objects.filter(key=SWEEP_TURN, beat_at__lte=now - every).update(beat_at=now) == 1


# --- The events' doorbell -----------------------------------------------------------------

EVENTS_DOORBELL = "events-doorbell"
# A doorbell rung this long ago and still not answered is rung again: its task may have been
# lost (a Redis task in flight when its worker died, a web process killed between the ring and
# the enqueue), or it waits in a backlog, where one more task is harmless.
RING_AGAIN_AFTER = timedelta(seconds=2)
# "Not rung": long before any ring.
_ANSWERED = datetime(2000, 1, 1, tzinfo=UTC)


def ring_events_doorbell(now: datetime | None = None) -> bool:
    """True when the caller rang the events' doorbell and must enqueue its task; False when a
    task rung for earlier events has not started yet: that task will take the caller's events
    too (it answers the doorbell, then takes every event still waiting).

    One statement that creates the row if it is missing (a flushed database) and otherwise
    sets it only when it is not rung: a conditional write, so two web processes never both
    ring, and under load one task serves a burst of requests instead of one task each."""
    now = now or timezone.now()
    table, key, beat_at, detail = map(connection.ops.quote_name, (Heartbeat._meta.db_table, "key", "beat_at", "detail"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({key}, {beat_at}, {detail}) VALUES (%s, %s, %s) ON CONFLICT ({key}) "
            f"DO UPDATE SET {beat_at} = excluded.{beat_at} WHERE {table}.{beat_at} <= %s RETURNING {key}",
            [EVENTS_DOORBELL, now, "{}", now - RING_AGAIN_AFTER],
        )
        return cursor.fetchone() is not None


def answer_events_doorbell() -> None:
    """An events task started: events stored from now on ring again (see tasks.process_events)."""
    Heartbeat.objects.filter(key=EVENTS_DOORBELL).update(beat_at=_ANSWERED)
