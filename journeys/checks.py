"""System checks for the task queue: a misconfigured django-q2 sends messages twice or never.

They run on every manage.py command, qcluster included, so a bad setting stops the
workers at start-up instead of surfacing as duplicate emails later.
"""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


def q_cluster_errors(conf: dict) -> list[Error]:
    """Rules from ENGINE-NOTES.md, as errors naming the setting and the rule."""
    errors: list[Error] = []
    if conf.get("sync"):
        return errors  # tasks run inline (tests): no leases, no retries
    timeout, retry = conf.get("timeout"), conf.get("retry")
    if timeout is None or retry is None:
        errors.append(
            Error(
                "Q_CLUSTER must set both 'timeout' and 'retry'.",
                hint="Without a timeout a stuck task holds a worker forever; without retry it is never redelivered.",
                id="journeys.E001",
            )
        )
    elif timeout >= retry:
        errors.append(
            Error(
                f"Q_CLUSTER 'timeout' ({timeout}s) must be lower than 'retry' ({retry}s).",
                hint="Otherwise the broker hands a task that is still running to a second worker.",
                id="journeys.E002",
            )
        )
    max_attempts = conf.get("max_attempts")
    if not max_attempts or max_attempts < 1:
        errors.append(
            Error(
                "Q_CLUSTER 'max_attempts' must be a positive number.",
                hint="0 (or unset) retries a failing task forever.",
                id="journeys.E003",
            )
        )
    if conf.get("catch_up", True):
        errors.append(
            Error(
                "Q_CLUSTER 'catch_up' must be False.",
                hint="With catch_up every schedule slot missed during downtime runs again.",
                id="journeys.E004",
            )
        )
    if "orm" not in conf and "redis" not in conf and "django_redis" not in conf:
        errors.append(
            Error(
                "Q_CLUSTER must name a broker: 'orm' (default) or 'redis'.",
                id="journeys.E005",
            )
        )
    return errors


@register(Tags.compatibility)
def check_q_cluster(app_configs, **kwargs) -> list[Error]:
    return q_cluster_errors(getattr(settings, "Q_CLUSTER", {}))


def delivery_guarantee_errors(guarantee: str) -> list[Error]:
    if guarantee in ("at-most-once", "at-least-once"):
        return []
    return [
        Error(
            f"DELIVERY_GUARANTEE must be 'at-most-once' or 'at-least-once', not {guarantee!r}.",
            hint="It decides whether a send a dying worker interrupted is sent again (docs/operations.md).",
            id="journeys.E006",
        )
    ]


@register(Tags.compatibility)
def check_delivery_guarantee(app_configs, **kwargs) -> list[Error]:
    return delivery_guarantee_errors(getattr(settings, "DELIVERY_GUARANTEE", "at-most-once"))


@register(Tags.security, deploy=True)
def check_webhook_signing_secret(app_configs, **kwargs) -> list[Warning]:
    """`check --deploy`: webhook steps' calls carry no signature without a secret."""
    if getattr(settings, "WEBHOOK_SIGNING_SECRET", ""):
        return []
    return [
        Warning(
            "WEBHOOK_SIGNING_SECRET is empty: webhook steps call their URLs unsigned.",
            hint="Set a long random secret and give it to the receivers to check X-Journeys-Signature.",
            id="journeys.W010",
        )
    ]
