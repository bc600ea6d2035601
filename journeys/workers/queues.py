"""django-q2's task and result queues with locks that die with their holder."""

import multiprocessing
import uuid
from pathlib import Path

from django_q.queues import Queue

from .locks import FlockLock


class RobustQueue(Queue):
    """django-q2's `Queue` (a `multiprocessing.Queue` with a counted size) whose reader
    lock, writer lock and size counter lock are `FlockLock`s in `lock_dir`.

    What remains: a reader killed in the middle of reading a message (between its length
    and its body) leaves the pipe out of step, and a killed reader can take a slot of a
    bounded queue with it. Both show as a queue that stops moving; the supervisor's watchdog
    sees no progress and starts a fresh sentinel with fresh queues.
    """

    def __init__(self, lock_dir: Path, maxsize: int = 0) -> None:
        super().__init__(maxsize=maxsize)
        name = uuid.uuid4().hex
        self._rlock = FlockLock(Path(lock_dir) / f"{name}.read")
        self._wlock = FlockLock(Path(lock_dir) / f"{name}.write")
        self.size.count = multiprocessing.Value("i", 0, lock=FlockLock(Path(lock_dir) / f"{name}.size"))  # type: ignore[call-overload]  # FlockLock is a duck-typed lock
