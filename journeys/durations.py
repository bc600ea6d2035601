"""Durations in journey definitions: `30s 15m 2h 1d 2w`, or ISO 8601 (`P1D`, `PT90M`).

A day is 24 hours and a week 7 days, whatever the calendar does (no DST stretching):
"wait 1d" means 86,400 seconds after the participant arrived.
"""

import re
from datetime import timedelta

MAX_WAIT = timedelta(days=90)

_SHORT = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_ISO = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class DurationError(ValueError):
    pass


def parse_duration(text: str) -> timedelta:
    """Parse a duration; raise DurationError with a message a marketer can act on."""
    if not isinstance(text, str) or not text.strip():
        raise DurationError("must be a duration such as 30s, 15m, 2h, 1d, 2w or P1D")
    short = _SHORT.match(text)
    if short:
        return timedelta(**{_UNITS[short.group(2)]: int(short.group(1))})
    iso = _ISO.match(text.strip().upper())
    if iso and text.strip().upper() not in ("P", "PT") and any(iso.groupdict().values()):
        return timedelta(**{unit: int(value) for unit, value in iso.groupdict().items() if value})
    raise DurationError(f"{text!r} is not a duration: use 30s, 15m, 2h, 1d, 2w or ISO 8601 like P1D")


def parse_wait(text: str) -> timedelta:
    """A wait or wait-for limit: positive and at most 90 days."""
    duration = parse_duration(text)
    if duration <= timedelta(0):
        raise DurationError("must be longer than zero")
    if duration > MAX_WAIT:
        raise DurationError(f"{text} is longer than the 90-day limit")
    return duration


def format_duration(duration: timedelta) -> str:
    """The shortest exact short form: 1d, 36h, 90m, 45s."""
    seconds = int(duration.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def describe_duration(duration: timedelta) -> str:
    """For people: '1 day', '36 hours'."""
    short = format_duration(duration)
    number, unit = int(short[:-1]), short[-1]
    word = {"w": "week", "d": "day", "h": "hour", "m": "minute", "s": "second"}[unit]
    return f"{number} {word}{'' if number == 1 else 's'}"
