"""The supervisor's verdict on a running cluster, from the numbers its sentinel shares."""

import time

from journeys.workers.sentinel import SharedState
from journeys.workers.supervisor import HEARTBEAT_STALE_AFTER, Supervisor, _Running


class _Alive:
    pid = 0
    exitcode = None

    def is_alive(self) -> bool:
        return True


def _cluster(tmp_path, started_ago: float = 3600) -> _Running:
    running = _Running(process=_Alive(), state=SharedState(), lock_dir=tmp_path, started=time.time() - started_ago)
    running.state.heartbeat.value = time.time()
    return running


def test_an_idle_cluster_is_not_restarted_by_the_first_burst_of_tasks(tmp_path):
    supervisor = Supervisor(stall_after=10, grace=1)
    running = _cluster(tmp_path)
    running.state.queued.value = 4
    assert supervisor._trouble(running) is None


def test_tasks_waiting_with_none_started_for_the_stall_time_restart_the_cluster(tmp_path):
    supervisor = Supervisor(stall_after=10, grace=1)
    running = _cluster(tmp_path)
    running.state.queued.value = 4
    supervisor._trouble(running)
    running.waiting_since -= 11
    assert supervisor._trouble(running) == "has 4 tasks waiting and started none for 11s"


def test_a_task_started_recently_means_the_cluster_is_working(tmp_path):
    supervisor = Supervisor(stall_after=10, grace=1)
    running = _cluster(tmp_path)
    running.state.queued.value = 4
    supervisor._trouble(running)
    running.waiting_since -= 60
    running.state.progress.value = time.time() - 2
    assert supervisor._trouble(running) is None


def test_an_empty_queue_forgets_the_wait(tmp_path):
    supervisor = Supervisor(stall_after=10, grace=1)
    running = _cluster(tmp_path)
    running.state.queued.value = 4
    supervisor._trouble(running)
    running.state.queued.value = 0
    assert supervisor._trouble(running) is None
    assert running.waiting_since is None


def test_a_guard_loop_that_stopped_beating_restarts_the_cluster(tmp_path):
    supervisor = Supervisor(stall_after=10, grace=1)
    running = _cluster(tmp_path)
    running.state.heartbeat.value = time.time() - HEARTBEAT_STALE_AFTER - 5
    assert supervisor._trouble(running).startswith("stopped beating")
