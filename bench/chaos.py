#!/usr/bin/env python
"""The chaos suite (issue 10): real processes on PostgreSQL, killed again and again under load.

    .venv/bin/python bench/chaos.py --profile ci      # bounded (about 4 minutes); .ci/run runs it
    .venv/bin/python bench/chaos.py --profile long    # the figures in docs/performance.md
    BENCH_POSTGRES=postgres://postgres@127.0.0.1:5432 .venv/bin/python bench/chaos.py --shared-postgres

It starts a PostgreSQL server of its own (initdb into a temporary directory as the `postgres`
OS user, a free port; stopped and removed at the end, even on failure), gunicorn (2 workers),
two `manage.py run_workers` clusters side by side (2 workers each) and an SMTP server that
counts what it receives, on a database of its own (journeys_chaos_<pid>, dropped at the end).
Halfway through the load it restarts that PostgreSQL server (`pg_ctl restart -m fast`).
`--shared-postgres` uses the server of BENCH_POSTGRES instead, which it never restarts. A journey sends an email, waits 20 s and sends a
second one. While events arrive at a steady rate it SIGKILLs queue workers, pushers and
monitors, sentinels, whole clusters (restarted, as a supervisor would), web workers, and stops
clusters with SIGTERM to their whole process group (restarted too). Then it checks:

- every acknowledged event is stored exactly once;
- no contact got an email twice (duplicates 0);
- every email was received, except sends a killed worker interrupted, which are recorded
  `unknown` (at most once; counted, never sent again) (lost 0);
- every SIGTERMed cluster stopped within Q_TIMEOUT + 10 s;
- no email arrived more than the delivery lease + 2 minutes late (the first after the event's
  202, the second after the 20 s wait): with DELIVERY_LEASE_SECONDS=30 the bound is 150 s,
  and a calm run's worst is well under a minute, so the verdict has room on a loaded box;
- /health/engine comes back to `ok` and no participant is left behind.

Exit code 0 when everything holds, 1 otherwise.
"""

import argparse
import contextlib
import http.client
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from common import ROOT, SERVER, deployment_env, free_port, port_open, recreate_database, setup_django

sys.path.insert(0, str(ROOT))

WAIT_SECONDS = 20
Q_TIMEOUT = 15
TERM_BOUND = Q_TIMEOUT + 10
SUBJECTS = ("Chaos first email", "Chaos second email")


@dataclass
class Profile:
    rate: float  # events per second
    load_seconds: int
    fault_every: float  # seconds between faults, while events arrive and a while after
    drain_deadline: int  # seconds after the faults end for every email to arrive
    private_postgres: bool  # a PostgreSQL server of its own, restarted once mid-run
    lease: int = 30  # DELIVERY_LEASE_SECONDS: the lateness bound is lease + LATENESS_ALLOWANCE

    @property
    def lateness_bound(self) -> int:
        return self.lease + LATENESS_ALLOWANCE


# The promise: no participant more than the delivery lease + 2 minutes late.
LATENESS_ALLOWANCE = 120

PROFILES = {
    "ci": Profile(rate=4, load_seconds=45, fault_every=1.5, drain_deadline=200, private_postgres=True),
    "long": Profile(rate=10, load_seconds=300, fault_every=3.0, drain_deadline=600, private_postgres=True),
}

BUNDLE = {
    "triggers": [{"key": "chaos_signup", "name": "Chaos signup", "status": "ready", "attributes": []}],
    "content": [
        {
            "key": f"chaos-{which}",
            "channel": "email",
            "name": f"Chaos {which} email",
            "status": "ready",
            "subject": subject,
            "from_name": "Chaos",
            "from_email": "chaos@example.com",
            "html": "<p>Hello {{ contact.id }}</p>",
            "text": "Hello {{ contact.id }}",
            "purpose": "transactional",
        }
        for which, subject in zip(("first", "second"), SUBJECTS, strict=True)
    ],
    "journeys": [
        {
            "key": "chaos",
            "name": "Chaos: email, wait, email",
            "type": "trigger",
            "time_zone": "UTC",
            "start": {"trigger": "chaos_signup", "repeat": "after_exit"},
            "steps": [
                {"id": "first", "type": "email", "content": "chaos-first", "to": "contact.email"},
                {"id": "pause", "type": "wait", "duration": f"{WAIT_SECONDS}s"},
                {"id": "second", "type": "email", "content": "chaos-second", "to": "contact.email"},
            ],
        }
    ],
}


