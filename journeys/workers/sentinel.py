"""django-q2's sentinel, made safe to kill around: kernel locks, a heartbeat, a clean stop."""

import logging
import os
import shutil
import signal
import time
import uuid
from datetime import timedelta
from multiprocessing import Value
from pathlib import Path

from django import db
from django.conf import settings
from django.utils.translation import gettext as _
from django_q.cluster import Sentinel
from django_q.conf import Conf
from django_q.humanhash import humanize
from django_q.scheduler import scheduler
from django_q.signals import pre_execute
from django_q.status import Stat
from django_q.worker import worker

from .locks import FlagEvent, FlockLock
from .queues import RobustQueue

logger = logging.getLogger(__name__)

# How often the sentinel records its heartbeat in the database (for /health/engine).
DB_HEARTBEAT_EVERY = 10.0
# django-q2 looks at its schedules every 30 s, so a one-minute schedule ran up to 90 s apart;
# one query every 5 s keeps the sweep's minute a minute.
SCHEDULER_EVERY = 5.0
# How often a guard loop asks whether it is its turn to enqueue an extra sweep, and the
# queue depth above which it does not: a backlog is worked through, not swept again (the
# one-minute schedule still runs).
SWEEP_TURN_CHECK_EVERY = 5.0
SWEEP_SKIPPED_ABOVE_QUEUED = 100


class SharedState:
    """Numbers the sentinel and its workers write and the supervisor reads: plain shared
    memory without locks (a double is written whole), so no writer's death can block it."""

    def __init__(self) -> None:
        self.heartbeat = Value("d", 0.0, lock=False)  # the guard loop's last turn (epoch s)
        self.progress = Value("d", 0.0, lock=False)  # the last task a worker started
        self.queued = Value("i", 0, lock=False)  # tasks waiting in the sentinel's task queue


_state_of_this_cluster: SharedState | None = None


def _note_progress(sender: object, **kwargs: object) -> None:
    # Runs in a worker (django-q2's pre_execute signal), just before a task.
    if _state_of_this_cluster is not None:
        _state_of_this_cluster.progress.value = time.time()


class SupervisedSentinel(Sentinel):
    """A sentinel run by `journeys.workers.supervisor.Supervisor` in its own process group.

    - its queues, timers and events hold no lock a killed process could keep (`RobustQueue`,
      `FlockLock`, `FlagEvent`);
    - SIGTERM asks it to stop: the pusher stops taking tasks, workers finish the task in
      hand, the monitor records their results; its children ignore SIGTERM, so a signal to
      the whole group (systemd, docker) goes through the same orderly stop;
    - every guard turn writes a heartbeat, and workers write when they start a task, for the
      supervisor's watchdog; it stops by itself if its supervisor disappears.
    """

    def __init__(self, state: SharedState, lock_dir: Path, cluster_id, broker=None) -> None:
        global _state_of_this_cluster
        _state_of_this_cluster = state
        pre_execute.connect(_note_progress, dispatch_uid="journeys.workers.progress")
        self.state = state
        self.lock_dir = Path(lock_dir)
        self._last_db_beat = 0.0
        self._last_sweep_check = 0.0
        super().__init__(FlagEvent(), FlagEvent(), cluster_id, broker=broker, start=False)
        self.task_queue = RobustQueue(self.lock_dir, maxsize=Conf.QUEUE_LIMIT or 0)
        self.result_queue = RobustQueue(self.lock_dir)
        self.event_out = FlagEvent()
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, self._ask_to_stop)
        self.start()

    def _ask_to_stop(self, signum: int, frame: object) -> None:
        # Inherited by the pusher, monitor and workers: in them it sets the same shared
        # flag, so they carry on until the orderly stop reaches them.
        self.stop_event.set()

    def spawn_worker(self) -> None:
        timer = Value("f", -1, lock=FlockLock(self.lock_dir / f"timer-{uuid.uuid4().hex}"))  # type: ignore[call-overload]  # FlockLock is a duck-typed lock
        self.spawn_process(worker, self.task_queue, self.result_queue, timer, self.timeout)

    def guard(self) -> None:
        """django-q2's guard loop, plus the heartbeat, the orphan check and the sweep turns, with
        its scheduler every SCHEDULER_EVERY seconds; it walks a copy of the pool (reincarnating
        changes it)."""
        logger.info(_("%(name)s guarding cluster %(cluster_name)s"), {"name": self.name, "cluster_name": self._label})
        self.start_event.set()
        Stat(self).save()
        logger.info(_("Q Cluster %(cluster_name)s running."), {"cluster_name": self._label})
        counter = 0.0
        cycle = Conf.GUARD_CYCLE
        supervisor = os.getppid()
        while True:
            self.state.heartbeat.value = time.time()
            for process in list(self.pool):
                with process.timer.get_lock():
                    if not process.is_alive() or process.timer.value == 0:
                        self.reincarnate(process)
                        continue
                    if process.timer.value > 0:
                        process.timer.value -= cycle
            if not self.monitor.is_alive():
                self.reincarnate(self.monitor)
            if not self.pusher.is_alive():
                self.reincarnate(self.pusher)
            counter += cycle
            if counter >= SCHEDULER_EVERY and Conf.SCHEDULER:
                counter = 0
                scheduler(broker=self.broker)
            Stat(self).save()
            self.state.queued.value = self.task_queue.qsize()
            self._beat_in_database()
            self._ask_for_a_sweep()
            if os.getppid() != supervisor:
                logger.error("the supervisor of %s is gone: stopping", self._label)
                self.stop_event.set()
            if self.stop_event.wait(cycle):
                break
        self.stop()
        db.connections.close_all()
        # The supervisor removes it too, unless it was itself killed (the orphan case above).
        shutil.rmtree(self.lock_dir, ignore_errors=True)

    @property
    def _label(self) -> str:
        return f"{humanize(self.cluster_id.hex)} [{self.queue_name()}]"

    def _beat_in_database(self) -> None:
        now = time.monotonic()
        if now - self._last_db_beat < DB_HEARTBEAT_EVERY:
            return
        self._last_db_beat = now
        from .heartbeats import record_cluster_beat

        try:
            record_cluster_beat(queued=self.state.queued.value, reincarnations=self.reincarnations)
        except Exception:
            # The database being away must not stop the guard; /health/ready reports it.
            logger.warning("could not record the cluster heartbeat", exc_info=True)
            db.connections.close_all()

    def _ask_for_a_sweep(self) -> None:
        """Every SWEEP_EVERY_SECONDS one guard loop of all the clusters enqueues a sweep, on top
        of the one-minute schedule: due participants and work a dead worker dropped (lost tasks,
        abandoned claims) are found within seconds instead of a minute or more, which keeps
        lateness after a crash within the delivery lease plus two minutes."""
        every = getattr(settings, "SWEEP_EVERY_SECONDS", 0)
        now = time.monotonic()
        if not every or now - self._last_sweep_check < SWEEP_TURN_CHECK_EVERY:
            return
        self._last_sweep_check = now
        from journeys.queue import enqueue_sweep

        from .heartbeats import claim_sweep_turn

        try:
            if claim_sweep_turn(timedelta(seconds=every)) and self.broker.queue_size() <= SWEEP_SKIPPED_ABOVE_QUEUED:
                enqueue_sweep()
        except Exception:
            logger.warning("could not ask for a sweep", exc_info=True)
            db.connections.close_all()
