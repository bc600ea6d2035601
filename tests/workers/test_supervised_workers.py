"""`manage.py run_workers` under the faults that stopped a plain qcluster: SIGKILLed workers,
a SIGKILLed sentinel, a stuck cluster, SIGTERM to the whole process group."""

import os
import re
import signal
import time
from pathlib import Path

import pytest
from django.db import connection
from django_q.tasks import async_task

from .processes import alive, descendants, run_workers, wait_until

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="real workers run against PostgreSQL"),
]

READY = r"ready for work at (\d+)"


@pytest.fixture
def workers(tmp_path):
    started = []

    def start(*args: str, **env: str):
        process = run_workers(tmp_path, *args, **env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def _enqueue(path: Path, numbers: range, seconds: float = 0.05) -> None:
    for number in numbers:
        async_task("tests.workers.tasks.record", str(path), number, seconds, sync=False)


def _done(path: Path) -> set[int]:
    if not path.exists():
        return set()
    return {int(line) for line in path.read_text().split()}


def test_workers_killed_again_and_again_never_stop_the_queue(transactional_db, tmp_path, workers):
    results = tmp_path / "done.txt"
    cluster = workers("--stall-after", "20")
    wait_until(lambda: len(cluster.pids_logged(READY)) >= 2, 60, "two workers ready")
    _enqueue(results, range(300))
    kills = 0
    deadline = time.monotonic() + 90
    while kills < 12 and time.monotonic() < deadline:
        ready = [pid for pid in cluster.pids_logged(READY) if alive(pid)]
        if ready:
            os.kill(ready[-1], signal.SIGKILL)
            kills += 1
        time.sleep(0.7)
    assert kills >= 6, cluster.output()
    # Tasks a killed worker held come back after Q_RETRY; a stuck queue is restarted.
    wait_until(lambda: _done(results) >= set(range(300)), 240, "every task to run")
    _enqueue(results, range(300, 310))
    wait_until(lambda: _done(results) >= set(range(310)), 120, "tasks enqueued after the kills")


def test_a_killed_sentinel_is_started_again(transactional_db, tmp_path, workers):
    results = tmp_path / "done.txt"
    cluster = workers()
    wait_until(lambda: "cluster" in cluster.output() and "running" in cluster.output(), 60, "the cluster")
    sentinel = cluster.pids_logged(r"cluster (\d+) started")[0]
    os.kill(sentinel, signal.SIGKILL)
    wait_until(lambda: len(cluster.pids_logged(r"cluster (\d+) started")) == 2, 60, "a new sentinel")
    assert "died" in cluster.output()
    _enqueue(results, range(20))
    wait_until(lambda: _done(results) == set(range(20)), 120, "tasks run by the new sentinel's workers")


def test_a_cluster_whose_workers_stopped_taking_tasks_is_restarted(transactional_db, tmp_path, workers):
    results = tmp_path / "done.txt"
    cluster = workers("--stall-after", "8")
    wait_until(lambda: len(cluster.pids_logged(READY)) >= 2, 60, "two workers ready")
    stopped: set[int] = set()

    def stop_every_worker_until_the_watchdog_sees_it() -> bool:
        # Either the queue stands still ("started none"), or the guard loop itself waits on a
        # lock a worker was stopped holding (its timer, the queue's size) and stops beating.
        # A worker stopped in the middle of a task (the sentinel's own sweep) runs out its
        # timeout, and django-q2 replaces it with a fresh one: that one is stopped too.
        output = cluster.output()
        if re.search(r"(started none|stopped beating) .*: restarting it", output):
            return True
        for pid in {int(pid) for pid in re.findall(READY, output)} - stopped:
            os.kill(pid, signal.SIGSTOP)  # alive, holding whatever they hold, taking nothing
            stopped.add(pid)
        return False

    stop_every_worker_until_the_watchdog_sees_it()
    _enqueue(results, range(30))
    try:
        wait_until(stop_every_worker_until_the_watchdog_sees_it, 120, "the watchdog to see the stall")
    except AssertionError as error:
        raise AssertionError(f"{error}\n{cluster.output()[-4000:]}") from None
    wait_until(lambda: _done(results) == set(range(30)), 120, "every task, run by a fresh cluster")


@pytest.mark.parametrize("to_group", [True, False], ids=["process-group", "main-process"])
def test_sigterm_stops_every_process_within_the_timeout(transactional_db, tmp_path, workers, to_group):
    results = tmp_path / "done.txt"
    cluster = workers("--grace", "12")
    wait_until(lambda: len(cluster.pids_logged(READY)) >= 2, 60, "two workers ready")
    _enqueue(results, range(10), seconds=1.0)
    wait_until(lambda: _done(results), 60, "a task to finish")
    everything = [cluster.pid, *descendants(cluster.pid)]
    started = time.monotonic()
    if to_group:
        # What systemd (KillMode=control-group) and most supervisors do: every process.
        for pid in everything:
            os.kill(pid, signal.SIGTERM)
    else:
        os.kill(cluster.pid, signal.SIGTERM)
    assert cluster.process.wait(timeout=10 + 12 + 15) == 0
    wait_until(lambda: not any(alive(pid) for pid in everything), 10, "every process gone")
    assert time.monotonic() - started < 10 + 12 + 15
    assert "run_workers" in cluster.output() and "stopped" in cluster.output()
