"""The step kinds: one module each, registered once.

The engine (journeys.runtime), the format (journeys.definition), bundles, publishing, the
designer and the analytics funnel iterate this registry; none of them names a kind. Adding a
kind is adding a module here and its line below (docs/extending.md).
"""

from .base import HELD_OUT, WAIT, Kind, References, Run

_KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    """Make `kind` known (once per name)."""
    if kind.name in _KINDS:
        raise ValueError(f"step kind {kind.name!r} is registered twice")
    _KINDS[kind.name] = kind
    return kind


def kind_of(name: str) -> Kind:
    """The kind registered under `name` (KeyError for an unknown one)."""
    return _KINDS[name]


def kinds() -> list[Kind]:
    """Every kind, in the order they are offered in the designer."""
    return list(_KINDS.values())


def message_kinds() -> list[Kind]:
    return [k for k in _KINDS.values() if k.channel]


def leaving_outcomes() -> tuple[str, ...]:
    """History outcomes with which some kind ends a step (and `held_out`, with which the
    runtime ends a step with side effects for the holdout group)."""
    outcomes = [o for k in _KINDS.values() for o in k.leaving_outcomes]
    if any(k.side_effect for k in _KINDS.values()):
        outcomes.append(HELD_OUT)
    return tuple(dict.fromkeys(outcomes))


# The kinds, in designer order. Each module registers itself.
from . import email, text, push, webhook, wait, wait_for, branch, split, ab_test, raise_trigger, log  # noqa: E402, F401, I001

__all__ = ["WAIT", "Kind", "References", "Run", "kind_of", "kinds", "leaving_outcomes", "message_kinds", "register"]
