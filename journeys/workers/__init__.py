"""Running django-q2 so that a process that dies never stops the journeys.

django-q2's sentinel feeds its workers through a `multiprocessing.Queue` whose reader and
writer locks are POSIX semaphores: a worker SIGKILLed while it holds one never releases it,
and every later worker blocks for ever in `get()` (docs/operations.md, "Why workers got
stuck"). This package keeps django-q2 and heals around it:

- `locks`: kernel file locks (`flock`), released by the kernel when their holder dies, and a
  lock-free flag in place of `multiprocessing.Event` (whose waiters can hang a setter);
- `queues.RobustQueue`: django-q2's queue with those locks;
- `sentinel.SupervisedSentinel`: django-q2's sentinel with those queues, a heartbeat, a
  clean stop on SIGTERM, and turns (one cluster at a time) at enqueueing the sweep every
  SWEEP_EVERY_SECONDS, so work a dead worker dropped is found within seconds;
- `supervisor.Supervisor`: the main process of `manage.py run_workers`; restarts a sentinel
  that died or stopped making progress, and stops everything within a bound on SIGTERM.
"""
