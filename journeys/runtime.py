"""Run one participant from where it is to its next wait (or to the end).

The caller holds the participant's row lock and the transaction; every state change goes
through journeys.transitions. A step is executed when the participant arrives at it
(`wake_at` is empty) and again when its `wake_at` passes (a wait ends, a wait-for limit
runs out, quiet hours end).
"""

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from . import transitions
from .conditions import all_hold, get_path
from .models import (
    Delivery,
    DeliveryStatus,
    HistoryOutcome,
    JourneyVersion,
    Participant,
    Step,
    StepKind,
    VersionState,
)

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


# --- Context for conditions and addresses -----------------------------------------------


def contact_data(participant: Participant) -> dict[str, Any]:
    contact = participant.contact
    return {
        **(contact.attributes or {}),
        "id": contact.external_id,
        "email": contact.email,
        "phone": contact.phone,
        "push_token": contact.push_token,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "time_zone": contact.time_zone,
    }


def trigger_data(participant: Participant) -> Mapping[str, Any]:
    event = participant.entry_event
    return event.attributes if event is not None else {}


def resolve_address(participant: Participant, expression: str) -> str:
    """`contact.email` or `trigger.<path>` to an address ('' when there is none)."""
    source, _, path = expression.partition(".")
    data = contact_data(participant) if source == "contact" else trigger_data(participant)
    value = get_path(data, path)
    return value.strip() if isinstance(value, str) else ""


