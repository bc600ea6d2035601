#!/usr/bin/env python
"""Benchmarks of the journey engine on PostgreSQL with real processes (issues 5 and 15).

    .venv/bin/python bench/engine.py all            # realtime, throughput, scale
    .venv/bin/python bench/engine.py realtime --rate 300 --seconds 60
    BENCH_REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/engine.py realtime --rate 300
    .venv/bin/python bench/engine.py realtime --rate 300 --prefill 20000   # on a database that has run a while
    .venv/bin/python bench/engine.py throughput --events 3000
    .venv/bin/python bench/engine.py scale --waiting 1000000 --due 100000
    BENCH_WORKERS=4 BENCH_REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/engine.py realtime
    BENCH_CLUSTERS=2 .venv/bin/python bench/engine.py throughput   # two qcluster processes
    BENCH_WORKERS=1 .venv/bin/python bench/engine.py scaleout --events 10000   # one, then two

Each part prints its figures and, where the issue asks, a ratio to raw PostgreSQL measured
in the same run. It uses its own database (journeys_bench_engine or $BENCH_DATABASE), dropped and recreated;
a local SMTP server in its own process receives the emails (bench/smtp_sink.py; BENCH_SMTP=aiosmtpd
for aiosmtpd). The load generator and that server share the machine with the engine: their
CPU is printed apart ("outside"). Run it on an otherwise idle machine.
"""

