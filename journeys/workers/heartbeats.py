"""The one writer of `Heartbeat` rows."""

import os
import socket
from datetime import datetime, timedelta

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
