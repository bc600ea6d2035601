#!/usr/bin/env python
"""Benchmarks of the journey engine on PostgreSQL with real processes (issue 5).

    .venv/bin/python bench/engine.py all            # realtime, throughput, scale
    .venv/bin/python bench/engine.py realtime --rate 50 --seconds 60
    .venv/bin/python bench/engine.py throughput --events 3000
    .venv/bin/python bench/engine.py scale --waiting 1000000 --due 100000
    BENCH_WORKERS=4 BENCH_REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/engine.py realtime
    BENCH_CLUSTERS=2 .venv/bin/python bench/engine.py throughput   # scale-out: two qcluster processes

Each part prints its figures and, where the issue asks, a ratio to raw PostgreSQL measured
in the same run. It uses its own database (journeys_bench_engine or $BENCH_DATABASE), dropped and recreated;
a local SMTP sink (aiosmtpd) receives the emails. Run it on an otherwise idle machine.
"""

import argparse
import contextlib
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import ROOT, SERVER, deployment_env, free_port, percentile, recreate_database
from common import port_open as _port_open
from common import setup_django as _setup_django

sys.path.insert(0, str(ROOT))
DATABASE = os.environ.get("BENCH_DATABASE", "journeys_bench_engine")
# qcluster processes on the same database (issue 15's scale-out: measure one, then two).
CLUSTERS = int(os.environ.get("BENCH_CLUSTERS", "1"))
ENV = deployment_env(
    DATABASE,
    # The embedded default (the ORM broker); set BENCH_REDIS_URL to measure the Redis broker.
    REDIS_URL=os.environ.get("BENCH_REDIS_URL", ""),
    Q_WORKERS=os.environ.get("BENCH_WORKERS", "2"),
    TEXT_BACKEND="content.backends.common.LocmemTextBackend",
    PUSH_BACKEND="content.backends.common.LocmemPushBackend",
)


# --- Set-up ---------------------------------------------------------------------------------


def prepare_database() -> None:
    recreate_database(DATABASE, ENV)


def setup_django() -> None:
    _setup_django(ENV)


