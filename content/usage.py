"""Who uses a message: a registry the journeys app fills, so content never imports journeys.

A usage check takes a Content and returns human-readable descriptions of live uses
("Journey 'Abandoned cart' v2, step initial-email"). Editing Ready content is refused while
any check returns something.
"""

from collections.abc import Callable

from .models import Content

UsageCheck = Callable[[Content], list[str]]
_checks: list[UsageCheck] = []


def register_usage_check(check: UsageCheck) -> UsageCheck:
    """Register `check` (usable as a decorator); registering the same function twice is a no-op."""
    if check not in _checks:
        _checks.append(check)
    return check


def live_usages(content: Content) -> list[str]:
    return [usage for check in _checks for usage in check(content)]
