"""Tells the content app which messages live journeys send (content must not import journeys)."""

from content.models import Content
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
