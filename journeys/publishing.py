"""A journey's lifecycle: publish a version, pause, resume, stop, open a new draft.

Only a clean version goes live: `publish_problems` lists everything that stands in the way,
each with where it is, so the designer and the import command can show them all at once.
"""

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from .conditions import condition_problems
from .models import Journey, JourneyStatus, JourneyVersion, ParticipantState, SegmentMode, Step, VersionState
from .spec import Problem
from .steps import kind_of

__all__ = ["LifecycleError", "Problem", "PublishError", "publish", "publish_problems"]


class PublishError(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


class LifecycleError(Exception):
    pass


def new_version_number(journey: Journey) -> int:
    return (journey.versions.aggregate(n=Max("number"))["n"] or 0) + 1


def _schema(trigger) -> dict[str, str]:
    return dict(trigger.attributes.values_list("name", "type"))


def publish_problems(version: JourneyVersion) -> list[Problem]:
    """Everything that keeps this version from going live (empty when it can)."""
    problems: list[Problem] = []
    trigger = version.start_trigger
    if version.journey.type == "segment":
        problems.extend(_segment_problems(version))
    elif trigger is None:
        problems.append(Problem("start", "choose the trigger that starts the journey"))
    if trigger is not None and version.journey.type != "segment":
        if not trigger.is_ready:
            problems.append(
                Problem("start", f"trigger {trigger.name!r} is not Ready to use", fix=("trigger", trigger.key))
            )
        schema = _schema(trigger)
        for i, condition in enumerate(version.start_conditions):
            for field, message in condition_problems(condition, schema):
                problems.append(Problem("start", f"condition {i + 1} {field}: {message}"))
    if version.goal_trigger is not None and not version.goal_trigger.is_ready:
        problems.append(
            Problem(
                "goal",
                f"trigger {version.goal_trigger.name!r} is not Ready to use",
                fix=("trigger", version.goal_trigger.key),
            )
        )
    if version.goal_trigger is not None and version.goal_target_percent is None:
        problems.append(Problem("goal", "set the share of people needed for the goal"))
    for exit_trigger in version.exit_triggers.all():
        if not exit_trigger.is_ready:
            problems.append(
                Problem("exit", f"trigger {exit_trigger.name!r} is not Ready to use", fix=("trigger", exit_trigger.key))
            )
    steps = list(version.steps.select_related("content", "trigger"))
    if not steps:
        problems.append(Problem("steps", "add at least one step"))
    for step in steps:
        problems.extend(_step_problems(step))
    return problems


def _segment_problems(version: JourneyVersion) -> list[Problem]:
    """A segment-based journey's start (issue 14)."""
    problems = []
    if version.segment is None:
        problems.append(Problem("start", "choose the segment whose members enter"))
    if version.segment_mode == SegmentMode.RECURRING and not version.segment_every:
        problems.append(Problem("start", "set how often a recurring journey enters the members (every)"))
    if version.entry_starts_at and version.entry_ends_at and version.entry_ends_at <= version.entry_starts_at:
        problems.append(Problem("start", "the entry window ends before it starts"))
    return problems


def _step_problems(step: Step) -> list[Problem]:
    return kind_of(step.kind).publish_problems(step, f"step {step.key}")


@transaction.atomic
def publish(version: JourneyVersion) -> JourneyVersion:
    """Make a draft version the one new participants enter. Participants of the version it
    replaces finish that version."""
    journey = Journey.objects.select_for_update().get(pk=version.journey_id)
    version = JourneyVersion.objects.select_for_update().get(pk=version.pk)
    if version.state != VersionState.DRAFT:
        raise LifecycleError(f"version {version.number} is {version.get_state_display().lower()}, not a draft")
    problems = publish_problems(version)
    if problems:
        raise PublishError(problems)
    now = timezone.now()
    journey.versions.filter(state=VersionState.PUBLISHED).update(state=VersionState.REPLACED, replaced_at=now)
    version.state, version.published_at = VersionState.PUBLISHED, now
    version.save(update_fields=["state", "published_at"])
    if journey.status != JourneyStatus.PAUSED:
        journey.status = JourneyStatus.LIVE
        journey.save(update_fields=["status", "updated_at"])
    # Segment-based: the members enter through the workers after commit, never here.
    from .segment_entry import start_at_publish

    version.journey = journey
    start_at_publish(version, now)
    return version


@transaction.atomic
def pause(journey: Journey) -> None:
    """Hold participants where they are (their waits keep counting) and take no one new."""
    _set_status(journey, JourneyStatus.PAUSED, allowed_from={JourneyStatus.LIVE}, action="paused")


@transaction.atomic
def resume(journey: Journey) -> None:
    """Continue a paused journey; participants whose waits ended meanwhile move on at the next sweep."""
    _set_status(journey, JourneyStatus.LIVE, allowed_from={JourneyStatus.PAUSED}, action="resumed")
    from .queue import enqueue_sweep

    enqueue_sweep()


@transaction.atomic
def stop(journey: Journey) -> int:
    """End the journey: every participant still in it is stopped. Returns how many."""
    from .transitions import stop_participants

    _set_status(
        journey, JourneyStatus.STOPPED, allowed_from={JourneyStatus.LIVE, JourneyStatus.PAUSED}, action="stopped"
    )
    return stop_participants(journey.participants.filter(state=ParticipantState.ACTIVE), timezone.now())


def _set_status(journey: Journey, status: str, allowed_from: set[str], action: str) -> None:
    locked = Journey.objects.select_for_update().get(pk=journey.pk)
    if locked.status not in allowed_from:
        allowed = " or ".join(sorted(JourneyStatus(s).label.lower() for s in allowed_from))
        raise LifecycleError(
            f"only a {allowed} journey can be {action}; this one is {locked.get_status_display().lower()}"
        )
    locked.status = status
    locked.save(update_fields=["status", "updated_at"])
    journey.status = status


@transaction.atomic
def open_draft(journey: Journey) -> JourneyVersion:
    """The draft to edit: the existing one, or a copy of the newest version."""
    from .bundles import version_to_spec, write_version

    Journey.objects.select_for_update().get(pk=journey.pk)
    draft = journey.versions.filter(state=VersionState.DRAFT).first()
    if draft is not None:
        return draft
    source = journey.versions.order_by("-number").first()
    draft = JourneyVersion.objects.create(journey=journey, number=new_version_number(journey))
    if source is not None:
        write_version(draft, version_to_spec(source))
        draft.segment = source.segment
        draft.save(update_fields=["segment"])
    return draft


@transaction.atomic
def discard_draft(journey: Journey) -> None:
    """Throw away the draft being edited (nothing has run on a draft). A journey that was
    never published keeps its draft: it would be left with no version at all."""
    Journey.objects.select_for_update().get(pk=journey.pk)
    draft = journey.versions.filter(state=VersionState.DRAFT).first()
    if draft is None:
        raise LifecycleError("there is no draft to discard")
    if not journey.versions.exclude(pk=draft.pk).exists():
        raise LifecycleError("a journey that was never published has only its draft: delete the journey instead")
    draft.steps.update(of_step=None)  # of_step is PROTECT, even between steps of one draft
    draft.delete()
