"""Thin django-q2 entry points of the analytics app."""


def refresh_analytics() -> str:
    """The one-minute rollup refresh (a django-q2 schedule, analytics/migrations/0002)."""
    from analytics.rollup import refresh

    return str(refresh())
