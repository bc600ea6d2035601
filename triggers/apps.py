from django.apps import AppConfig


class TriggersConfig(AppConfig):
    name = "triggers"
    verbose_name = "Triggers"

    def ready(self) -> None:
        from .api import schema  # noqa: F401  (registers the API keys in the OpenAPI schema)
        from .caching import connect_signals

        connect_signals()
