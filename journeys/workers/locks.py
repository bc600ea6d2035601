"""Locks and flags that a SIGKILLed process cannot leave held.

A `multiprocessing.Lock` is a POSIX semaphore: nothing releases it when its holder dies. An
`flock` on a file is owned by the open file description, which the kernel closes when the
process dies, so the lock is released with it.
"""

import contextlib
import fcntl
import multiprocessing
import os
import threading
import time
import weakref
from pathlib import Path

_all_locks: "weakref.WeakSet[FlockLock]" = weakref.WeakSet()


class FlockLock:
    """A re-entrant lock between processes (and threads) built on `flock(2)`: it stands in
    for the `RLock` of `multiprocessing.Value` and the locks of `multiprocessing.Queue`.

    Each process opens the file itself: a descriptor inherited across `fork` shares its
    open file description (and so its lock) with the parent, which would make parent and
    child one owner. Threads of one process share a descriptor, so a thread lock orders them.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        Path(self.path).touch(mode=0o600, exist_ok=True)
        self._pid: int | None = None
        self._fd: int | None = None
        self._thread_lock = threading.RLock()
        self._depth = 0
        _all_locks.add(self)

    def _descriptor(self) -> int:
        if self._pid != os.getpid() or self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
            self._pid = os.getpid()
        return self._fd

    def acquire(self, block: bool = True, timeout: float | None = None) -> bool:
        fd = self._descriptor()
        if timeout is not None and timeout < 0:
            timeout = None
        if not self._thread_lock.acquire(block, -1 if timeout is None or not block else timeout):
            return False
        if self._depth:  # this thread holds it already
            self._depth += 1
            return True
        try:
            if block and timeout is None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            else:
                deadline = time.monotonic() + (timeout or 0)
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if not block or time.monotonic() >= deadline:
                            self._thread_lock.release()
                            return False
                        time.sleep(0.005)
        except BaseException:
            self._thread_lock.release()
            raise
        self._depth = 1
        return True

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            fcntl.flock(self._descriptor(), fcntl.LOCK_UN)
        self._thread_lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def _forget_inherited(self) -> None:
        # In a new child: the parent's descriptor refers to the parent's lock; if the parent
        # held it at the fork, keeping the copy open would keep it held after the parent died.
        if self._fd is not None and self._pid != os.getpid():
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
            self._pid = None
        self._thread_lock = threading.RLock()
        self._depth = 0


def _after_fork_in_child() -> None:
    for lock in list(_all_locks):
        lock._forget_inherited()


os.register_at_fork(after_in_child=_after_fork_in_child)


class FlagEvent:
    """The part of `multiprocessing.Event` django-q2 uses, without its lock.

    `Event.set()` waits on a condition that a waiter killed mid-`wait()` leaves inconsistent
    (the cause of qcluster's main process hanging on SIGTERM, in `futex_do_wait`). A byte of
    shared memory, written and polled, cannot hang; it is also safe to set from a signal
    handler.
    """

    def __init__(self) -> None:
        self._flag = multiprocessing.Value("b", 0, lock=False)

    def set(self) -> None:
        self._flag.value = 1

    def clear(self) -> None:
        self._flag.value = 0

    def is_set(self) -> bool:
        return bool(self._flag.value)

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                time.sleep(min(0.05, remaining))
            else:
                time.sleep(0.05)
        return True
