from django.apps import AppConfig


class JourneysConfig(AppConfig):
    name = "journeys"
    verbose_name = "Journeys"

    def ready(self) -> None:
        from journeys import (  # noqa: F401  (content usage check, ESP tracking signal)
            checks,
            content_usage,
            tracking,
        )
        from journeys.signals import connect_signals

        connect_signals()
