"""System checks of the analytics app."""

from datetime import UTC, datetime

from django.conf import settings
from django.core.checks import Warning, register


@register()
def time_zone_offset_in_whole_hours(app_configs, **kwargs) -> list[Warning]:
    """The rollup counts participants per UTC hour of entry; a local hour or day is a whole
    number of those only where the offset from UTC is a whole number of hours."""
    from zoneinfo import ZoneInfo

    if not settings.USE_TZ:
        return []
    zone = ZoneInfo(settings.TIME_ZONE)
    year = datetime.now(UTC).year
    offsets = {datetime(year, month, 1, tzinfo=UTC).astimezone(zone).utcoffset() for month in (1, 7)}
    if all(offset is not None and offset.total_seconds() % 3600 == 0 for offset in offsets):
        return []
    return [
        Warning(
            f"TIME_ZONE {settings.TIME_ZONE} is not a whole number of hours from UTC.",
            hint="The analytics charts' hour and day buckets are then off by the fraction of an hour.",
            id="analytics.W001",
        )
    ]
