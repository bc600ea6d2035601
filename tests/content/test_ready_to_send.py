"""Draft -> Ready to send runs Check content; Ready content goes back to Draft to be edited,
unless a live journey sends it."""

import pytest

from content.lifecycle import ContentInUse, ContentNotReady, mark_ready, reopen_for_editing
from content.models import ContentStatus, Email, TextMessage
from content.usage import live_usages
from journeys.models import Journey, JourneyStatus, JourneyVersion, Step, StepKind, VersionState


@pytest.fixture
def email(db) -> Email:
    return Email.objects.create(
        key="initial",
        name="Initial",
        subject="Hi",
        from_email="shop@example.com",
        html_body='<a href="{{ unsubscribe_url }}">Unsubscribe</a>',
        text_body="Unsubscribe: {{ unsubscribe_url }}",
    )


def _use_in_journey(content, *, journey_status, version_state=VersionState.PUBLISHED, key="cart") -> Journey:
    journey = Journey.objects.create(key=key, name=f"Journey {key}", status=journey_status)
    version = JourneyVersion.objects.create(journey=journey, number=1, state=version_state)
    Step.objects.create(version=version, key="initial-email", kind=StepKind.EMAIL, content=content)
    return journey


def test_a_checked_message_becomes_ready_to_send(email):
    assert mark_ready(email) == []

    assert Email.objects.get(pk=email.pk).status == ContentStatus.READY


def test_a_message_with_problems_stays_in_draft_with_every_problem_listed(email):
    email.subject = ""
    email.text_body = ""
    email.save()

    with pytest.raises(ContentNotReady) as error:
        mark_ready(email)

    assert [str(p) for p in error.value.problems] == [
        "subject: A subject is required.",
        "text_body: A plain-text body is required.",
    ]
    assert Email.objects.get(pk=email.pk).status == ContentStatus.DRAFT


def test_warnings_do_not_stop_a_text_from_becoming_ready(db):
    text = TextMessage.objects.create(key="long", name="Long", body="a" * 200)

    warnings = mark_ready(text)

    assert [p.severity for p in warnings] == ["warning"]
    assert TextMessage.objects.get(pk=text.pk).status == ContentStatus.READY


def test_ready_content_not_used_by_a_live_journey_goes_back_to_draft(email):
    mark_ready(email)
    _use_in_journey(email, journey_status=JourneyStatus.DRAFT, version_state=VersionState.DRAFT)
    _use_in_journey(email, journey_status=JourneyStatus.STOPPED, key="old")

    reopen_for_editing(email)

    assert Email.objects.get(pk=email.pk).status == ContentStatus.DRAFT


@pytest.mark.parametrize("journey_status", [JourneyStatus.LIVE, JourneyStatus.PAUSED])
def test_editing_is_refused_while_a_live_or_paused_journey_sends_the_message(email, journey_status):
    mark_ready(email)
    _use_in_journey(email, journey_status=journey_status)

    with pytest.raises(ContentInUse) as error:
        reopen_for_editing(email)

    assert error.value.usages == [f"journey “Journey cart” (v1, {journey_status.label.lower()}), step initial-email"]
    assert Email.objects.get(pk=email.pk).status == ContentStatus.READY


def test_a_replaced_version_of_a_live_journey_does_not_hold_the_message(email):
    _use_in_journey(email, journey_status=JourneyStatus.LIVE, version_state=VersionState.REPLACED)

    assert live_usages(email) == []
