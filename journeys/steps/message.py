"""What the message kinds (email, text, push) share: a piece of content of their channel,
sent to an address (the contact's own, or a trigger attribute), under the sending policy."""

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from .. import deliveries, transitions
from ..durations import DurationError, format_duration
from ..expiry import SETTING, expired_reason, expires_at, parse_expires_after, when
from ..models import Delivery, DeliveryStatus, HistoryOutcome
from ..spec import ATTRIBUTE_PATH, INVALID, UNKNOWN, Problem, SpecPath, StepSpec, text
from .base import WAIT, Kind, References, Run

if TYPE_CHECKING:
    from django import forms

    from ..definition import ParseContext
    from ..designer.canvas import Names
    from ..models import Participant, Step


class MessageKind(Kind):
    """A message step. Subclasses set name, label, channel and `address` (the contact's own)."""

    fields = ("content", "to", "expires_after")
    side_effect = True
    leaving_outcomes = (HistoryOutcome.SENT, HistoryOutcome.BLOCKED, HistoryOutcome.EXPIRED)
    address: ClassVar[str]  # "contact.email"
    content_label: ClassVar[str]  # "Email to send"

    # --- Format ---

    def parse(self, data: Mapping, step: StepSpec, path: SpecPath, ctx: "ParseContext", passed: list[str]) -> None:
        step.content = text(data, "content", path, ctx.errors)
        channel = ctx.channels.get(step.content)
        if step.content and channel is None:
            ctx.add(path / "content", UNKNOWN, f"unknown content {step.content!r}")
        elif channel and channel != self.channel:
            ctx.add(path / "content", INVALID, f"{step.content!r} is {channel} content, not {self.name}")
        step.to = text(data, "to", path, ctx.errors, required=False) or self.address
        if step.to != self.address and not (
            step.to.startswith("trigger.") and ATTRIBUTE_PATH.match(step.to[len("trigger.") :])
        ):
            ctx.add(path / "to", INVALID, f"must be {self.address} or trigger.<attribute>")
        step.settings = {}
        if data.get(SETTING) is not None:
            raw = data[SETTING]
            try:
                if not isinstance(raw, str):
                    raise DurationError("must be a duration such as 2d, 12h or P2D")
                step.settings[SETTING] = format_duration(parse_expires_after(raw))
            except DurationError as error:
                ctx.add(path / SETTING, INVALID, str(error))

    def to_dict(self, step: StepSpec) -> dict[str, Any]:
        data = {"content": step.content, "to": step.to}
        if step.settings.get(SETTING):
            data[SETTING] = step.settings[SETTING]
        return data

    # --- Database ---

    def to_model(self, spec: StepSpec, refs: References) -> dict[str, Any]:
        return {
            "content": refs.contents.get(spec.content) if spec.content else None,
            "to": spec.to,
            "settings": _expiry_settings(spec.settings),
        }

    def from_model(self, step: "Step", spec: StepSpec, build: Callable[[str], list[StepSpec]]) -> None:
        spec.content = step.content.key if step.content else None
        spec.to = step.to
        spec.settings = _expiry_settings(step.settings or {})

    def publish_problems(self, step: "Step", where: str) -> list[Problem]:
        problems = []
        content = step.content
        if content is None:
            problems.append(Problem(where, "choose the message to send"))
        elif not content.is_ready:
            problems.append(
                Problem(
                    where,
                    f"{content.get_channel_display()} {content.name!r} is not Ready to send",
                    fix=("content", content.key),
                )
            )
        elif content.channel != self.channel:
            problems.append(Problem(where, f"{content.name!r} is not a {step.get_kind_display()}"))
        if not step.to:
            problems.append(Problem(where, "choose the address to send to"))
        return problems

    # --- Engine ---

    def execute(self, run: Run) -> Any:
        from ..contacts import resolve_address
        from ..policy import decide

        participant, step, now = run.participant, run.step, run.now
        # Back at a message step (quiet hours ended, a re-run): its delivery may exist already.
        delivery = None if run.arrived else Delivery.objects.filter(participant=participant, step=step).first()
        if delivery is not None and delivery.status != DeliveryStatus.HELD:
            return run.plan.next_after(step)  # already decided (a re-run after a crash)
        if delivery is not None and participant.wake_at is not None and participant.wake_at > now:
            return WAIT  # still in quiet hours
        address = delivery.address if delivery is not None else resolve_address(participant, step.to)
        assert step.content is not None, "a message step has content (a check constraint)"
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
        too_late = _too_late(step, participant, now, decision.until if decision.action == "hold" else None, delivery)
        if too_late and decision.action != "block":
            status, reason, next_attempt = DeliveryStatus.EXPIRED, too_late, None
        if delivery is None:
            delivery = deliveries.create(
                participant,
                step,
                address=address,
                status=status,
                reason=reason,
                next_attempt_at=next_attempt,
                now=now,
                writes=run.writes,
            )
        else:
            deliveries.release_held(delivery, status=status, reason=reason, next_attempt_at=next_attempt)
        detail = {"channel": delivery.channel}
        if status == DeliveryStatus.EXPIRED:
            transitions.record(
                participant,
                step,
                HistoryOutcome.EXPIRED,
                now,
                {**detail, "reason": reason},
                delivery,
                writes=run.writes,
            )
            return run.plan.next_after(step)
        if decision.action == "hold":
            assert decision.until is not None
            transitions.wait_until(
                participant, step, decision.until, now, HistoryOutcome.HELD, detail, delivery, writes=run.writes
            )
            return WAIT
        if decision.action == "block":
            transitions.record(
                participant,
                step,
                HistoryOutcome.BLOCKED,
                now,
                {**detail, "reason": decision.reason},
                delivery,
                writes=run.writes,
            )
        else:
            transitions.record(participant, step, HistoryOutcome.SENT, now, detail, delivery, writes=run.writes)
        return run.plan.next_after(step)

    # --- Designer ---

    def form_fields(self, form: "forms.Form", step: StepSpec | None) -> None:
        from django import forms as django_forms

        from content.models import Content

        from ..designer.fields import ContentChoiceField

        form.fields["content"] = ContentChoiceField(
            queryset=Content.objects.filter(channel=self.channel).order_by("name"),
            to_field_name="key",
            label=self.content_label,
            empty_label="Choose the message",
            initial=step.content if step else None,
            help_text="Build with Draft content; it must be Ready to send before the journey can go live.",
        )
        address = self.address
        choices = [(address, f"The contact's {address.split('.')[1].replace('_', ' ')} ({address})")]
        attributes: dict[str, str] = form.attributes  # type: ignore[attr-defined]
        choices += [(f"trigger.{p}", f"Trigger attribute {p}") for p, t in attributes.items() if t == "text"]
        form.fields["to"] = django_forms.ChoiceField(
            choices=choices, label="Send to", initial=step.to if step and step.to else address
        )

        form.fields[SETTING] = django_forms.CharField(
            required=False,
            max_length=20,
            label="Expires after",
            initial=step.settings.get(SETTING, "") if step else "",
            help_text="Optional, e.g. 2d or 12h from when the contact entered the journey: a message that "
            "cannot go out by then (quiet hours, retries) is recorded as expired, never sent late.",
        )

    def clean_form(self, form: "forms.Form", data: dict[str, Any]) -> None:
        raw = (data.get(SETTING) or "").strip()
        data[SETTING] = ""
        if raw:
            try:
                data[SETTING] = format_duration(parse_expires_after(raw))
            except DurationError as error:
                form.add_error(SETTING, f"{error}.")

    def form_to_spec(self, form: "forms.Form", spec: StepSpec) -> None:
        spec.content, spec.to = form.cleaned_data["content"].key, form.cleaned_data["to"]
        expiry = form.cleaned_data.get(SETTING)
        spec.settings = {SETTING: expiry} if expiry else {}

    def suggested_id(self, form: "forms.Form") -> str:
        return form.cleaned_data["content"].name

    def summary(self, step: StepSpec, names: "Names") -> str:
        content = names.content.get(step.content or "", step.content or "(no message chosen)")
        expiry = step.settings.get(SETTING)
        return f"{self.label}: {content} to {step.to}" + (f", expires after {expiry}" if expiry else "")


def _expiry_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {SETTING: settings[SETTING]} if settings.get(SETTING) else {}


def _too_late(
    step: "Step", participant: "Participant", now: datetime, held_until: datetime | None, delivery: Delivery | None
) -> str:
    """Why the message may no longer go out ("" while it may): held past its expiry, or at
    (or back at, after quiet hours) the step after it."""
    expiry = expires_at(step, participant)
    if expiry is None:
        return ""
    if held_until is not None and held_until > expiry:
        return expired_reason(step, f"quiet hours until {when(held_until)}")
    if now >= expiry:
        why = "held for quiet hours, released" if delivery is not None else "reached the step"
        return expired_reason(step, f"{why} at {when(now)}, past {when(expiry)}")
    return ""
