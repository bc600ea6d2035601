from django.apps import AppConfig
from django.db.models.signals import pre_delete


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        from journeys.models import Contact

        from . import checks  # noqa: F401 (registers the system checks)
        from .rollup import contact_deleting

        # Erasing a contact deletes its participants, which leaves no history row or delivery
        # for the rollup refresh to find the change by.
        pre_delete.connect(contact_deleting, sender=Contact, dispatch_uid="analytics_contact_deleting")
