"""Tells the content app which messages live journeys send (content must not import journeys)."""

from content.models import Content
from content.personalisation import Field, register_attribute_source
from content.usage import register_usage_check

from .models import JourneyStatus, Step, VersionState


@register_usage_check
def live_journey_steps(content: Content) -> list[str]:
    """Steps of published versions of live or paused journeys that send `content`."""
    steps = Step.objects.filter(
        content_id=content.pk,
        version__state=VersionState.PUBLISHED,
        version__journey__status__in=[JourneyStatus.LIVE, JourneyStatus.PAUSED],
    ).select_related("version__journey")
    return [
        f"journey “{step.version.journey.name}” (v{step.version.number}, {step.version.journey.get_status_display().lower()}), step {step.key}"
        for step in steps
    ]


@register_attribute_source
def trigger_attributes(content: Content) -> list[Field]:
    """Attributes of the start triggers of the journeys sending `content` first, then those of
    every other trigger (for an email no journey sends yet)."""
    from triggers.models import TriggerAttribute

    used = set(
        Step.objects.filter(content_id=content.pk, version__start_trigger__isnull=False).values_list(
            "version__start_trigger_id", flat=True
        )
    )
    attributes = sorted(
        TriggerAttribute.objects.exclude(type="object").select_related("trigger"),
        key=lambda a: (a.trigger_id not in used, a.trigger.name, a.position, a.name),
    )
    return [
        Field(
            group=f"Trigger: {a.trigger.name}" + ("" if a.trigger_id in used else " (no journey sends this yet)"),
            variable=f"trigger.{a.name}",
            label=a.description or a.name,
        )
        for a in attributes
    ]
