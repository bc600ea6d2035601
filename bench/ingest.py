#!/usr/bin/env python
"""Benchmark of trigger ingestion through real HTTP on PostgreSQL (issue 3).

    .venv/bin/python bench/ingest.py                      # 3 rounds x 4 phases x 4 s, 4 clients
    .venv/bin/python bench/ingest.py --clients 8 --limiter database --broker orm

The API runs under gunicorn (config.settings, DEBUG off) against its own database
(journeys_bench_ingest, dropped and recreated); a load generator on the same machine keeps
`--clients` connections busy, each sending the next request as soon as the previous one is
answered. Four phases with the same concurrency, taking turns for `--rounds` rounds so that
the HTTP figures and the raw figures they are compared with see the same background load:

  http single   POST /api/v1/events, one event per request
  http batch    POST /api/v1/events/batch, 500 events per request
  raw single    psycopg, one-row INSERT per transaction into the same events table
  raw batch     psycopg, one 500-row INSERT per transaction into the same table

The raw phases insert the same rows (same columns, constraint and indexes) with nothing
else: no HTTP, no authentication, no validation, no rate limit, no queue. The script prints
events/s, p50/p99 latency and each HTTP figure as a ratio to its raw figure, checks the
issue's targets, and checks that every accepted event is in the table exactly once.
"""

import argparse
import http.client
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from common import ROOT, SERVER, deployment_env, free_port, percentile, port_open, recreate_database

sys.path.insert(0, str(ROOT))
DATABASE = "journeys_bench_ingest"
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/12")
BATCH = 500
# Targets of issue 3 on a 2-core machine.
TARGET_SINGLE_RATIO = 0.10
TARGET_SINGLE_P99_MS = 50.0
TARGET_BATCH_RATIO = 0.25

ENV = deployment_env(DATABASE)


# --- Payloads: the example event, unique per request ----------------------------------


def event(event_id: str) -> dict:
    return {
        "trigger": "abandoned_cart",
        "event_id": event_id,
        "contact": {"id": f"cust-{event_id}", "email": "ana@example.com", "phone": "+15551234567"},
        "attributes": {"cart_total": 80.5, "cart": {"items": 3, "currency": "EUR"}},
        "timestamp": "2026-11-28T12:00:00Z",
        "binding_id": "cart/981",
    }


def row(trigger_id: int, event_id: str) -> tuple:
    """The row the API stores for `event(event_id)`, for the raw phases."""
    body = event(event_id)
    contact = {k: v for k, v in body["contact"].items() if k != "id"}
    return (
        trigger_id,
        "raw",
        event_id,
        body["contact"]["id"],
        json.dumps(contact),
        json.dumps(body["attributes"]),
        body["binding_id"],
        body["timestamp"],
        datetime.now(UTC),
        uuid.uuid4().hex * 2,  # a 64-character body hash
    )


COLUMNS = (
    "trigger_id, source, event_id, contact_key, contact, attributes, binding_id, timestamp, received_at, body_hash"
)
ROW_PLACEHOLDER = "(%s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s, %s, %s)"


# --- Load generator: processes x threads, each with one connection -----------------------------


@dataclass
class Load:
    events: int = 0
    requests: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, per request
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Job:
    kind: str  # http-single, http-batch, raw-single, raw-batch
    threads: int
    start_at: float  # time.time() at which every client starts
    seconds: float
    port: int = 0
    key: str = ""
    trigger_id: int = 0
    tag: str = ""


