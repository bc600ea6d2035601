from django.apps import AppConfig
from django.db.models.signals import post_delete


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        from journeys.models import Participant

        from . import checks  # noqa: F401 (registers the system checks)
        from .rollup import participant_deleted

        # Deleting participants (a contact erased, a journey deleted) leaves no history row or
        # delivery for the rollup refresh to find the change by.
        post_delete.connect(participant_deleted, sender=Participant, dispatch_uid="analytics_participant_deleted")
