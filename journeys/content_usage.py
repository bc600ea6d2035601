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
def start_trigger_attributes(content: Content) -> list[Field]:
    """The start triggers' attributes of every journey with a step sending `content`."""
    from triggers.models import TriggerAttribute

    trigger_ids = (
        Step.objects.filter(content_id=content.pk, version__start_trigger__isnull=False)
        .values_list("version__start_trigger_id", flat=True)
        .distinct()
    )
    attributes = (
        TriggerAttribute.objects.filter(trigger_id__in=trigger_ids)
        .exclude(type="object")
        .select_related("trigger")
        .order_by("trigger__name", "position", "name")
    )
    return [
        Field(group=f"Trigger: {a.trigger.name}", variable=f"trigger.{a.name}", label=a.description or a.name)
        for a in attributes
    ]
