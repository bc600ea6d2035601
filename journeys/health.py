"""Is the engine alive and moving? The answers behind /health/* and `check_engine`.

`engine_health` reads a few small things (heartbeats, the head of the task queue, the head of
the due participants) and judges them with `judge`, a plain function of those figures:

- `stalled` (a person or a supervisor must act): tasks wait longer than STALLED_AFTER, or
  participants are overdue by more than that, or the sweep ran once and then not for that long;
- `degraded` (it moves, but something is off): no supervised cluster beat within
  CLUSTER_SILENT_AFTER, the sweep is late, or tasks wait longer than SLOW_AFTER;
- `ok` otherwise.
No figure in it names or counts contacts.
"""

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

SLOW_AFTER = timedelta(minutes=1)
STALLED_AFTER = timedelta(minutes=5)
CLUSTER_SILENT_AFTER = timedelta(minutes=1)
# Clusters silent for longer are not listed any more (stopped on purpose, or long gone).
CLUSTER_LISTED_FOR = timedelta(hours=1)


@dataclass
class ClusterSeen:
    name: str
    last_heartbeat: datetime
    age_seconds: float


@dataclass
class EngineHealth:
    status: str
    reasons: list[str]
    last_sweep: datetime | None
    sweep_lag_seconds: float | None
    sweep_duration_seconds: float | None
    queued_tasks: int
    oldest_queued_task_age_seconds: float | None
    most_overdue_participant_seconds: float | None
    clusters: list[ClusterSeen] = field(default_factory=list)

    def as_json(self) -> dict:
        data = asdict(self)
        data["last_sweep"] = self.last_sweep.isoformat() if self.last_sweep else None
        for cluster in data["clusters"]:
            cluster["last_heartbeat"] = cluster["last_heartbeat"].isoformat()
        return data


def judge(
    *,
    sweep_lag: timedelta | None,
    oldest_task_age: timedelta | None,
    overdue: timedelta | None,
    newest_cluster_age: timedelta | None,
) -> tuple[str, list[str]]:
    """`ok`, `degraded` or `stalled`, with the reasons (pure: figures in, verdict out)."""
    stalled, degraded = [], []
    if oldest_task_age is not None and oldest_task_age > STALLED_AFTER:
        stalled.append(f"a task has waited {oldest_task_age.total_seconds():.0f}s")
    elif oldest_task_age is not None and oldest_task_age > SLOW_AFTER:
        degraded.append(f"a task has waited {oldest_task_age.total_seconds():.0f}s")
    if overdue is not None and overdue > STALLED_AFTER:
        stalled.append(f"a participant is {overdue.total_seconds():.0f}s overdue")
    if sweep_lag is not None and sweep_lag > STALLED_AFTER:
        stalled.append(f"the sweep last ran {sweep_lag.total_seconds():.0f}s ago")
    elif sweep_lag is not None and sweep_lag > 2 * SLOW_AFTER:
        degraded.append(f"the sweep last ran {sweep_lag.total_seconds():.0f}s ago")
    if newest_cluster_age is None:
        degraded.append("no supervised cluster (manage.py run_workers) has been seen")
    elif newest_cluster_age > CLUSTER_SILENT_AFTER:
        degraded.append(f"no cluster heartbeat for {newest_cluster_age.total_seconds():.0f}s")
    if stalled:
        return "stalled", stalled + degraded
    return ("degraded", degraded) if degraded else ("ok", [])


def queue_figures(now: datetime) -> tuple[int, timedelta | None]:
    """Tasks in the broker (waiting or being run) and how long the oldest waiting one has
    waited; Redis keeps no enqueue time, so its age is unknown (None)."""
    from django.db.models import Min
    from django_q.models import OrmQ

    from .queue import _broker

    broker = _broker()
    if "orm" in settings.Q_CLUSTER:
        rows = OrmQ.objects.filter(key=broker.list_key)
        oldest = rows.filter(lock__lte=now).aggregate(oldest=Min("lock"))["oldest"]
        return rows.count(), (now - oldest if oldest else None)
    return broker.queue_size(), None


def most_overdue(now: datetime) -> timedelta | None:
    from .models import JourneyStatus, Participant, ParticipantState

    # The head of the partial index the sweep reads (participant_due): one row.
    wake_at = (
        Participant.objects.filter(state=ParticipantState.ACTIVE, wake_at__lte=now, journey__status=JourneyStatus.LIVE)
        .order_by("wake_at")
        .values_list("wake_at", flat=True)
        .first()
    )
    return now - wake_at if wake_at else None


def engine_health(now: datetime | None = None) -> EngineHealth:
    from .models import Heartbeat
    from .workers.heartbeats import CLUSTER_PREFIX, SWEEP

    now = now or timezone.now()
    beats = list(
        Heartbeat.objects.filter(key=SWEEP)
        | Heartbeat.objects.filter(key__startswith=CLUSTER_PREFIX, beat_at__gte=now - CLUSTER_LISTED_FOR)
    )
    sweep = next((beat for beat in beats if beat.key == SWEEP), None)
    clusters = sorted(
        (
            ClusterSeen(beat.key.removeprefix(CLUSTER_PREFIX), beat.beat_at, (now - beat.beat_at).total_seconds())
            for beat in beats
            if beat.key != SWEEP
        ),
        key=lambda cluster: cluster.age_seconds,
    )
    queued, oldest = queue_figures(now)
    overdue = most_overdue(now)
    sweep_lag = now - sweep.beat_at if sweep else None
    status, reasons = judge(
        sweep_lag=sweep_lag,
        oldest_task_age=oldest,
        overdue=overdue,
        newest_cluster_age=timedelta(seconds=clusters[0].age_seconds) if clusters else None,
    )
    return EngineHealth(
        status=status,
        reasons=reasons,
        last_sweep=sweep.beat_at if sweep else None,
        sweep_lag_seconds=sweep_lag.total_seconds() if sweep_lag else None,
        sweep_duration_seconds=sweep.detail.get("seconds") if sweep else None,
        queued_tasks=queued,
        oldest_queued_task_age_seconds=oldest.total_seconds() if oldest else None,
        most_overdue_participant_seconds=overdue.total_seconds() if overdue else None,
        clusters=clusters,
    )


def database_reachable() -> str | None:
    """None when a query answers, else why not."""
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return None
    except Exception as error:
        return f"database: {type(error).__name__}"


def redis_reachable() -> str | None:
    url = getattr(settings, "REDIS_URL", "")
    if not url:
        return None
    try:
        import redis

        redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2).ping()
        return None
    except Exception as error:
        return f"redis: {type(error).__name__}"
