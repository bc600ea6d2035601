"""The cause of stuck clusters, shown with real processes: a process SIGKILLed while it holds
a `multiprocessing` lock never releases it; a `FlockLock` is released by the kernel."""

import multiprocessing
import os
import signal
import time

import pytest
from django_q.queues import Queue

from journeys.workers.locks import FlagEvent, FlockLock
from journeys.workers.queues import RobustQueue

pytestmark = pytest.mark.worker
fork = multiprocessing.get_context("fork")


def _hold(lock, holding) -> None:
    lock.acquire()
    holding.set()
    time.sleep(600)


def _killed_while_holding(lock) -> None:
    holding = fork.Event()
    holder = fork.Process(target=_hold, args=(lock, holding), daemon=True)
    holder.start()
    assert holding.wait(30)
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(30)


def test_a_multiprocessing_lock_held_by_a_killed_process_stays_held_for_ever():
    lock = fork.Lock()
    _killed_while_holding(lock)
    assert lock.acquire(timeout=1) is False


def test_a_flock_lock_held_by_a_killed_process_is_released(tmp_path):
    lock = FlockLock(tmp_path / "lock")
    _killed_while_holding(lock)
    assert lock.acquire(timeout=10) is True
    lock.release()


def test_a_flock_lock_is_reentrant_and_exclusive_between_processes(tmp_path):
    lock = FlockLock(tmp_path / "lock")
    with lock, lock:
        other = fork.Process(target=lambda: os._exit(0 if not lock.acquire(timeout=0.3) else 1))
        other.start()
        other.join(30)
        assert other.exitcode == 0


def _read_one(queue, out) -> None:
    out.put(queue.get())


@pytest.mark.parametrize(("make_queue", "still_works"), [("robust", True), ("django_q", False)])
def test_a_reader_killed_while_waiting_for_a_task_stops_the_next_reader_only_with_django_q_queue(
    tmp_path, make_queue, still_works
):
    queue = RobustQueue(tmp_path) if make_queue == "robust" else Queue()
    out = fork.Queue()
    first = fork.Process(target=_read_one, args=(queue, out), daemon=True)
    first.start()
    time.sleep(1)  # blocked in get(), holding the reader lock
    os.kill(first.pid, signal.SIGKILL)
    first.join(30)
    second = fork.Process(target=_read_one, args=(queue, out), daemon=True)
    second.start()
    queue.put("a task")
    try:
        got = out.get(timeout=10)
    except Exception:
        got = None
    finally:
        os.kill(second.pid, signal.SIGKILL)
        second.join(30)
    assert (got == "a task") is still_works


def test_a_flag_event_waits_and_is_set_across_processes():
    flag = FlagEvent()
    setter = fork.Process(target=flag.set)
    setter.start()
    assert flag.wait(10) is True
    setter.join(30)
