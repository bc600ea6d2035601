"""Run one participant from where it is to its next wait (or to the end).

The caller holds the participant's row lock and the transaction; every state change goes
through journeys.transitions. A step is executed by its kind (journeys.steps) when the
participant arrives at it (`wake_at` is empty) and again when its `wake_at` passes (a wait
ends, a wait-for limit runs out, quiet hours end).
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from triggers.models import Event

from . import transitions
from .models import JourneyVersion, Participant, ParticipantGroup, Step, VersionState
from .steps import kind_of, kinds
from .steps.base import HELD_OUT, Run, Wait
from .transitions import Writes

logger = logging.getLogger(__name__)

# A journey is a finite tree, so a run ends; the bound only guards against a bug looping.
MAX_STEPS_PER_RUN = 500


@dataclass(frozen=True)
class Plan:
    """A version's steps, indexed for navigation. Published versions never change, so their
    plans are cached per process."""

    steps: dict[int, Step]
    children: dict[tuple[int | None, str], list[Step]]

    @property
    def first_step(self) -> Step | None:
        return self.first_of(None, "")

    def first_of(self, parent_id: int | None, path: str) -> Step | None:
        steps = self.children.get((parent_id, path))
        return steps[0] if steps else None

    def next_after(self, step: Step) -> Step | None:
        """The step after this one on its path; at the end of a path, the step after the
        branching step it belongs to (paths join again); None at the end of the journey."""
        while True:
            siblings = self.children[(step.parent_id, step.path)]
            index = siblings.index(step)
            if index + 1 < len(siblings):
                return siblings[index + 1]
            if step.parent_id is None:
                return None
            step = self.steps[step.parent_id]

    def enter_path(self, step: Step, path: str) -> Step | None:
        return self.first_of(step.pk, path) or self.next_after(step)


def _build_plan(version_id: int) -> Plan:
    steps = list(Step.objects.filter(version_id=version_id).select_related("content", "trigger", "of_step", "segment"))
    children: dict[tuple[int | None, str], list[Step]] = {}
    for step in sorted(steps, key=lambda s: s.position):
        children.setdefault((step.parent_id, step.path), []).append(step)
    return Plan(steps={s.pk: s for s in steps}, children=children)


@lru_cache(maxsize=256)
def _cached_plan(version_id: int, published_at: datetime) -> Plan:
    return _build_plan(version_id)


def plan_for(version: JourneyVersion) -> Plan:
    """The version's plan. A published version never changes, so its plan is cached, keyed
    by its publication time too: a version "published" inside a rolled-back transaction (the
    simulator) and edited afterwards must not reuse that plan."""
    if version.state == VersionState.DRAFT or version.published_at is None:
        return _build_plan(version.pk)
    return _cached_plan(version.pk, version.published_at)


def clear_plan_cache() -> None:
    _cached_plan.cache_clear()


# --- Executing steps --------------------------------------------------------------------


def advance(participant: Participant, now: datetime, *, arrived: bool = False, writes: Writes | None = None) -> None:
    """Run the (locked, active) participant until it waits or finishes.

    `arrived`: the participant has just entered or arrived at its current step in this
    transaction, so nothing of that step exists yet (no delivery to look for). `writes`: the
    caller's batch of rows (a sweep batch, an entry); without one, the run writes its own
    at the end.
    """
    own = writes is None
    writes = writes if writes is not None else Writes()
    _run(participant, plan_for(participant.version), now, arrived, writes)
    if own:
        writes.flush()


def _run(participant: Participant, plan: Plan, now: datetime, arrived: bool, writes: Writes) -> None:
    for _ in range(MAX_STEPS_PER_RUN):
        step = plan.steps.get(participant.current_step_id) if participant.current_step_id else None
        if step is None:
            transitions.complete(participant, now, writes=writes)
            return
        kind, run = kind_of(step.kind), Run(participant, step, plan, now, arrived, writes)
        if kind.side_effect and participant.group == ParticipantGroup.HOLDOUT:
            # The control group walks the journey without acting outside it (journeys.holdout).
            transitions.record(participant, step, HELD_OUT, now, {"kind": kind.name}, writes=writes)
            outcome: Step | Wait | None = plan.next_after(step)
        else:
            outcome = kind.execute(run)
        if not _go_on(participant, outcome, now, writes):
            return
        arrived = True
    raise RuntimeError(f"participant {participant.pk} ran {MAX_STEPS_PER_RUN} steps without waiting")


def _go_on(participant: Participant, outcome: Step | Wait | None, now: datetime, writes: Writes) -> bool:
    """Act on a step's outcome: stay, complete, or arrive at the next step (True: run it)."""
    if isinstance(outcome, Wait):
        return False
    if outcome is None:
        transitions.complete(participant, now, writes=writes)
        return False
    transitions.arrive(participant, outcome, now, writes=writes)
    return True


def awaiting_kinds() -> list[str]:
    """The kinds of step at which a participant waits for events of the step's trigger, or
    to join the step's segment."""
    return [k.name for k in kinds() if k.awaits_events]


def react_at_step(
    participant: Participant, step: Step, event: Event | None, now: datetime, *, writes: Writes | None = None
) -> None:
    """An event of `step`'s trigger (or, `event` None, the contact joined the step's segment)
    for the (locked, active) participant waiting there: its kind decides whether it moves on
    (a wait-for's Yes) and the run goes on from there. `writes`: the caller's batch of rows
    (a group of events); without one, the run writes its own at the end."""
    plan = plan_for(participant.version)
    own = writes is None
    writes = writes if writes is not None else Writes()
    outcome = kind_of(step.kind).react(Run(participant, step, plan, now, False, writes), event)
    if _go_on(participant, outcome, now, writes):
        _run(participant, plan, now, True, writes)
    if own:
        writes.flush()
