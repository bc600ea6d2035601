"""Message expiration: a message step's optional `expires_after` ("2d"), counted from the
participant's entry. A message that cannot go out by then (held for quiet hours past it,
retried past it, re-driven after a crash after it) is recorded as `expired`, never sent late.

The runtime asks when it creates or releases a held message (journeys.steps.message), the
sender just before an attempt and before scheduling a retry (journeys.sending).
"""

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from .durations import DurationError, format_duration, parse_wait

if TYPE_CHECKING:
    from .models import Participant, Step

SETTING = "expires_after"


def parse_expires_after(text: str) -> timedelta:
    """The step's `expires_after`: a duration such as 2d (positive, at most 90 days)."""
    return parse_wait(text)


def expires_after(step: "Step") -> timedelta | None:
    """The step's expiry duration, or None when its messages never expire."""
    text = (step.settings or {}).get(SETTING)
    if not text:
        return None
    try:
        return parse_expires_after(text)
    except DurationError:  # checked when the journey was parsed; an old row never blocks a send
        return None


def expires_at(step: "Step", participant: "Participant") -> datetime | None:
    """When the participant's message of this step stops being worth sending."""
    duration = expires_after(step)
    return participant.entered_at + duration if duration is not None else None


def expired_reason(step: "Step", why: str) -> str:
    """The delivery's reason: "expired after 2d: quiet hours until 2026-11-04 08:00 UTC"."""
    duration = expires_after(step)
    label = format_duration(duration) if duration is not None else "its time"
    return f"expired after {label}: {why}"


def when(at: datetime) -> str:
    """A time in a reason: UTC, to the minute."""
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