def split_bucket(participant_id: int, step_key: str) -> int:
    """0-99, stable per participant and step: a re-run takes the same path."""
    digest = hashlib.sha256(f"{participant_id}:{step_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


# --- Executing steps --------------------------------------------------------------------

WAIT = object()  # the participant stays at its step


def advance(participant: Participant, now: datetime, *, arrived: bool = False) -> None:
    """Run the (locked, active) participant until it waits or finishes.

    `arrived`: the participant has just entered or arrived at its current step in this
    transaction, so nothing of that step exists yet (no delivery to look for).
    """
    with transitions.deferred_writes():
        _run(participant, plan_for(participant.version), now, arrived)


def _run(participant: Participant, plan: Plan, now: datetime, arrived: bool) -> None:
    for _ in range(MAX_STEPS_PER_RUN):
        step = plan.steps.get(participant.current_step_id) if participant.current_step_id else None
        if step is None:
            transitions.complete(participant, now)
            return
        outcome = EXECUTORS[step.kind](participant, step, plan, now, arrived)
        if outcome is WAIT:
            return
        if outcome is None:
            transitions.complete(participant, now)
            return
        transitions.arrive(participant, outcome, now)
        arrived = True
    raise RuntimeError(f"participant {participant.pk} ran {MAX_STEPS_PER_RUN} steps without waiting")


def _is_woken(participant: Participant, now: datetime) -> bool:
    return participant.wake_at is not None and participant.wake_at <= now


def _message(participant: Participant, step: Step, plan: Plan, now: datetime, arrived: bool) -> Any:
    from .policy import decide

    # Back at a message step (quiet hours ended, a re-run): its delivery may exist already.
    delivery = None if arrived else Delivery.objects.filter(participant=participant, step=step).first()
    if delivery is not None and delivery.status != DeliveryStatus.HELD:
        return plan.next_after(step)  # already decided (a re-run after a crash)
    if delivery is not None and participant.wake_at is not None and participant.wake_at > now:
        return WAIT  # still in quiet hours
    address = delivery.address if delivery is not None else resolve_address(participant, step.to)
    decision = decide(
        contact=participant.contact,
        content=step.content,
        address=address,
        journey_time_zone=participant.version.time_zone,
        now=now,
    )
    status, reason, next_attempt = {
        "send": (DeliveryStatus.QUEUED, "", None),
        "block": (DeliveryStatus.BLOCKED, decision.reason, None),
        "hold": (DeliveryStatus.HELD, "quiet_hours", decision.until),
    }[decision.action]
    if delivery is None:
        delivery = transitions.create_delivery(
            participant, step, address=address, status=status, reason=reason, next_attempt_at=next_attempt, now=now
        )
    else:
        transitions.update_held_delivery(delivery, status=status, reason=reason, next_attempt_at=next_attempt)
    detail = {"channel": delivery.channel}
    if decision.action == "hold":
        transitions.wait_until(participant, step, decision.until, now, HistoryOutcome.HELD, detail, delivery)
        return WAIT
    if decision.action == "block":
        transitions.record(
            participant, step, HistoryOutcome.BLOCKED, now, {**detail, "reason": decision.reason}, delivery
        )
    else:
        transitions.record(participant, step, HistoryOutcome.SENT, now, detail, delivery)
    return plan.next_after(step)


def _wait(participant: Participant, step: Step, plan: Plan, now: datetime, arrived: bool) -> Any:
    if _is_woken(participant, now):
        transitions.record(participant, step, HistoryOutcome.WAITED, now)
        return plan.next_after(step)
    if participant.wake_at is not None:
        return WAIT
    wake_at = step.until if step.until is not None else participant.step_started_at + step.duration
    if wake_at <= now:  # a date already passed: continue at once
        transitions.record(participant, step, HistoryOutcome.WAITED, now, {"until": wake_at.isoformat()})
        return plan.next_after(step)
    transitions.wait_until(participant, step, wake_at, now, HistoryOutcome.WAITING, {})
    return WAIT


def _wait_for(participant: Participant, step: Step, plan: Plan, now: datetime, arrived: bool) -> Any:
    """Arrival starts the clock; the limit passing takes the No path. The Yes path is taken
    by journeys.reactions when a matching event arrives (take_yes)."""
    if _is_woken(participant, now):
        transitions.record(participant, step, HistoryOutcome.NO, now)
        return plan.enter_path(step, "no")
    if participant.wake_at is None:
        deadline = participant.step_started_at + step.duration
        awaited = {"segment": step.segment.key} if step.segment_id else {"trigger": step.trigger.key}
        transitions.wait_until(participant, step, deadline, now, HistoryOutcome.WAITING, awaited)
    return WAIT


def take_yes(participant: Participant, step: Step, event_id: int | None, now: datetime) -> None:
    """A matching event arrived (or, event_id None, the contact joined the awaited segment)
    while the participant waited at `step`: go down Yes."""
    plan = plan_for(participant.version)
    with transitions.deferred_writes():
        transitions.record(participant, step, HistoryOutcome.YES, now, {"event": event_id})
        following = plan.enter_path(step, "yes")
        if following is None:
            transitions.complete(participant, now)
            return
        transitions.arrive(participant, following, now)
        advance(participant, now, arrived=True)


def _branch(participant: Participant, step: Step, plan: Plan, now: datetime, arrived: bool) -> Any:
    data = {"contact": contact_data(participant), "trigger": trigger_data(participant)}
    for index, path in enumerate(step.paths):
        if all_hold(path.get("conditions", []), data):
            transitions.record(participant, step, HistoryOutcome.PATH, now, {"path": index, "name": path.get("name")})
            return plan.enter_path(step, str(index))
    transitions.record(participant, step, HistoryOutcome.PATH, now, {"path": "otherwise"})
    return plan.enter_path(step, "otherwise")


def _split(participant: Participant, step: Step, plan: Plan, now: datetime, arrived: bool) -> Any:
    bucket, upper = split_bucket(participant.pk, step.key), 0
    for index, path in enumerate(step.paths):
        upper += path.get("percent", 0)
        if bucket < upper:
            transitions.record(participant, step, HistoryOutcome.PATH, now, {"path": index, "name": path.get("name")})
            return plan.enter_path(step, str(index))
    return plan.next_after(step)


EXECUTORS = {
    StepKind.EMAIL: _message,
    StepKind.TEXT: _message,
    StepKind.PUSH: _message,
    StepKind.WAIT: _wait,
    StepKind.WAIT_FOR: _wait_for,
    StepKind.BRANCH: _branch,
    StepKind.SPLIT: _split,
}
