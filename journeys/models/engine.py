from django.db import models


class Heartbeat(models.Model):
    """The last time a long-running piece of the engine showed it was alive.

    One row per key: `sweep` (the one-minute sweep finished), `cluster:<host>:<pid>` (a
    supervised cluster's guard loop, every few seconds), `sweep-turn` (when a cluster last
    enqueued a sweep between the schedules) and `events-doorbell` (when a request last
    enqueued the events' task, until a worker starts it: journeys.queue.ring_for_events).
    /health/engine and `check_engine` read the first two;
    `journeys.workers.heartbeats` writes them.
    """

    key = models.CharField(max_length=200, unique=True)
    beat_at = models.DateTimeField()
    detail = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return self.key
