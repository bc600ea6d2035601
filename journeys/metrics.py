"""Prometheus metrics through prometheus-client.

Counters are incremented where things happen (in whichever process: web, worker, monitor);
with PROMETHEUS_MULTIPROC_DIR set (gunicorn.conf.py and run_workers set it up) every process
writes its samples there and a scrape adds them up. Gauges about the engine (queue depth,
oldest task, sweep lag, cluster heartbeats, deliveries by channel and status) are read from
the database at scrape time by `EngineCollector`, so they are right whichever process serves
the scrape.
"""

import os
from collections.abc import Iterator
from pathlib import Path

# prometheus-client opens its files there as soon as a metric exists: a missing directory
# would stop every process at import.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

EVENT_REQUESTS = Counter(
    "journeys_event_requests", "Event API answers (accepted or refused), by HTTP status code", ["code"]
)
TASK_RUNS = Counter("journeys_task_runs", "Tasks run by workers, by function and outcome", ["func", "outcome"])
SWEEPS = Counter("journeys_sweeps", "Sweeps that finished")
PARTICIPANTS_ENTERED = Counter("journeys_participants_entered", "Participants who entered a journey")
PARTICIPANTS_FINISHED = Counter(
    "journeys_participants_finished", "Participants who left a journey, by state", ["state"]
)


def count_task(task: dict) -> None:
    func = task.get("func")
    name = func if isinstance(func, str) else getattr(func, "__name__", "?")
    TASK_RUNS.labels(func=name, outcome="success" if task.get("success") else "failure").inc()


class EngineCollector(Collector):
    """Figures read from the database when scraped."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from django.db.models import Count

        from .health import engine_health
        from .models import Delivery

        health = engine_health()
        yield GaugeMetricFamily("journeys_queue_depth", "Tasks in the broker", value=health.queued_tasks)
        yield GaugeMetricFamily(
            "journeys_queue_oldest_seconds",
            "Age of the oldest waiting task (0 when none or unknown)",
            value=health.oldest_queued_task_age_seconds or 0,
        )
        yield GaugeMetricFamily(
            "journeys_sweep_lag_seconds", "Seconds since the sweep last finished", value=health.sweep_lag_seconds or 0
        )
        yield GaugeMetricFamily(
            "journeys_sweep_duration_seconds",
            "How long the last sweep took",
            value=health.sweep_duration_seconds or 0,
        )
        yield GaugeMetricFamily(
            "journeys_participants_overdue_seconds",
            "How late the most overdue participant is",
            value=health.most_overdue_participant_seconds or 0,
        )
        stalled = GaugeMetricFamily("journeys_engine_status", "1 for the engine's current status", labels=["status"])
        for status in ("ok", "degraded", "stalled"):
            stalled.add_metric([status], 1 if health.status == status else 0)
        yield stalled
        clusters = GaugeMetricFamily(
            "journeys_cluster_heartbeat_age_seconds", "Seconds since each cluster's last heartbeat", labels=["cluster"]
        )
        for cluster in health.clusters:
            clusters.add_metric([cluster.name], cluster.age_seconds)
        yield clusters
        deliveries = GaugeMetricFamily(
            "journeys_deliveries", "Deliveries by channel and status", labels=["channel", "status"]
        )
        for row in Delivery.objects.values("channel", "status").annotate(n=Count("pk")).order_by():
            deliveries.add_metric([row["channel"], row["status"]], row["n"])
        yield deliveries


def render() -> bytes:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:  # one process: its own counters
        for collector in (EVENT_REQUESTS, TASK_RUNS, SWEEPS, PARTICIPANTS_ENTERED, PARTICIPANTS_FINISHED):
            registry.register(collector)
    registry.register(EngineCollector())
    return generate_latest(registry)