import argparse
import contextlib
import json
import os
import signal
import socket
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
# BENCH_CLUSTER_CPU=0.5: each qcluster process in a CPU cgroup of its own, capped at that many
# cores, standing for a node of that size (cgroup v1's cpu controller; needs root). Uncapped on
# a 2-core box, a second cluster can only take the CPU the first one, PostgreSQL and the SMTP
# server leave: that measures the box, not whether clusters get in each other's way.
CLUSTER_CPU = float(os.environ.get("BENCH_CLUSTER_CPU", "0"))
CPU_CGROUPS = Path("/sys/fs/cgroup/cpu")
# BENCH_SMTP=aiosmtpd: aiosmtpd as the SMTP server, instead of bench/smtp_sink.py's small one.
SINK_OPTIONS = ["--aiosmtpd"] if os.environ.get("BENCH_SMTP") == "aiosmtpd" else []
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
    """Records when each recipient's first email arrived, from an SMTP server in a process
    of its own (bench/smtp_sink.py); its CPU is reported apart, not as the engine's."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}  # each recipient's first email
        self.duplicates = 0  # emails to a recipient who had one already
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("smtp_sink.py")), str(free_port()), *SINK_OPTIONS],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        first = self.process.stdout.readline().split()
        assert first[:1] == ["port"], f"the SMTP sink did not start: {first}"
        self.port = int(first[1])
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            at, rcpt = line.split(" ", 1)
            if rcpt.strip() in self.arrivals:
                self.duplicates += 1
            else:
                self.arrivals[rcpt.strip()] = float(at)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.reader.join(timeout=5)


class Processes:
    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []
        self.cgroups: list[Path] = []

    def start(self, *args: str, env: dict) -> subprocess.Popen:
        process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        self.started.append(process)
        return process

    def start_cluster(self, env: dict) -> subprocess.Popen:
        if not CLUSTER_CPU:
            return self.start(sys.executable, "manage.py", "qcluster", env=env)
        group = CPU_CGROUPS / f"journeys-bench-{os.getpid()}-{len(self.cgroups)}"
        group.mkdir()
        self.cgroups.append(group)
        period = int((group / "cpu.cfs_period_us").read_text())
        (group / "cpu.cfs_quota_us").write_text(str(int(CLUSTER_CPU * period)))
        # Into the cgroup before it starts: the sentinel and workers it forks stay there.
        command = f'echo $$ > {group}/cgroup.procs && exec "$0" manage.py qcluster'
        return self.start("sh", "-c", command, sys.executable, env=env)

    def stop(self) -> None:
        for process in self.started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        self.started = []
        for group in self.cgroups:
            wait_for(lambda group=group: not (group / "cgroup.procs").read_text().strip(), 10)
            group.rmdir()
        self.cgroups = []


def cpu_seconds(processes: "Processes") -> dict[str, float]:
    """CPU time used so far by this run's web server and workers (their process groups) and
    by PostgreSQL's backends for the bench database: CPU per event is a figure that
    contention does not distort."""
    totals = _kinds()
    for kind, used in _cpu_by_pid(processes).values():
        totals[kind] += used
    return totals


def _kinds() -> dict[str, float]:
    totals = {"web": 0.0, "workers": 0.0, "postgres": 0.0}
    if ENV["REDIS_URL"]:
        totals["redis"] = 0.0  # the whole server's: nothing else uses it during a run
    return totals


class CpuMeter:
    """CPU used since it was made by each kind of process, counting the processes that ended in
    between (a PostgreSQL connection closed after CONN_MAX_AGE, a worker recycled): sampled
    every five seconds (reading /proc costs this process CPU, counted as the load
    generator's), each process counted up to its last sample. cpu_seconds() before and after
    loses an ended process's CPU, which runs longer than ten minutes showed."""

    def __init__(self, processes: "Processes") -> None:
        self.processes = processes
        self.first = _cpu_by_pid(processes)
        self.last = dict(self.first)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while not self.stopping.wait(5):
            self.last.update(_cpu_by_pid(self.processes))

    def stop(self) -> dict[str, float]:
        self.stopping.set()
        self.thread.join()
        self.last.update(_cpu_by_pid(self.processes))
        totals = _kinds()
        for pid, (kind, used) in self.last.items():
            totals[kind] += used - (self.first[pid][1] if pid in self.first else 0.0)
        return totals


def _cpu_by_pid(processes: "Processes") -> dict[int, tuple[str, float]]:
    groups = {process.pid for process in processes.started}
    tick = os.sysconf("SC_CLK_TCK")
    redis = bool(ENV["REDIS_URL"])
    found: dict[int, tuple[str, float]] = {}
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
            found[int(entry.name)] = ("web", used)
        elif ours and "qcluster" in cmdline:
            found[int(entry.name)] = ("workers", used)
        elif cmdline.startswith("postgres:") and DATABASE in cmdline:
            found[int(entry.name)] = ("postgres", used)
        elif redis and cmdline.startswith("redis-server"):
            found[int(entry.name)] = ("redis", used)
    return found


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
    # Above the default 200/s: the realtime part posts up to 300/s (issue 15), as an operator
    # would raise the key's limit for such a site.
    return create_api_key("bench", scope="events:write", source="bench", rate_per_second=1000, burst=2000)[1]


# --- Real time ------------------------------------------------------------------------------


def realtime(rate: int, seconds: int, prefill: int = 0) -> dict:
    """From the API's 202 to the email at the SMTP server, at `rate` events/s; with `prefill`,
    on a database that already holds that many earlier events' rows (see _prefill)."""
    prepare_database()
    setup_django()
    key = load_seed_and_key()
    sink, processes = SmtpSink(), Processes()
    port = free_port()
    env = {**ENV, "EMAIL_URL": f"smtp://127.0.0.1:{sink.port}", "SITE_URL": f"http://127.0.0.1:{port}"}
    try:
        processes.start(sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2", env=env)
        for _ in range(CLUSTERS):
            processes.start_cluster(env)
        assert wait_for(lambda: _port_open(port), 30), "gunicorn did not start"
        request_head = _request_head(port, "/api/v1/events", key)

        def post(i: int) -> float:
            """One event: its 202's time."""
            body = json.dumps(
                {
                    "trigger": "abandoned_cart",
                    "event_id": f"rt-{i}",
                    "contact": {"id": f"rt-{i}", "email": f"rt{i}@bench.test"},
                    "attributes": {"cart_total": 80},
                }
            ).encode()
            response = _exchange(port, request_head + b"Content-Length: %d\r\n\r\n" % len(body) + body, timeout=10)
            status = response[9:12]
            assert status == b"202", response[:200]
            return time.time()

        # Warm up: the first event after start-up pays for imports and connections.
        accepted_warm = post(-1)
        assert wait_for(lambda: "rt-1@bench.test" in sink.arrivals, 30), "warm-up email never arrived"
        del accepted_warm
        if prefill:
            _prefill(port, key, prefill, sink)
        total = rate * seconds
        meter = CpuMeter(processes)
        outside_before = _outside_cpu(sink)
        checkpoints_before = _checkpoints()
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
        wait_for(lambda: len(sink.arrivals) >= total + 1 + prefill, 60, interval=0.2)
        cpu = meter.stop()
        outside_after = _outside_cpu(sink)
        checkpoints = _checkpoints() - checkpoints_before
        late = _latencies(sink.arrivals, accepted, total)
        latencies = list(late.values())
    finally:
        processes.stop()
        sink.stop()
    result = {
        "events": total,
        "rate": rate,
        "emails_received": len(latencies),
        "duplicates": sink.duplicates,
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
        # Milliseconds of CPU per event, by process kind (the load generator and the SMTP
        # server are not counted here: "outside" below).
        "cpu_ms_per_event": {k: round(used / total * 1000, 2) for k, used in cpu.items()},
        # Not the product's: this process posting the events, and the SMTP server's process.
        "outside_cpu_ms_per_event": {
            k: round((outside_after[k] - outside_before[k]) / total * 1000, 2) for k in outside_before
        },
        # p99 of each tenth of the run: a latency that grows from window to window is a backlog.
        "p99_ms_by_window": _p99_by_window(late, total),
        # PostgreSQL checkpoints during the run (the server's, any database): each one slows
        # commits for a while (its writes, then full-page images in the WAL).
        "checkpoints": checkpoints,
    }
    result["cpu_ms_per_event"]["all"] = round(sum(result["cpu_ms_per_event"].values()), 2)
    # A shared machine's speed drifts (by a quarter from minute to minute on one, the engine's
    # CPU with it); the bench's own parts do the same work per event whatever the code, so
    # the engine's CPU over theirs compares code across runs (docs/performance.md, fifth round).
    outside = sum(result["outside_cpu_ms_per_event"].values())
    result["engine_over_outside"] = round(result["cpu_ms_per_event"]["all"] / outside, 2) if outside else None
    result["workers"], result["broker"] = ENV["Q_WORKERS"], "redis" if ENV["REDIS_URL"] else "orm"
    result["clusters"], result["prefill"] = CLUSTERS, prefill
    print(f"realtime: {json.dumps(result)}")
    print(
        f"  202 -> email at the SMTP server: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms (target p99 < 1000 ms); "
        f"{result['emails_received']} of {total} emails, {result['duplicates']} twice; "
        f"CPU per event in all processes {result['cpu_ms_per_event']['all']} ms (target <= 6 ms)"
    )
    return result


def _prefill(port: int, key: str, count: int, sink: SmtpSink) -> None:
    """Bring the database to what a deployment that has run for a while has: `count` earlier
    events through the same journey (their contacts, participants waiting for the second
    email, deliveries sent, history), then VACUUM ANALYZE, as autovacuum would have done by
    then. On a database created a second before, PostgreSQL's statistics say the tables are
    nearly empty and autovacuum looks at them once a minute: for the whole measured minute its
    plans were made for an empty database (sequential scans of the contacts for each
    chunk's load, bitmap scans over the unprocessed events' dead index entries), which is
    not what the engine costs on a running system. Posted in batches, not timed."""
    from django.db import connection

    for start in range(0, count, 500):
        events = [
            {
                "trigger": "abandoned_cart",
                "event_id": f"pre-{i}",
                "contact": {"id": f"pre-{i}", "email": f"pre{i}@bench.test"},
                "attributes": {"cart_total": 80},
            }
            for i in range(start, min(count, start + 500))
        ]
        body = json.dumps({"events": events}).encode()
        while (status := _post_batch(port, key, body)) == 429:  # the key's burst: wait for it
            time.sleep(1)
        assert 200 <= status < 300, status

    def arrived() -> bool:
        return sum(address.startswith("pre") for address in list(sink.arrivals)) >= count

    assert wait_for(arrived, 60 + count / 50, interval=1), "the prefill's emails did not all arrive"
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"prefilled: {count} events", flush=True)  # e.g. to reset pg_stat_statements here


def _post_batch(port: int, key: str, body: bytes) -> int:
    head = _request_head(port, "/api/v1/events/batch", key)
    return int(_exchange(port, head + b"Content-Length: %d\r\n\r\n" % len(body) + body, timeout=60)[9:12])


def _request_head(port: int, path: str, key: str) -> bytes:
    """A POST's head but its Content-Length, written as bytes once (the load generator shares
    the engine's two cores, so it should cost little: http.client cost about twice as much)."""
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {key}\r\nConnection: close\r\n"
    ).encode()