def run_client(job: Job, client: int, load: Load, lock: threading.Lock) -> None:
    """One client: warm up, wait for the common start, then send until the deadline."""
    sequence = 0

    def ids(count: int) -> list[str]:
        nonlocal sequence
        sequence += count
        return [f"{job.tag}-{client}-{n}" for n in range(sequence - count, sequence)]

    if job.kind.startswith("http"):
        conn = http.client.HTTPConnection("127.0.0.1", job.port, timeout=30)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {job.key}"}
        path = "/api/v1/events" if job.kind == "http-single" else "/api/v1/events/batch"

        def send() -> int:
            if job.kind == "http-single":
                body, count = json.dumps(event(ids(1)[0])), 1
            else:
                body, count = json.dumps({"events": [event(i) for i in ids(BATCH)]}), BATCH
            conn.request("POST", path, body, headers)
            response = conn.getresponse()
            data = response.read()
            if response.status != 202:
                raise RuntimeError(f"{response.status}: {data[:300]!r}")
            return count
    else:
        import psycopg

        conn = psycopg.connect(f"{SERVER}/{DATABASE}", autocommit=True)
        single_sql = f"INSERT INTO triggers_event ({COLUMNS}) VALUES {ROW_PLACEHOLDER}"
        batch_sql = f"INSERT INTO triggers_event ({COLUMNS}) VALUES " + ", ".join([ROW_PLACEHOLDER] * BATCH)

        def send() -> int:
            if job.kind == "raw-single":
                conn.execute(single_sql, row(job.trigger_id, ids(1)[0]))
                return 1
            rows = [row(job.trigger_id, i) for i in ids(BATCH)]
            conn.execute(batch_sql, [value for r in rows for value in r])
            return BATCH

    mine = Load()
    try:
        send()  # Warm-up: connection, imports, gunicorn worker start-up; not counted.
        time.sleep(max(0.0, job.start_at - time.time()))
        deadline = job.start_at + job.seconds
        while True:
            began = time.perf_counter()
            count = send()
            if time.time() > deadline:
                break
            mine.latencies.append(time.perf_counter() - began)
            mine.events += count
            mine.requests += 1
    except Exception as error:  # Reported, and the run fails: a benchmark must not hide errors.
        mine.errors.append(f"{job.kind}: {error!r}")
    finally:
        conn.close()
    with lock:
        load.events += mine.events
        load.requests += mine.requests
        load.latencies += mine.latencies
        load.errors += mine.errors


