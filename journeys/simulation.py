"""Run a journey on a virtual clock, in a transaction that is rolled back: nothing is kept
and nothing is sent (messages are dispatched after commit, and there is no commit).

Used by `manage.py simulate_journey` and the designer's "Test journey".
"""

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from triggers.models import Event, Trigger

from .contacts import upsert_contact
from .durations import DurationError, parse_duration
from .models import Delivery, Journey, JourneyStatus, JourneyVersion, Participant, ParticipantState, VersionState
from .reactions import process_event
from .steps import kind_of
from .steps.base import HELD_OUT
from .sweep import advance_due

SIMULATION_SOURCE = "simulation"
# After the last event, keep the clock running until nothing is waiting, within this horizon.
HORIZON = timedelta(days=100)
INTERACTION_TRIGGERS = {"email_opened", "email_clicked", "email_delivered", "email_bounced"}


class SimulationError(ValueError):
    pass


@dataclass
class SimulatedEvent:
    offset: timedelta
    trigger: str
    attributes: dict[str, Any]


@dataclass
class TimelineEntry:
    offset: timedelta
    step: str
    outcome: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": f"+{_offset(self.offset)}",
            "seconds": int(self.offset.total_seconds()),
            "step": self.step,
            "outcome": self.outcome,
            "detail": self.detail,
        }


def _offset(offset: timedelta) -> str:
    seconds = int(offset.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    return "".join(parts) + (f"{seconds}s" if seconds or not any(parts) else "")


_EVENT = re.compile(r"^\s*(\S+)\s+(\S+)\s*(.*)$", re.S)


def parse_event(text: str) -> SimulatedEvent:
    """'30h purchase_completed {"order_total": 80}' -> SimulatedEvent."""

    match = _EVENT.match(text)
    if not match:
        raise SimulationError(
            f"event {text!r}: write it as 'OFFSET TRIGGER {{attributes}}', e.g. '30h purchase_completed {{}}'"
        )
    offset_text, trigger, raw = match.groups()
    try:
        offset = timedelta(0) if offset_text in ("0", "0s") else parse_duration(offset_text)
    except DurationError as e:
        raise SimulationError(f"event {text!r}: offset {e}") from e
    try:
        attributes = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as e:
        raise SimulationError(f"event {text!r}: attributes are not JSON ({e.msg})") from e
    if not isinstance(attributes, dict):
        raise SimulationError(f"event {text!r}: attributes must be a JSON object")
    return SimulatedEvent(offset, trigger, attributes)


def simulate(
    journey_key: str, contact: dict[str, Any], events: list[SimulatedEvent], bundle: dict | None = None
) -> list[TimelineEntry]:
    """The timeline of what the journey would do for this contact and these events. With a
    bundle, its triggers, content and journeys are imported first (and rolled back too)."""
    contact = dict(contact)
    contact_id = str(contact.pop("id", "") or "")
    if not contact_id:
        raise SimulationError('the contact needs an "id"')
    start = timezone.now()
    with transaction.atomic():
        if bundle is not None:
            from .bundles import import_bundle

            import_bundle(bundle)
        triggers = {t.key: t for t in Trigger.objects.filter(key__in=[e.trigger for e in events])}
        for event in events:
            if event.trigger not in triggers:
                raise SimulationError(f"unknown trigger {event.trigger!r}")
        version = _version_to_run(journey_key, start)
        upsert_contact(f"{SIMULATION_SOURCE}:{contact_id}", contact)
        contact_key = f"{SIMULATION_SOURCE}:{contact_id}"
        for index, event in enumerate(sorted(events, key=lambda e: e.offset)):
            at = start + event.offset
            _run_due(version, until=at)
            attributes = dict(event.attributes)
            if event.trigger in INTERACTION_TRIGGERS and "delivery_id" not in attributes:
                latest = (
                    Delivery.objects.filter(contact__external_id=contact_key, channel="email").order_by("-pk").first()
                )
                if latest is not None:
                    attributes["delivery_id"] = str(latest.pk)
            stored = Event.objects.create(
                trigger=triggers[event.trigger],
                source=SIMULATION_SOURCE,
                event_id=f"{index}",
                contact_key=contact_key,
                attributes=attributes,
                received_at=at,
            )
            process_event(stored.pk, now=at)
        _run_due(version, until=start + HORIZON)
        timeline = _timeline(version, contact_key, start)
        transaction.set_rollback(True)
    return timeline


def _version_to_run(journey_key: str, start: datetime) -> JourneyVersion:
    journey = Journey.objects.filter(key=journey_key).first()
    if journey is None:
        raise SimulationError(f"no journey with key {journey_key!r}")
    version = (
        journey.versions.filter(state=VersionState.DRAFT).first()
        or journey.versions.filter(state=VersionState.PUBLISHED).first()
    )
    if version is None:
        raise SimulationError(f"journey {journey_key!r} has no version to run")
    # Inside the rolled-back transaction only: make this version the live one.
    journey.versions.exclude(pk=version.pk).filter(state=VersionState.PUBLISHED).update(state=VersionState.REPLACED)
    JourneyVersion.objects.filter(pk=version.pk).update(state=VersionState.PUBLISHED, published_at=start)
    Journey.objects.filter(pk=journey.pk).update(status=JourneyStatus.LIVE)
    version.refresh_from_db()
    return version


def _run_due(version: JourneyVersion, until: datetime) -> None:
    """Move the virtual clock from wake-up to wake-up up to `until`."""
    while True:
        due = (
            Participant.objects.filter(version=version, state=ParticipantState.ACTIVE, wake_at__lte=until)
            .order_by("wake_at")
            .values_list("pk", "wake_at")
            .first()
        )
        if due is None or due[1] is None:
            return
        advance_due(due[0], due[1])


def _timeline(version: JourneyVersion, contact_key: str, start: datetime) -> list[TimelineEntry]:
    entries = []
    participants = Participant.objects.filter(version=version, contact__external_id=contact_key).order_by("pk")
    deliveries = {
        d.pk: d for d in Delivery.objects.filter(participant__in=participants).select_related("content", "step")
    }
    for participant in participants:
        for row in participant.history.select_related("step").order_by("at", "pk"):
            detail = ""
            delivery = deliveries.get(row.detail.get("delivery"))
            if delivery is not None:
                if delivery.content is None:  # a webhook call: queued, never made (nothing commits)
                    method = delivery.step.settings.get("method") or "POST"
                    detail = f"{delivery.get_channel_display()} {method} {delivery.address}"
                else:
                    detail = f"{delivery.get_channel_display()} {delivery.content.name!r} to {delivery.address or '(no address)'}"
                if row.detail.get("reason"):
                    detail += f" ({row.detail['reason']})"
            elif "until" in row.detail:
                detail = f"until +{_offset(datetime.fromisoformat(row.detail['until']) - start)}"
            elif row.step is not None and (worded := kind_of(row.step.kind).timeline_detail(row.outcome, row.detail)):
                detail = worded
            elif row.outcome == "exited":
                detail = f"exit trigger {row.detail.get('trigger')}"
            elif row.outcome == HELD_OUT:
                detail = "holdout group: no side effect"
            entries.append(TimelineEntry(row.at - start, row.step_key, row.outcome, detail))
    return entries


def format_timeline(entries: list[TimelineEntry]) -> str:
    if not entries:
        return "The contact did not enter the journey."
    return "\n".join(
        f"{'+' + _offset(e.offset):>10}  {e.step or '-':<20} {e.outcome:<10} {e.detail}".rstrip() for e in entries
    )
