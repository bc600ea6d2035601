"""The main process of `manage.py run_workers`: one supervised django-q2 cluster.

It starts a `SupervisedSentinel` in a process group of its own and, once a second:

- restarts it when it died (django-q2's own main process waits for ever instead);
- restarts it when it is stuck: its guard loop stopped beating, or tasks wait in its queue
  and no worker started one for `stall_after` seconds (a task runs at most Q_TIMEOUT);
- on SIGTERM or SIGINT (to it alone or to the whole group) asks the sentinel to stop, waits
  at most `grace` seconds, kills what is left, closes its connections and exits 0.

Restarting means SIGKILL to the old sentinel's process group and a new sentinel: tasks it
held come back from the ORM broker after Q_RETRY; with Redis they are gone and the sweep
drives their work again (docs/operations.md).
"""

import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from django import db
from django.conf import settings

from .sentinel import SharedState

logger = logging.getLogger(__name__)

# A guard turn takes a fraction of a second; the scheduler inside it a few at most.
HEARTBEAT_STALE_AFTER = 60.0
STARTUP_ALLOWANCE = 120.0


@dataclass
class _Running:
    process: multiprocessing.Process
    state: SharedState
    lock_dir: Path
    started: float
    # When tasks were first seen waiting in the sentinel's queue (None: the queue is empty).
    waiting_since: float | None = None


def _run_sentinel(state: SharedState, lock_dir: str, cluster_id: uuid.UUID) -> None:
    os.setpgid(0, 0)  # its own group: the supervisor can kill the sentinel and its children at once
    from .sentinel import SupervisedSentinel

    SupervisedSentinel(state, Path(lock_dir), cluster_id)


class Supervisor:
    def __init__(self, *, stall_after: float | None = None, grace: float | None = None) -> None:
        timeout = settings.Q_CLUSTER.get("timeout") or 60
        self.stall_after = stall_after if stall_after is not None else timeout + 30
        self.grace = grace if grace is not None else timeout + 5
        self.restarts = 0
        self._stopping = False
        self._running: _Running | None = None

    # --- signals ---------------------------------------------------------------------------
    def _ask_to_stop(self, signum: int, frame: object) -> None:
        self._stopping = True

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._ask_to_stop)
        signal.signal(signal.SIGINT, self._ask_to_stop)
        logger.info("run_workers %s: supervising one cluster (stall after %ss)", os.getpid(), self.stall_after)
        try:
            while not self._stopping:
                self._check()
                time.sleep(0.5)
        finally:
            self._shutdown()
        return 0

    # --- one turn --------------------------------------------------------------------------
    def _check(self) -> None:
        running = self._running
        if running is None:
            self._start()
            return
        reason = self._trouble(running)
        if reason:
            logger.critical("cluster %s %s: restarting it", running.process.pid, reason)
            self._kill(running)
            self.restarts += 1
            self._start()

    def _trouble(self, running: _Running) -> str | None:
        if not running.process.is_alive():
            return f"died (exit code {running.process.exitcode})"
        now = time.time()
        state = running.state
        if state.heartbeat.value == 0.0:
            if now - running.started > STARTUP_ALLOWANCE:
                return f"did not start within {STARTUP_ALLOWANCE:.0f}s"
            return None
        if now - state.heartbeat.value > HEARTBEAT_STALE_AFTER:
            return f"stopped beating {now - state.heartbeat.value:.0f}s ago"
        if state.queued.value <= 0:
            running.waiting_since = None
            return None
        if running.waiting_since is None:
            running.waiting_since = now
        # Stuck: tasks have been waiting, and no worker started one, for stall_after seconds.
        idle_for = now - max(state.progress.value, running.waiting_since)
        if idle_for > self.stall_after:
            return f"has {state.queued.value} tasks waiting and started none for {idle_for:.0f}s"
        return None

    def _start(self) -> None:
        # A connection must not be shared with a forked child.
        db.connections.close_all()
        state = SharedState()
        lock_dir = Path(tempfile.mkdtemp(prefix="journeys-workers-"))
        context = multiprocessing.get_context("fork")
        process = context.Process(
            target=_run_sentinel, args=(state, str(lock_dir), uuid.uuid4()), name=f"Sentinel-{uuid.uuid4().hex[:8]}"
        )
        process.start()
        self._running = _Running(process, state, lock_dir, time.time())  # type: ignore[arg-type]  # a fork context's Process
        logger.info("cluster %s started", process.pid)

    def _kill(self, running: _Running) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(running.process.pid, signal.SIGKILL)  # type: ignore[arg-type]  # started: pid is set
        running.process.join(timeout=10)
        shutil.rmtree(running.lock_dir, ignore_errors=True)
        self._running = None

    def _shutdown(self) -> None:
        running = self._running
        if running is not None:
            logger.info("stopping cluster %s (at most %ss)", running.process.pid, self.grace)
            if running.process.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(running.process.pid, signal.SIGTERM)  # type: ignore[arg-type]  # started: pid is set
            running.process.join(timeout=self.grace)
            if running.process.is_alive():
                logger.warning("cluster %s did not stop within %ss: killing it", running.process.pid, self.grace)
            # Also whatever it left behind (a worker stuck in a task).
            self._kill(running)
        db.connections.close_all()
        logger.info("run_workers %s stopped", os.getpid())