# --- A PostgreSQL server of its own -----------------------------------------------------------


class PrivatePostgres:
    """A throw-away PostgreSQL cluster (initdb into a temporary directory, a free port), so the
    run can restart its server without touching the one other databases live on. Run as the
    `postgres` OS user when we are root (PostgreSQL refuses to run as root)."""

    def __init__(self) -> None:
        self.bin = self._binaries()
        self.root = Path(tempfile.mkdtemp(prefix="journeys-chaos-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}"
        self.restarts: list[float] = []

    @staticmethod
    def _binaries() -> Path:
        versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
        if not versions:
            raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/<version>/bin")
        return versions[-1].parent

    def _run(self, *command: str, timeout: int = 120) -> None:
        as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*as_user, *command], check=True, timeout=timeout, stdout=subprocess.DEVNULL)

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off"
        self._run(
            str(self.bin / "pg_ctl"), action, "-D", str(self.data), "-l", str(self.root / "server.log"),
            "-o", options, "-w", "-t", "60", *extra,
        )  # fmt: skip

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self._pg_ctl("start")

    def restart(self) -> float:
        """`pg_ctl restart -m fast`: every connection is cut, in-flight transactions roll back."""
        started = time.monotonic()
        self._pg_ctl("restart", "-m", "fast")
        took = time.monotonic() - started
        self.restarts.append(took)
        return took

    def remove(self) -> None:
        with contextlib.suppress(Exception):
            self._run(str(self.bin / "pg_ctl"), "stop", "-D", str(self.data), "-m", "immediate", "-w", timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


# --- Processes --------------------------------------------------------------------------------


def spawn(arguments: list[str], env: dict, log: Path) -> subprocess.Popen:
    """Python with `arguments` in the project, in a session of its own (so a signal to the
    group reaches its children), its output appended to `log`."""
    with open(log, "ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, *arguments],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry))
    return found


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        for child in children(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


def signal_quietly(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


class Cluster:
    """One `run_workers`, restartable."""

    def __init__(self, name: str, env: dict, logs: Path) -> None:
        self.name, self.env, self.logs = name, env, logs
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        self.process = spawn(["manage.py", "run_workers"], self.env, self.logs / f"{self.name}-{self.starts}.log")

    def sentinel(self) -> int | None:
        kids = children(self.process.pid) if self.process else []
        return kids[0] if kids else None

    def all_pids(self) -> list[int]:
        return [self.process.pid, *descendants(self.process.pid)] if self.process else []

    def kill_all(self) -> None:
        for pid in self.all_pids():
            signal_quietly(pid, signal.SIGKILL)
        if self.process:
            self.process.wait(timeout=30)


@dataclass
class Run:
    profile: Profile
    faults: Counter = field(default_factory=Counter)
    slow_stops: list[float] = field(default_factory=list)
    stop_seconds: list[float] = field(default_factory=list)
    acked: dict[str, float] = field(default_factory=dict)  # contact -> time of the 202
    refused: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


class Chaos:
    def __init__(
        self, profile: Profile, seed: int, server: str = SERVER, postgres: PrivatePostgres | None = None
    ) -> None:
        self.run = Run(profile)
        self.server, self.postgres = server, postgres
        self.random = random.Random(seed)
        self.database = f"journeys_chaos_{os.getpid()}"
        self.logs = Path(tempfile.mkdtemp(prefix="journeys-chaos-"))
        self.smtp_port = free_port()
        self.web_port = free_port()
        self.env = deployment_env(
            self.database,
            server,
            REDIS_URL=os.environ.get("CHAOS_REDIS_URL", ""),
            Q_WORKERS="2",
            Q_TIMEOUT=str(Q_TIMEOUT),
            Q_RETRY="20",
            # A send a killed worker interrupted is recorded unknown when its lease ends.
            DELIVERY_LEASE_SECONDS=str(profile.lease),
            EMAIL_URL=f"smtp://127.0.0.1:{self.smtp_port}",
            SITE_URL=f"http://127.0.0.1:{self.web_port}",
            LOG_LEVEL="INFO",
            PYTHONUNBUFFERED="1",
            GUNICORN_ACCESSLOG="",
            PROMETHEUS_MULTIPROC_DIR=str(self.logs / "metrics"),
        )
        self.received: Counter = Counter()
        self.arrivals: dict[tuple[str, str], float] = {}
        self.lock = threading.Lock()
        self.web: subprocess.Popen | None = None
        self.clusters = [Cluster("cluster-a", self.env, self.logs), Cluster("cluster-b", self.env, self.logs)]
        self.api_key = ""

    # --- the SMTP server ----------------------------------------------------------------------
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        # Offered as the mail servers of production offer it, so that workers are killed in
        # the middle of pipelined sends (content.smtp_pipelining); aiosmtpd reads pipelined
        # commands one after the other.
        session.host_name = hostname
        responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_DATA(self, server, session, envelope):
        subject = next(
            (
                line[9:].strip()
                for line in envelope.content.decode(errors="replace").splitlines()
                if line.startswith("Subject: ")
            ),
            "?",
        )
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.received[(rcpt, subject)] += 1
                self.arrivals.setdefault((rcpt, subject), time.time())
        return "250 OK"

    # --- set-up ---------------------------------------------------------------------------------
    def prepare(self) -> None:
        Path(self.env["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
        recreate_database(self.database, self.env, self.server)
        setup_django(self.env)
        from journeys.bundles import import_bundle
        from journeys.models import SendingPolicy
        from triggers.keys import create_api_key

        import_bundle(BUNDLE, publish_journeys=True)
        SendingPolicy.objects.all().delete()
        self.api_key = create_api_key("chaos", scope="events:write", source="chaos")[1]
        Path(self.env["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)

    def start_web(self) -> None:
        command = ["-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"]
        command += ["-b", f"127.0.0.1:{self.web_port}", "-w", "2"]
        self.web = spawn(command, self.env, self.logs / "web.log")

    # --- load -----------------------------------------------------------------------------------
    def post(self, number: int) -> None:
        contact = f"c{number}"
        body = json.dumps(
            {
                "trigger": "chaos_signup",
                "event_id": f"e{number}",
                "contact": {"id": contact, "email": f"{contact}@example.com"},
            }
        )
        for attempt in range(30):
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.web_port, timeout=20)
                connection.request(
                    "POST",
                    "/api/v1/events",
                    body=body,
                    headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.api_key}"},
                )
                status = connection.getresponse().status
                connection.close()
            except OSError:
                status = 0  # a killed web worker: the same event again (it is idempotent)
            if status in (200, 201, 202):
                with self.lock:
                    self.run.acked.setdefault(contact, time.time())
                return
            with self.lock:
                self.run.refused[status] += 1
            time.sleep(min(0.2 * (attempt + 1), 2))
        self.run.failures.append(f"event e{number} was never acknowledged")

    def load(self) -> None:
        profile = self.run.profile
        total = int(profile.rate * profile.load_seconds)
        start = time.monotonic()
        with ThreadPoolExecutor(max_workers=16) as pool:
            for number in range(total):
                delay = start + number / profile.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(self.post, number)

    # --- faults ---------------------------------------------------------------------------------
    def fault(self) -> None:
        kind = self.random.choices(["worker", "sentinel", "cluster", "sigterm", "web"], weights=[10, 2, 2, 2, 3], k=1)[
            0
        ]
        cluster = self.random.choice(self.clusters)
        if kind == "worker":
            sentinel = cluster.sentinel()
            victims = children(sentinel) if sentinel else []
            if victims:
                signal_quietly(self.random.choice(victims), signal.SIGKILL)
        elif kind == "sentinel":
            sentinel = cluster.sentinel()
            if sentinel:
                signal_quietly(sentinel, signal.SIGKILL)
        elif kind == "cluster":
            cluster.kill_all()
            time.sleep(1)  # systemd's RestartSec
            cluster.start()
        elif kind == "sigterm":
            self.stop_with_sigterm(cluster)
            cluster.start()
        elif kind == "web":
            victims = children(self.web.pid)
            if victims:
                signal_quietly(self.random.choice(victims), signal.SIGKILL)
        self.run.faults[kind] += 1

    def stop_with_sigterm(self, cluster: Cluster) -> None:
        """SIGTERM to every process of the cluster at once (systemd's KillMode=control-group)."""
        everything = cluster.all_pids()
        started = time.monotonic()
        for pid in everything:
            signal_quietly(pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            cluster.process.wait(timeout=TERM_BOUND + 30)
        while any(Path(f"/proc/{pid}").exists() and not _zombie(pid) for pid in everything):
            if time.monotonic() - started > TERM_BOUND + 30:
                break
            time.sleep(0.1)
        took = time.monotonic() - started
        self.run.stop_seconds.append(took)
        if took > TERM_BOUND:
            self.run.slow_stops.append(took)
        cluster.kill_all()

    def faults_while(self, until: float) -> None:
        restart_at = time.monotonic() + self.run.profile.load_seconds / 2 if self.postgres else None
        while time.monotonic() < until:
            time.sleep(self.random.uniform(0.5, 1.5) * self.run.profile.fault_every)
            if restart_at is not None and time.monotonic() >= restart_at:
                restart_at = None
                took = self.postgres.restart()
                self.run.faults["postgres_restart"] += 1
                print(f"chaos: PostgreSQL restarted (pg_ctl restart -m fast, {took:.1f} s)", flush=True)
                continue
            self.fault()

    # --- the verdict ----------------------------------------------------------------------------
    def outstanding(self) -> list[str]:
        """Emails neither received nor recorded unknown."""
        from journeys.models import Delivery, DeliveryStatus

        unknown = set(
            Delivery.objects.filter(status=DeliveryStatus.UNKNOWN).values_list("address", "content__email__subject")
        )
        with self.lock:
            received = set(self.received)
        return [
            f"{contact}: {subject}"
            for contact in self.run.acked
            for subject in SUBJECTS
            if (f"{contact}@example.com", subject) not in received
            and (f"{contact}@example.com", subject) not in unknown
        ]

    def engine_status(self) -> str:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.web_port, timeout=10)
            connection.request("GET", "/health/engine")
            status = json.loads(connection.getresponse().read()).get("status", "?")
            connection.close()
            return status
        except (OSError, ValueError):
            return "unreachable"

    def explain(self, seconds: float, address: str, subject: str) -> dict:
        """Why one email was late: its delivery's history, relative to when it arrived."""
        from journeys.models import Delivery

        delivery = Delivery.objects.filter(address=address, content__email__subject=subject).first()
        arrived = self.arrivals[(address, subject)]
        entry = {"email": f"{address}: {subject}", "late_seconds": round(seconds, 1)}
        if delivery:
            entry["attempts"] = delivery.attempts
            entry["delivery_created_before_arrival_seconds"] = round(arrived - delivery.created_at.timestamp(), 1)
        return entry

    def verdict(self, drained_in: float | None) -> dict:
        from django.db.models import Count

        from journeys.models import Delivery, DeliveryStatus, Participant, ParticipantState
        from triggers.models import Event

        run = self.run
        events = Event.objects.filter(source="chaos").values("event_id").annotate(n=Count("pk"))
        stored = {row["event_id"]: row["n"] for row in events}
        acked_ids = {f"e{contact[1:]}" for contact in run.acked}
        missing_events = sorted(acked_ids - set(stored))
        doubled_events = sorted(event for event, n in stored.items() if n > 1)
        duplicates = {key: n for key, n in self.received.items() if n > 1}
        unknown = Delivery.objects.filter(status=DeliveryStatus.UNKNOWN).count()
        lost = self.outstanding()
        left_behind = Participant.objects.filter(state=ParticipantState.ACTIVE).count()
        late: list[tuple[float, str, str]] = []  # (seconds, address, subject)
        for contact, acked_at in run.acked.items():
            address = f"{contact}@example.com"
            first = self.arrivals.get((address, SUBJECTS[0]))
            second = self.arrivals.get((address, SUBJECTS[1]))
            if first:
                late.append((first - acked_at, address, SUBJECTS[0]))
            if first and second:
                late.append((second - first - WAIT_SECONDS, address, SUBJECTS[1]))
        lateness = [seconds for seconds, _, _ in late]
        figures = {
            "profile": {k: getattr(run.profile, k) for k in ("rate", "load_seconds", "fault_every")},
            "events_acknowledged": len(run.acked),
            "events_stored": sum(stored.values()),
            "event_retries_by_status": dict(run.refused),
            "faults": dict(run.faults),
            "kills_and_stops": sum(run.faults.values()),
            "emails_received": sum(self.received.values()),
            "duplicates": len(duplicates),
            "lost": len(lost),
            "unknown_outcome": unknown,
            "participants_left_active": left_behind,
            "worst_lateness_seconds": round(max(lateness), 1) if lateness else None,
            "lateness_bound_seconds": run.profile.lateness_bound,
            "lateness_p99_seconds": round(sorted(lateness)[int(0.99 * (len(lateness) - 1))], 1) if lateness else None,
            "emails_over_60_seconds_late": sum(1 for seconds in lateness if seconds > 60),
            "latest": [self.explain(*entry) for entry in sorted(late, reverse=True)[:3]],
            "sigterm_stop_seconds_max": round(max(run.stop_seconds), 1) if run.stop_seconds else None,
            "drained_after_faults_seconds": round(drained_in, 1) if drained_in is not None else None,
            "deliveries_by_status": dict(
                Delivery.objects.values_list("status").annotate(n=Count("pk")).order_by().values_list("status", "n")
            ),
        }
        problems = list(run.failures)
        if missing_events or doubled_events:
            problems.append(f"events missing {missing_events[:5]} or stored twice {doubled_events[:5]}")
        if duplicates:
            problems.append(f"{len(duplicates)} emails received more than once: {list(duplicates)[:5]}")
        if lost:
            problems.append(f"{len(lost)} emails never arrived: {lost[:5]}")
        if left_behind:
            problems.append(f"{left_behind} participants still active")
        if lateness and max(lateness) > run.profile.lateness_bound:
            late = sum(1 for seconds in lateness if seconds > run.profile.lateness_bound)
            problems.append(
                f"{late} emails more than lease + {LATENESS_ALLOWANCE} s late (worst {max(lateness):.0f} s,"
                f" bound {run.profile.lateness_bound} s)"
            )
        if run.slow_stops:
            problems.append(f"clusters took {run.slow_stops} s to stop on SIGTERM (bound {TERM_BOUND} s)")
        figures["problems"] = problems
        return figures

    # --- the whole run --------------------------------------------------------------------------
    def main(self) -> int:
        from aiosmtpd.controller import Controller

        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command
        smtp = Controller(self, hostname="127.0.0.1", port=self.smtp_port)
        smtp.start()
        try:
            print(f"chaos: database {self.database}, logs in {self.logs}", flush=True)
            self.prepare()
            self.start_web()
            for cluster in self.clusters:
                cluster.start()
            deadline = time.monotonic() + 60
            while not port_open(self.web_port) and time.monotonic() < deadline:
                time.sleep(0.2)
            if not port_open(self.web_port):
                self.show_logs()
                raise RuntimeError("gunicorn did not start")
            time.sleep(3)
            profile = self.run.profile
            faults_end = time.monotonic() + profile.load_seconds + WAIT_SECONDS
            chaos = threading.Thread(target=self.faults_while, args=(faults_end,), daemon=True)
            chaos.start()
            self.load()
            print(f"chaos: {len(self.run.acked)} events acknowledged; faults go on", flush=True)
            chaos.join()
            from django.db import connections

            connections.close_all()  # ours did not survive a PostgreSQL restart
            print(f"chaos: faults over ({dict(self.run.faults)}); waiting for every email", flush=True)
            drained_at = None
            started = time.monotonic()
            while time.monotonic() - started < profile.drain_deadline:
                if not self.outstanding():
                    drained_at = time.monotonic() - started
                    break
                time.sleep(2)
            healthy_deadline = time.monotonic() + 150
            status = self.engine_status()
            while status != "ok" and time.monotonic() < healthy_deadline:
                time.sleep(3)
                status = self.engine_status()
            time.sleep(3)  # anything sent late (a duplicate) arrives now
            for cluster in self.clusters:
                self.stop_with_sigterm(cluster)
            figures = self.verdict(drained_at)
            figures["engine_status_at_the_end"] = status
            if status != "ok":
                figures["problems"].append(f"/health/engine said {status!r}, not 'ok'")
            print(json.dumps(figures, indent=2))
            if figures["problems"]:
                print("chaos: FAILED", flush=True)
                self.show_logs()
                return 1
            print("chaos: passed", flush=True)
            return 0
        finally:
            for cluster in self.clusters:
                cluster.kill_all()
            if self.web:
                for pid in [*descendants(self.web.pid), self.web.pid]:
                    signal_quietly(pid, signal.SIGKILL)
                self.web.wait(timeout=30)
            smtp.stop()
            from django.conf import settings
            from django.db import connections

            if settings.configured:
                connections.close_all()
            import psycopg

            with psycopg.connect(f"{self.server}/postgres", autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)")
            if not os.environ.get("CHAOS_KEEP_LOGS"):
                shutil.rmtree(self.logs, ignore_errors=True)

    def show_logs(self) -> None:
        for log in sorted(self.logs.glob("*.log")):
            lines = log.read_text(errors="replace").splitlines()
            interesting = [line for line in lines if "CRITICAL" in line or "rror" in line or "restart" in line]
            print(f"--- {log.name}: {len(lines)} lines; last warnings:")
            print("\n".join((interesting or lines)[-15:]))


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="ci")
    parser.add_argument("--seed", type=int, default=10)
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--private-postgres",
        action="store_true",
        default=None,
        help="run on a PostgreSQL cluster of its own (initdb in a temporary directory) and restart it once mid-run",
    )
    where.add_argument(
        "--shared-postgres", dest="private_postgres", action="store_false", help="use BENCH_POSTGRES; no restart"
    )
    parser.set_defaults(private_postgres=None)
    args = parser.parse_args()
    profile = PROFILES[args.profile]
    private = profile.private_postgres if args.private_postgres is None else args.private_postgres
    # A stop from outside (CI's timeout) still cleans up processes, the database and the server.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(1))
    postgres = PrivatePostgres() if private else None
    try:
        if postgres:
            postgres.start()
            print(f"chaos: a PostgreSQL server of its own on port {postgres.port} ({postgres.root})", flush=True)
        return Chaos(profile, args.seed, postgres.url if postgres else SERVER, postgres).main()
    finally:
        if postgres:
            postgres.remove()


if __name__ == "__main__":
    sys.exit(main())