class SmtpSink:
    """Records when each recipient's email arrived."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.arrivals: dict[str, float] = {}
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())
        self.controller.start()
        self.port = self.controller.port

    async def handle_DATA(self, server, session, envelope):
        now = time.time()
        for rcpt in envelope.rcpt_tos:
            self.arrivals.setdefault(rcpt, now)
        return "250 OK"

    def stop(self) -> None:
        self.controller.stop()


class Processes:
    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []

    def start(self, *args: str, env: dict) -> subprocess.Popen:
        process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        self.started.append(process)
        return process

    def stop(self) -> None:
        for process in self.started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        self.started = []


def cpu_seconds(processes: "Processes") -> dict[str, float]:
    """CPU time used so far by this run's web server and workers (their process groups) and
    by PostgreSQL's backends for the bench database: CPU per event is a figure that
    contention does not distort."""
    groups = {process.pid for process in processes.started}
    tick = os.sysconf("SC_CLK_TCK")
    totals = {"web": 0.0, "workers": 0.0, "postgres": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        used = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        ours = int(fields[2]) in groups  # the process group of a process this run started
        if ours and "gunicorn" in cmdline:
            totals["web"] += used
        elif ours and "qcluster" in cmdline:
            totals["workers"] += used
        elif cmdline.startswith("postgres:") and DATABASE in cmdline:
            totals["postgres"] += used
    return totals


def wait_for(condition, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


def raw_single_row_inserts(seconds: float = 3.0) -> float:
    """Rows per second of one-row autocommit INSERTs with psycopg, the reference."""
    import psycopg

    with psycopg.connect(f"{SERVER}/{DATABASE}", autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_raw (id bigserial primary key, a text, b jsonb, t timestamptz)")
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            conn.execute(
                "INSERT INTO bench_raw (a, b, t) VALUES (%s, %s, now())", ("cust", json.dumps({"cart_total": 80}))
            )
            count += 1
        return count / (time.perf_counter() - start)


def load_seed_and_key() -> str:
    from journeys.demo import load_demo
    from triggers.keys import create_api_key

    load_demo()
    return create_api_key("bench", scope="events:write", source="bench")[1]


# --- Real time ------------------------------------------------------------------------------


def realtime(rate: int, seconds: int) -> dict:
    """From the API's 202 to the email at the SMTP server, at `rate` events/s."""
    prepare_database()
    setup_django()
    key = load_seed_and_key()
    sink, processes = SmtpSink(), Processes()
    port = free_port()
    env = {**ENV, "EMAIL_URL": f"smtp://127.0.0.1:{sink.port}", "SITE_URL": f"http://127.0.0.1:{port}"}
    try:
        processes.start(sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2", env=env)
        for _ in range(CLUSTERS):
            processes.start(sys.executable, "manage.py", "qcluster", env=env)
        assert wait_for(lambda: _port_open(port), 30), "gunicorn did not start"
        local = threading.local()

        def post(i: int) -> float:
            if not hasattr(local, "conn"):
                local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            body = json.dumps(
                {
                    "trigger": "abandoned_cart",
                    "event_id": f"rt-{i}",
                    "contact": {"id": f"rt-{i}", "email": f"rt{i}@bench.test"},
                    "attributes": {"cart_total": 80},
                }
            )
            local.conn.request(
                "POST", "/api/v1/events", body, {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
            )
            response = local.conn.getresponse()
            response.read()
            assert response.status == 202, response.status
            return time.time()

        # Warm up: the first event after start-up pays for imports and connections.
        accepted_warm = post(-1)
        assert wait_for(lambda: "rt-1@bench.test" in sink.arrivals, 30), "warm-up email never arrived"
        del accepted_warm
        total = rate * seconds
        cpu_before = cpu_seconds(processes)
        accepted: dict[int, float] = {}
        start = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = {}
            for i in range(total):
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                futures[i] = pool.submit(post, i)
            for i, future in futures.items():
                accepted[i] = future.result()
        wait_for(lambda: len(sink.arrivals) >= total + 1, 60, interval=0.2)
        cpu_after = cpu_seconds(processes)
        latencies = [
            sink.arrivals[f"rt{i}@bench.test"] - accepted[i]
            for i in range(total)
            if f"rt{i}@bench.test" in sink.arrivals
        ]
    finally:
        processes.stop()
        sink.stop()
    result = {
        "events": total,
        "rate": rate,
        "emails_received": len(latencies),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
        # Milliseconds of CPU per event, by process kind (the load generator and SMTP sink,
        # in this process, are not counted).
        "cpu_ms_per_event": {k: round((cpu_after[k] - cpu_before[k]) / total * 1000, 2) for k in cpu_before},
    }
    result["workers"], result["broker"] = ENV["Q_WORKERS"], "redis" if ENV["REDIS_URL"] else "orm"
    result["clusters"] = CLUSTERS
    print(f"realtime: {json.dumps(result)}")
    print(
        f"  202 -> email at the SMTP server: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms (target p99 < 1000 ms)"
    )
    return result


# --- Throughput -----------------------------------------------------------------------------


def throughput(events: int) -> dict:
    """Participant steps per second through two real workers, against raw single-row inserts."""
    prepare_database()
    setup_django()
    load_seed_and_key()
    from django_q.tasks import async_task

    from journeys.models import Participant, ParticipantHistory
    from triggers.models import Event, Trigger

    raw_rate = raw_single_row_inserts()
    sink, processes = SmtpSink(), Processes()
    env = {**ENV, "EMAIL_URL": f"smtp://127.0.0.1:{sink.port}"}
    trigger = Trigger.objects.get(key="abandoned_cart")
    stored = Event.objects.bulk_create(
        Event(
            trigger=trigger,
            source="bench",
            event_id=f"tp-{i}",
            contact_key=f"tp-{i}",
            contact={"email": f"tp{i}@bench.test"},
            attributes={"cart_total": 80},
        )
        for i in range(events)
    )
    ids = [e.pk for e in stored]
    try:
        for _ in range(CLUSTERS):
            processes.start(sys.executable, "manage.py", "qcluster", env=env)
        time.sleep(3)  # the cluster's start-up is not part of the rate
        start = time.perf_counter()
        for chunk in range(0, len(ids), 100):  # what the batch API's signal enqueues
            async_task("journeys.tasks.process_events", ids[chunk : chunk + 100], group="events")
        done = wait_for(lambda: len(sink.arrivals) >= events, 600, interval=0.2)
        elapsed = time.perf_counter() - start
    finally:
        processes.stop()
        sink.stop()
    steps = ParticipantHistory.objects.count()
    result = {
        "events": events,
        "participants": Participant.objects.count(),
        "history_rows": steps,
        "emails": len(sink.arrivals),
        "complete": done,
        "seconds": round(elapsed, 2),
        "steps_per_s": round(steps / elapsed, 1),
        "emails_per_s": round(len(sink.arrivals) / elapsed, 1),
        "raw_single_row_inserts_per_s": round(raw_rate, 1),
        "ratio": round(steps / elapsed / raw_rate, 3),
        "clusters": CLUSTERS,
    }
    print(f"throughput: {json.dumps(result)}")
    print(
        f"  {result['steps_per_s']} participant steps/s ({result['emails_per_s']} emails/s) vs "
        f"{result['raw_single_row_inserts_per_s']} raw inserts/s: ratio {result['ratio']} (target >= 0.10)"
    )
    return result


# --- Scale ----------------------------------------------------------------------------------


def scale(waiting: int, due: int) -> dict:
    """A sweep with nothing due among `waiting` participants; then `due` wake up at once."""
    prepare_database()
    setup_django()
    load_seed_and_key()
    from django.db import connection
    from django.utils import timezone

    from journeys.models import Journey, Step
    from journeys.sweep import due_participant_ids, sweep

    journey = Journey.objects.get(key="abandoned-cart")
    version = journey.versions.get()
    step = Step.objects.get(version=version, key="wait-a-day")
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO journeys_contact (external_id, email, phone, push_token, first_name, last_name,
                   time_zone, attributes, created_at, updated_at)
               SELECT 'sc-' || g, 'sc' || g || '@bench.test', '', 'tok-' || g, '', '', '', '{}', now(), now()
               FROM generate_series(1, %s) g""",
            [waiting],
        )
        cursor.execute(
            """INSERT INTO journeys_participant (journey_id, version_id, contact_id, state, current_step_id,
                   step_started_at, wake_at, binding_id, entry_key, entered_at, exit_reason, attempts, last_error)
               SELECT %s, %s, c.id, 'active', %s, now(), now() + interval '1 day', '', '', now(), '', 0, ''
               FROM journeys_contact c WHERE c.external_id LIKE 'sc-%%'""",
            [journey.pk, version.pk, step.pk],
        )
        cursor.execute("ANALYZE journeys_participant")
    print(f"  inserted {waiting} waiting participants in {time.perf_counter() - t0:.1f}s")

    timings = []
    for _ in range(20):
        start = time.perf_counter()
        assert due_participant_ids(timezone.now(), 200_000) == []
        timings.append(time.perf_counter() - start)
    sweep_timings = []
    for _ in range(5):
        start = time.perf_counter()
        report = sweep()
        sweep_timings.append(time.perf_counter() - start)
        assert report.participants_due == 0
    with connection.cursor() as cursor:
        cursor.execute(
            """UPDATE journeys_participant SET wake_at = now() - interval '1 second'
               WHERE id IN (SELECT id FROM journeys_participant WHERE state = 'active' ORDER BY id LIMIT %s)""",
            [due],
        )
    sink, processes = SmtpSink(), Processes()
    env = {**ENV, "EMAIL_URL": f"smtp://127.0.0.1:{sink.port}"}
    try:
        processes.start(sys.executable, "manage.py", "qcluster", env=env)
        time.sleep(3)
        start = time.perf_counter()
        sweep()  # enqueues the due participants in batches, as the one-minute schedule does
        now = timezone.now()
        done = wait_for(lambda: not due_participant_ids(now, 1), 600, interval=0.5)
        advanced_in = time.perf_counter() - start
    finally:
        processes.stop()
        sink.stop()
    result = {
        "waiting": waiting,
        "empty_sweep_query_ms_median": round(statistics.median(timings) * 1000, 2),
        "empty_full_sweep_ms_median": round(statistics.median(sweep_timings) * 1000, 2),
        "woken": due,
        "all_advanced": done,
        "advanced_in_s": round(advanced_in, 1),
        "advanced_per_s": round(due / advanced_in, 1),
    }
    print(f"scale: {json.dumps(result)}")
    print(
        f"  sweep finding 0 due among {waiting}: {result['empty_sweep_query_ms_median']} ms (target < 50 ms); "
        f"{due} wake-ups advanced in {result['advanced_in_s']} s with 2 workers (target < 120 s)"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=["realtime", "throughput", "scale", "all"])
    parser.add_argument("--rate", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--waiting", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=100_000)
    args = parser.parse_args()
    if args.part == "all":  # each part in its own process: each recreates the database
        for part in ("realtime", "throughput", "scale"):
            subprocess.run([sys.executable, __file__, part, *sys.argv[2:]], check=True)
    elif args.part == "realtime":
        realtime(args.rate, args.seconds)
    elif args.part == "throughput":
        throughput(args.events)
    else:
        scale(args.waiting, args.due)


if __name__ == "__main__":
    main()
