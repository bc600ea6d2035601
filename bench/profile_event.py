#!/usr/bin/env python
"""Where one event's CPU goes, in-process (issue 15): the web request and the worker's task.

    .venv/bin/python bench/profile_event.py [--events 300] [--top 25] [--stats worker.pstats]

On its own PostgreSQL database (journeys_bench_profile or $BENCH_DATABASE, dropped and recreated), with the seed
journey and a local SMTP sink: POSTs `--events` single events through Django's test client
(every middleware, the ORM broker's enqueue), then counts the queries of one event's own task (react, then send) and of a drained group,
and times and profiles journeys.tasks.process_events draining the rest in groups (without
django-q2). Prints CPU per event (time.thread_time), queries per event, and cProfile's top
functions for both halves.
"""

import argparse
import cProfile
import json
import os
import pstats
import sys
import time
from pathlib import Path

from common import ROOT, deployment_env, recreate_database, setup_django

sys.path.insert(0, str(ROOT))
DATABASE = os.environ.get("BENCH_DATABASE", "journeys_bench_profile")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--stats", help="also save the worker's profile here (pstats, for callers/callees)")
    parser.add_argument(
        "--no-cprofile",
        action="store_true",
        help="skip cProfile (its overhead inflates call-heavy code): for a sampling profiler such as py-spy",
    )
    args = parser.parse_args()
    env = deployment_env(DATABASE, REDIS_URL="")
    recreate_database(DATABASE, env)
    from engine import SmtpSink, load_seed_and_key

    sink = SmtpSink()
    env["EMAIL_URL"] = f"smtp://127.0.0.1:{sink.port}"
    setup_django(env)
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from journeys import tasks
    from journeys.queue import collecting_dispatches, dispatch_collected
    from journeys.reactions import process_waiting
    from journeys.tasks import DRAIN_GROUP, _react_and_send, process_events
    from triggers.models import Event

    key = load_seed_and_key()
    client = Client()

    def post(i: int) -> None:
        body = {
            "trigger": "abandoned_cart",
            "event_id": f"pf-{i}",
            "contact": {"id": f"pf-{i}", "email": f"pf{i}@bench.test"},
            "attributes": {"cart_total": 80},
        }
        response = client.post(
            "/api/v1/events", json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
        )
        assert response.status_code == 202, response.content

    for i in range(-20, 0):  # warm up: imports, connections, caches
        post(i)
    process_events(list(Event.objects.values_list("pk", flat=True)))
    n = args.events
    web_queries: list[str] = []

    def record(execute, sql, params, many, context):
        web_queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        post(n)
    cpu, database_cpu = time.thread_time(), _backend_cpu(connection)
    for i in range(n, 2 * n):
        post(i)
    web_cpu, web_database_cpu = (time.thread_time() - cpu) / n, (_backend_cpu(connection) - database_cpu) / n
    print(
        f"web: {web_cpu * 1000:.2f} ms CPU per event (PostgreSQL's backend: {web_database_cpu * 1000:.2f} ms), "
        f"{len(web_queries)} queries per event"
    )
    for sql in web_queries:
        print("   ", sql[:150])
    # CPU time, not wall time: waits on PostgreSQL and the SMTP server are not counted.
    if not args.no_cprofile:
        profile = cProfile.Profile(time.thread_time)
        profile.enable()
        for i in range(n):
            post(i)
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)
        pstats.Stats(profile).sort_stats("tottime").print_stats(args.top)

    ids = list(Event.objects.filter(processed_at__isnull=True).order_by("pk").values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as worker_queries:
        _react_and_send(ids[:1], set())
    print(f"worker: {len(worker_queries)} queries for one event's task (process + send)")
    for q in worker_queries.captured_queries:
        print("   ", q["sql"][:200])
    # What a doorbell task does under load: the waiting events, a group at a time (its
    # messages collected and sent after the group, as the task does).
    with CaptureQueriesContext(connection) as worker_queries:
        with collecting_dispatches() as collected:
            process_waiting(DRAIN_GROUP, set())
        dispatch_collected(collected)
    print(f"worker: {len(worker_queries) / DRAIN_GROUP:.1f} queries per event in a drained group of {DRAIN_GROUP}")
    tasks.DRAIN_SECONDS = 600  # drain them all
    cpu, database_cpu = time.thread_time(), _backend_cpu(connection)
    done = process_events([])
    worker_cpu, worker_database_cpu = (
        (time.thread_time() - cpu) / done,
        (_backend_cpu(connection) - database_cpu) / done,
    )
    print(
        f"worker: {worker_cpu * 1000:.2f} ms CPU per event (PostgreSQL's backend: {worker_database_cpu * 1000:.2f} ms; "
        f"{done} drained in groups, without django-q2)"
    )
    if not args.no_cprofile:
        for i in range(2 * n, 3 * n):
            post(i)
        profile = cProfile.Profile(time.thread_time)
        profile.enable()
        process_events([])
        profile.disable()
        if args.stats:
            profile.dump_stats(args.stats)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)
        pstats.Stats(profile).sort_stats("tottime").print_stats(args.top)
    time.sleep(1)
    print(f"emails at the sink: {len(sink.arrivals)}")
    sink.stop()


def _backend_cpu(connection) -> float:
    """CPU seconds used so far by this connection's PostgreSQL backend (a local server)."""
    connection.ensure_connection()
    fields = Path(f"/proc/{connection.connection.info.backend_pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