def run_process(job: Job, first_client: int) -> Load:
    load, lock = Load(), threading.Lock()
    threads = [
        threading.Thread(target=run_client, args=(job, first_client + n, load, lock)) for n in range(job.threads)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return load


def generate(kind: str, *, clients: int, processes: int, seconds: float, **job_fields) -> Load:
    """Run `clients` clients spread over `processes` processes (the GIL would cap one)."""
    per_process = [clients // processes + (1 if n < clients % processes else 0) for n in range(processes)]
    start_at = time.time() + 2.0 + 0.3 * clients  # Time for every client to warm up.
    tag = f"{kind}-{uuid.uuid4().hex[:6]}"
    jobs = [
        (Job(kind, threads, start_at, seconds, tag=tag, **job_fields), sum(per_process[:n]))
        for n, threads in enumerate(per_process)
        if threads
    ]
    with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
        loads = pool.starmap(run_process, jobs)
    return merge(loads)


# --- Set-up and the server ----------------------------------------------------------------------


def prepare_database() -> None:
    recreate_database(DATABASE, ENV)


def create_trigger_and_key() -> tuple[int, str]:
    os.environ.update(ENV)
    import django

    django.setup()
    from django.db import connections

    from triggers.keys import create_api_key
    from triggers.models import Trigger, TriggerAttribute, TriggerStatus

    trigger = Trigger.objects.create(key="abandoned_cart", name="Abandoned cart", status=TriggerStatus.READY)
    attributes = [("cart_total", "number", True), ("cart", "object", False), ("cart.items", "number", True)]
    attributes.append(("cart.currency", "text", False))
    for position, (name, type_, required) in enumerate(attributes):
        TriggerAttribute.objects.create(trigger=trigger, name=name, type=type_, required=required, position=position)
    # Limits far above what the machine can send: the limiter runs on every request but never refuses.
    _, raw = create_api_key("bench", scope="events:write", source="bench", rate_per_second=10**7, burst=10**7)
    connections.close_all()
    return trigger.pk, raw


def start_gunicorn(port: int, workers: int, threads: int, env: dict) -> subprocess.Popen:
    command = [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", str(workers)]
    command += ["-k", "gthread", "--threads", str(threads), "--keep-alive", "30", "--log-level", "warning"]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while not port_open(port):
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError("gunicorn did not start")
        time.sleep(0.1)
    return process


def cpu_seconds(master: int) -> float:
    """User + system CPU of a process and its children (gunicorn's workers), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry.name), int(fields[1])
        if master in (pid, ppid):
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except ProcessLookupError:
        pass


def clear_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    for pattern in ("journeys:limits:*", "django_q:*"):
        for key in client.scan_iter(pattern):
            client.delete(key)


def stored_rows(source: str) -> tuple[int, int]:
    """(rows, distinct event ids) stored for `source`."""
    import psycopg

    with psycopg.connect(f"{SERVER}/{DATABASE}") as conn:
        return conn.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM triggers_event WHERE source = %s", (source,)
        ).fetchone()


# --- Report --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    name: str
    events_per_second: float
    requests_per_second: float
    p50_ms: float
    p99_ms: float


def merge(loads: list[Load]) -> Load:
    total = Load()
    for load in loads:
        total.events += load.events
        total.requests += load.requests
        total.latencies += load.latencies
        total.errors += load.errors
    return total


def figure(name: str, load: Load, seconds: float) -> Figure:
    if load.errors:
        raise SystemExit(f"{name} failed: {load.errors[:3]}")
    return Figure(
        name,
        load.events / seconds,
        load.requests / seconds,
        percentile(load.latencies, 50) * 1000,
        percentile(load.latencies, 99) * 1000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0, help="Length of each phase in each round.")
    parser.add_argument("--rounds", type=int, default=3, help="Rounds of the four phases, interleaved.")
    parser.add_argument("--clients", type=int, default=4, help="Concurrent connections, in every phase.")
    parser.add_argument("--batch-clients", type=int, default=None, help="Connections for the batch phases.")
    parser.add_argument("--processes", type=int, default=2, help="Load generator processes.")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes.")
    parser.add_argument("--threads", type=int, default=4, help="Threads per gunicorn worker (gthread).")
    parser.add_argument(
        "--limiter",
        choices=["redis", "database"],
        default="redis",
        help="Where rate limits are counted (redis also carries the task queue, as in production).",
    )
    parser.add_argument(
        "--broker",
        choices=["redis", "orm"],
        default=None,
        help="django-q broker the accepted events are enqueued on (default: redis with --limiter redis).",
    )
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON too.")
    args = parser.parse_args()
    batch_clients = args.batch_clients or args.clients

    prepare_database()
    trigger_id, key = create_trigger_and_key()
    port = free_port()
    broker = args.broker or ("redis" if args.limiter == "redis" else "orm")
    if broker == "redis" and args.limiter != "redis":
        parser.error("--broker redis needs --limiter redis (both use REDIS_URL)")
    env = {
        **ENV,
        "REDIS_URL": REDIS if args.limiter == "redis" else "",
        "Q_BROKER": broker,
        "SITE_URL": f"http://127.0.0.1:{port}",
    }
    if args.limiter == "redis":
        clear_redis(REDIS)
    common = {"processes": args.processes, "seconds": args.seconds}
    phases = {
        "http-single": {"clients": args.clients, "port": port, "key": key},
        "raw-single": {"clients": args.clients, "trigger_id": trigger_id},
        "http-batch": {"clients": batch_clients, "port": port, "key": key},
        "raw-batch": {"clients": batch_clients, "trigger_id": trigger_id},
    }
    # The phases take turns, round after round: on a shared machine the HTTP figures and the
    # raw figures they are divided by then see the same background load.
    loads: dict[str, list[Load]] = {kind: [] for kind in phases}
    server_cpu = dict.fromkeys(phases, 0.0)
    server = start_gunicorn(port, args.workers, args.threads, env)
    try:
        for _ in range(args.rounds):
            for kind, fields in phases.items():
                before = cpu_seconds(server.pid)
                loads[kind].append(generate(kind, **fields, **common))
                server_cpu[kind] += cpu_seconds(server.pid) - before
    finally:
        stop(server)
        if args.limiter == "redis":
            clear_redis(REDIS)
    http_single, raw_single = merge(loads["http-single"]), merge(loads["raw-single"])
    http_batch, raw_batch = merge(loads["http-batch"]), merge(loads["raw-batch"])
    seconds = args.seconds * args.rounds

    # Every accepted event is stored, once (warm-up requests and the last, uncounted,
    # request of each client are stored too: at least as many rows as counted events).
    rows, distinct = stored_rows("bench")
    counted = http_single.events + http_batch.events
    assert rows == distinct >= counted, (rows, distinct, counted)

    figures = [
        figure("http single", http_single, seconds),
        figure("http batch of 500", http_batch, seconds),
        figure("raw single-row INSERT", raw_single, seconds),
        figure("raw 500-row INSERT", raw_batch, seconds),
    ]
    single_ratio = figures[0].events_per_second / figures[2].events_per_second
    batch_ratio = figures[1].events_per_second / figures[3].events_per_second
    print(
        f"\nIngestion on PostgreSQL: gunicorn {args.workers} workers x {args.threads} threads, "
        f"limits in {args.limiter}, queue on {broker}, {args.clients} clients ({batch_clients} for batches), "
        f"{args.rounds} rounds of {args.seconds:g} s per phase, {os.cpu_count()} CPUs\n"
    )
    print(f"{'phase':<24}{'events/s':>11}{'requests/s':>12}{'p50 ms':>9}{'p99 ms':>9}")
    for f in figures:
        print(f"{f.name:<24}{f.events_per_second:>11.0f}{f.requests_per_second:>12.1f}{f.p50_ms:>9.1f}{f.p99_ms:>9.1f}")
    single_ok = single_ratio >= TARGET_SINGLE_RATIO and figures[0].p99_ms < TARGET_SINGLE_P99_MS
    batch_ok = batch_ratio >= TARGET_BATCH_RATIO
    print(
        f"\nsingle: {single_ratio:.1%} of raw single-row inserts, p99 {figures[0].p99_ms:.1f} ms "
        f"(target >= {TARGET_SINGLE_RATIO:.0%}, p99 < {TARGET_SINGLE_P99_MS:g} ms): {'met' if single_ok else 'MISSED'}"
    )
    print(
        f"batch:  {batch_ratio:.1%} of raw 500-row inserts "
        f"(target >= {TARGET_BATCH_RATIO:.0%}): {'met' if batch_ok else 'MISSED'}"
    )
    # Includes the uncounted warm-up requests: an upper bound of the server's CPU per event.
    rounds = [
        (a.events / max(b.events, 1), c.events / max(d.events, 1))
        for a, b, c, d in zip(*(loads[kind] for kind in phases), strict=True)
    ]
    print("ratio per round (single, batch): " + ", ".join(f"{x:.1%} / {y:.1%}" for x, y in rounds))
    print(
        f"server CPU: {server_cpu['http-single'] / max(http_single.events, 1) * 1000:.2f} ms per single event, "
        f"{server_cpu['http-batch'] / max(http_batch.events, 1) * 1000:.3f} ms per event in batches "
        f"(gunicorn workers; load average now {os.getloadavg()[0]:.1f})"
    )
    print(f"stored: {rows} API events, {distinct} distinct event ids, none lost or doubled")
    if args.json:
        print(
            json.dumps(
                {
                    "figures": [f.__dict__ for f in figures],
                    "single_ratio": single_ratio,
                    "batch_ratio": batch_ratio,
                    "targets_met": single_ok and batch_ok,
                }
            )
        )


if __name__ == "__main__":
    main()
