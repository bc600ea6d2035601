"""The holdout group: a share of a journey's entrants kept as a control for its goal.

`holdout_percent` of a version (0-50) decides, per contact, whether a participant enters as
`holdout` or `treatment`. The choice is a hash of the journey's key and the contact's key,
so the same contact is always in the same group of that journey (across versions and
re-entries) and the groups need no stored state. Holdout participants walk the journey but
every step with side effects (a kind's `side_effect`: messages, raised triggers, webhooks)
records `held_out` instead of acting; their goal is tracked as everyone's.
"""

from .buckets import stable_bucket
from .models import ParticipantGroup

MAX_HOLDOUT_PERCENT = 50
BUCKETS = 10_000  # percent * 100: whole percents split the hash space exactly


def in_holdout(journey_key: str, contact_key: str, percent: int) -> bool:
    """Whether the contact is in the journey's holdout group (pure, stable)."""
    if percent <= 0:
        return False
    return stable_bucket(f"{journey_key}\x00{contact_key}", BUCKETS) < percent * (BUCKETS // 100)


def group_for(version, contact) -> str:
    """The group a contact enters the version in."""
    percent = version.holdout_percent
    if not percent:
        return ParticipantGroup.TREATMENT
    journey_key = version.journey.key
    return (
        ParticipantGroup.HOLDOUT
        if in_holdout(journey_key, contact.external_id, percent)
        else ParticipantGroup.TREATMENT
    )
