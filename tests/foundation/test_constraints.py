"""The schema keeps the product's promises even when code races: duplicates are refused by
the database, not merely avoided by the code."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from content.models import Email, TextMessage
from journeys.models import (
    ONCE_EVER,
    Contact,
    Delivery,
    Journey,
    JourneyVersion,
    Participant,
    ParticipantState,
    Step,
    StepKind,
    VersionState,
)
from triggers.models import BUILTIN_TRIGGERS, Event, Trigger


@pytest.fixture
def cart_trigger(db) -> Trigger:
    return Trigger.objects.create(key="abandoned_cart", name="Abandoned cart", status="ready")


@pytest.fixture
def email(db) -> Email:
    return Email.objects.create(key="initial", name="Initial", subject="Hi", from_email="shop@example.com")


@pytest.fixture
def version(cart_trigger) -> JourneyVersion:
    journey = Journey.objects.create(key="abandoned-cart", name="Abandoned cart")
    return JourneyVersion.objects.create(journey=journey, number=1, start_trigger=cart_trigger)


@pytest.fixture
def contact(db) -> Contact:
    return Contact.objects.create(external_id="cust-42", email="ana@example.com")


def _participant(version, contact, **fields) -> Participant:
    return Participant.objects.create(journey=version.journey, version=version, contact=contact, **fields)


def test_a_second_delivery_for_the_same_participant_and_step_is_refused(version, contact, email):
    step = Step.objects.create(version=version, key="initial-email", kind=StepKind.EMAIL, content=email)
    participant = _participant(version, contact)
    Delivery.objects.create(participant=participant, step=step, contact=contact, channel="email", content=email)

    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.create(participant=participant, step=step, contact=contact, channel="email", content=email)

    assert Delivery.objects.filter(participant=participant, step=step).count() == 1


def test_an_event_id_repeats_only_across_sources(cart_trigger):
    Event.objects.create(trigger=cart_trigger, source="web", event_id="e-1", contact_key="c1")
    Event.objects.create(trigger=cart_trigger, source="segment:shop", event_id="e-1", contact_key="c1")

    with pytest.raises(IntegrityError), transaction.atomic():
        Event.objects.create(trigger=cart_trigger, source="web", event_id="e-1", contact_key="c1")

    assert Event.objects.filter(event_id="e-1").count() == 2


def test_events_without_an_event_id_are_all_kept(cart_trigger):
    Event.objects.create(trigger=cart_trigger, source="web", contact_key="c1")
    Event.objects.create(trigger=cart_trigger, source="web", contact_key="c1")

    assert Event.objects.filter(source="web", event_id__isnull=True).count() == 2


def test_a_contact_is_active_in_a_journey_once_at_a_time(version, contact):
    _participant(version, contact)

    with pytest.raises(IntegrityError), transaction.atomic():
        _participant(version, contact)

    assert Participant.objects.filter(contact=contact).count() == 1


def test_a_contact_may_enter_again_after_leaving(version, contact):
    _participant(version, contact, state=ParticipantState.EXITED)
    _participant(version, contact)

    assert Participant.objects.filter(contact=contact).count() == 2


def test_the_once_ever_policy_holds_across_finished_participants(version, contact):
    _participant(version, contact, entry_key=ONCE_EVER, state=ParticipantState.COMPLETED)

    with pytest.raises(IntegrityError), transaction.atomic():
        _participant(version, contact, entry_key=ONCE_EVER)


def test_instances_with_different_bindings_run_side_by_side(version, contact):
    _participant(version, contact, entry_key="cart/1", binding_id="cart/1")
    _participant(version, contact, entry_key="cart/2", binding_id="cart/2")

    with pytest.raises(IntegrityError), transaction.atomic():
        _participant(version, contact, entry_key="cart/1", binding_id="cart/1")


def test_a_journey_has_one_draft_and_one_published_version_at_most(version):
    JourneyVersion.objects.filter(pk=version.pk).update(state=VersionState.PUBLISHED)
    JourneyVersion.objects.create(journey=version.journey, number=2)

    with pytest.raises(IntegrityError), transaction.atomic():
        JourneyVersion.objects.create(journey=version.journey, number=3)
    with pytest.raises(IntegrityError), transaction.atomic():
        JourneyVersion.objects.create(journey=version.journey, number=3, state=VersionState.PUBLISHED)


def test_a_message_step_needs_content(version):
    with pytest.raises(IntegrityError), transaction.atomic():
        Step.objects.create(version=version, key="text", kind=StepKind.TEXT)


def test_a_wait_needs_a_duration_or_a_date(version):
    with pytest.raises(IntegrityError), transaction.atomic():
        Step.objects.create(version=version, key="wait", kind=StepKind.WAIT)

    Step.objects.create(version=version, key="wait", kind=StepKind.WAIT, duration=timedelta(days=1))


def test_a_wait_for_needs_a_trigger_and_a_time_limit(version, cart_trigger):
    with pytest.raises(IntegrityError), transaction.atomic():
        Step.objects.create(version=version, key="opened", kind=StepKind.WAIT_FOR, trigger=cart_trigger)


def test_step_keys_are_unique_within_a_version(version):
    Step.objects.create(version=version, key="wait", kind=StepKind.WAIT, duration=timedelta(hours=1))

    with pytest.raises(IntegrityError), transaction.atomic():
        Step.objects.create(version=version, key="wait", kind=StepKind.WAIT, duration=timedelta(hours=2))


def test_content_keys_are_unique_across_channels(email):
    with pytest.raises(IntegrityError), transaction.atomic():
        TextMessage.objects.create(key=email.key, name="Clash", body="Hi")


def test_content_knows_its_channel_and_its_specific_row(email):
    generic = email.content_ptr
    generic.refresh_from_db()

    assert generic.channel == "email"
    assert generic.specific == email
    assert generic.specific.subject == "Hi"


def test_the_builtin_interaction_triggers_exist_and_cannot_be_deleted(db):
    builtins = Trigger.objects.filter(builtin=True)

    assert sorted(builtins.values_list("key", flat=True)) == sorted(BUILTIN_TRIGGERS)
    assert all(trigger.is_ready for trigger in builtins)
    opened = Trigger.objects.get(key="email_opened")
    assert opened.attributes.get(name="delivery_id").required is True
    with pytest.raises(ValidationError):
        opened.delete()
    assert Trigger.objects.filter(key="email_opened").exists()
