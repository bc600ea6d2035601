"""How the journeys app hears about the rest of the product."""

from triggers.signals import events_stored


def _on_events_stored(sender, event_ids: list[int], **kwargs) -> None:
    # Sent after the storing transaction committed: ring the doorbell for the workers.
    from .queue import ring_for_events

    ring_for_events(event_ids)


def _on_task_done(sender, task: dict, **kwargs) -> None:
    # django-q2's monitor process, after it recorded a task's result.
    from .metrics import count_task

    count_task(task)


def connect_signals() -> None:
    from django_q.signals import post_execute

    events_stored.connect(_on_events_stored, dispatch_uid="journeys.process_events")
    post_execute.connect(_on_task_done, dispatch_uid="journeys.count_tasks")