def _exchange(port: int, request: bytes, timeout: float) -> bytes:
    """One request over its own connection (gunicorn's sync workers close each one): the response."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(request)
        response = b""
        while chunk := conn.recv(65536):
            response += chunk
    return response


def _outside_cpu(sink: SmtpSink) -> dict[str, float]:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"load_generator": usage.ru_utime + usage.ru_stime, "smtp_sink": sink.cpu_seconds()}


def _checkpoints() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.pg_version >= 170000:  # the counters moved in PostgreSQL 17
            cursor.execute("SELECT num_timed + num_requested FROM pg_stat_checkpointer")
        else:
            cursor.execute("SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter")
        return cursor.fetchone()[0]


def _latencies(arrivals: dict[str, float], accepted: dict[int, float], total: int) -> dict[int, float]:
    """Seconds from each event's 202 to its email's arrival, for the events whose email came."""
    return {i: arrivals[f"rt{i}@bench.test"] - accepted[i] for i in range(total) if f"rt{i}@bench.test" in arrivals}


def _p99_by_window(late: dict[int, float], total: int) -> list[float]:
    size = max(1, total // 10)
    return [
        round(percentile([late[i] for i in range(first, min(total, first + size)) if i in late], 99) * 1000)
        for first in range(0, total, size)
    ]


# --- Throughput -----------------------------------------------------------------------------


def throughput(events: int) -> dict:
    """Participant steps per second through two real workers, against raw single-row inserts."""
    prepare_database()
    setup_django()
    load_seed_and_key()
    from django_q.tasks import async_task

    from journeys.models import Participant, ParticipantHistory
    from triggers.models import Event, Trigger

    # The reference moves by ±10 % from one 3-second sample to the next: the median of three.
    raw_rate = statistics.median(raw_single_row_inserts() for _ in range(3))
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
            processes.start_cluster(env)
        time.sleep(3)  # the cluster's start-up is not part of the rate
        start, cpu_before = time.perf_counter(), cpu_seconds(processes)
        for chunk in range(0, len(ids), 100):  # what the batch API's signal enqueues
            async_task("journeys.tasks.process_events", ids[chunk : chunk + 100], group="events")
        done = wait_for(lambda: len(sink.arrivals) >= events, 600, interval=0.2)
        elapsed = time.perf_counter() - start
        cpu_after = cpu_seconds(processes)
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
        "workers_per_cluster": ENV["Q_WORKERS"],
        "cores_per_cluster": CLUSTER_CPU or "uncapped",
        # How much of the machine's cores the workers and PostgreSQL kept busy meanwhile.
        "cores_busy": {k: round((cpu_after[k] - cpu_before[k]) / elapsed, 2) for k in cpu_before},
    }
    print(f"throughput: {json.dumps(result)}")
    print(
        f"  {result['steps_per_s']} participant steps/s ({result['emails_per_s']} emails/s) vs "
        f"{result['raw_single_row_inserts_per_s']} raw inserts/s: ratio {result['ratio']} (target >= 0.30)"
    )
    return result


# --- Scale-out ------------------------------------------------------------------------------


def scaleout(events: int, rounds: int) -> dict:
    """Throughput with one `qcluster` process, then two, on the same database, alternately
    (`rounds` times each, in fresh processes): what the second one adds, as a share of the
    first one's throughput (issue 15: at least 70 %)."""
    runs: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(rounds):
        for clusters in (1, 2):
            output = subprocess.run(
                [sys.executable, __file__, "throughput", "--events", str(events)],
                env={**os.environ, "BENCH_CLUSTERS": str(clusters)},
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            line = next(line for line in output.splitlines() if line.startswith("throughput: "))
            runs[clusters].append(json.loads(line.removeprefix("throughput: "))["steps_per_s"])
            print(f"  {clusters} cluster(s): {runs[clusters][-1]} participant steps/s", flush=True)
    one, two = statistics.median(runs[1]), statistics.median(runs[2])
    result = {
        "one": runs[1],
        "two": runs[2],
        "added_share": round((two - one) / one, 3),
        "workers_per_cluster": ENV["Q_WORKERS"],
        "cores_per_cluster": CLUSTER_CPU or "uncapped",
    }
    print(f"scaleout: {json.dumps(result)}")
    print(
        f"  medians: one cluster {one}, two {two} participant steps/s: the second adds "
        f"{result['added_share']:.0%} of the first's throughput (target >= 70 %)"
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
        processes.start_cluster(env)
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
    parser.add_argument("part", choices=["realtime", "throughput", "scaleout", "scale", "all"])
    parser.add_argument("--rounds", type=int, default=3, help="scaleout: runs of each")
    parser.add_argument("--rate", type=int, default=50)
    parser.add_argument(
        "--prefill",
        type=int,
        default=0,
        help="realtime: earlier events' rows in the database before the measured minute (then VACUUM ANALYZE)",
    )
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--waiting", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=100_000)
    args = parser.parse_args()
    if args.part == "all":  # each part in its own process: each recreates the database
        for part in ("realtime", "throughput", "scale"):
            subprocess.run([sys.executable, __file__, part, *sys.argv[2:]], check=True)
    elif args.part == "realtime":
        realtime(args.rate, args.seconds, args.prefill)
    elif args.part == "throughput":
        throughput(args.events)
    elif args.part == "scaleout":
        scaleout(args.events, args.rounds)
    else:
        scale(args.waiting, args.due)


if __name__ == "__main__":
    main()
