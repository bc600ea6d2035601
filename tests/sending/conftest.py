"""Journey-shaped rows built directly: a contact in the abandoned-cart journey, at a message
step, with a queued delivery. The engine's own fixtures (the seed journey, a frozen clock,
raise_event, run_sweep) are shared too, for tests that go through the real engine."""

from collections.abc import Callable

import pytest

from content.backends import common
from content.models import ContentStatus, Email, PushNotification, TextMessage
from journeys.models import (
    Contact,
    Delivery,
    Journey,
    JourneyStatus,
    JourneyVersion,
    Participant,
    Step,
    StepKind,
    VersionState,
)
from tests.engine.conftest import clock, raise_event, run_sweep, seed_bundle, seed_journey  # noqa: F401
from triggers.models import Event, Trigger

HTML_BODY = (
    "<html><body><p>Hi {{ contact.first_name|default:'there' }},</p>"
    "<p>Your cart: {{ trigger.cart_total }} {{ trigger.currency }}</p>"
    "<ul>{% for item in trigger.cart.items %}<li>{{ item.name }}</li>{% endfor %}</ul>"
    '<p><a href="https://shop.example.com/cart?id=7&amp;utm=mail">Back to your cart</a></p>'
    '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>'
)
TEXT_BODY = "Hi {{ contact.first_name }}, your cart is waiting: https://shop.example.com/cart\nUnsubscribe: {{ unsubscribe_url }}"


@pytest.fixture(autouse=True)
def _empty_outboxes():
    common.text_outbox.clear()
    common.push_outbox.clear()
    yield
    common.text_outbox.clear()
    common.push_outbox.clear()


@pytest.fixture
def cart_trigger(db) -> Trigger:
    return Trigger.objects.create(key="abandoned_cart", name="Abandoned cart", status="ready")


@pytest.fixture
def contact(db) -> Contact:
    return Contact.objects.create(
        external_id="cust-42",
        email="ana@example.com",
        phone="+15551234567",
        push_token="",
        first_name="Ana",
        last_name="Silva",
        time_zone="Europe/Lisbon",
        attributes={"tier": "gold"},
    )


@pytest.fixture
def email(db) -> Email:
    return Email.objects.create(
        key="initial-email",
        name="Initial email",
        status=ContentStatus.READY,
        subject="{{ contact.first_name }}, you left {{ trigger.cart.items|length }} items behind",
        from_name="Shop",
        from_email="shop@example.com",
        html_body=HTML_BODY,
        text_body=TEXT_BODY,
    )


@pytest.fixture
def text(db) -> TextMessage:
    return TextMessage.objects.create(
        key="reminder-text",
        name="Reminder text",
        status=ContentStatus.READY,
        body="{{ contact.first_name }}, your cart of {{ trigger.cart_total }} is waiting.",
        sender="+15550000000",
    )


@pytest.fixture
def push(db) -> PushNotification:
    return PushNotification.objects.create(
        key="last-call-push",
        name="Last call push",
        status=ContentStatus.READY,
        title="Still thinking, {{ contact.first_name }}?",
        body="{{ trigger.cart_total }} in your cart",
        link_url="https://shop.example.com/cart",
    )


@pytest.fixture
def journey(db, cart_trigger) -> Journey:
    return Journey.objects.create(key="abandoned-cart", name="Abandoned cart", status=JourneyStatus.LIVE)


@pytest.fixture
def version(journey, cart_trigger) -> JourneyVersion:
    return JourneyVersion.objects.create(
        journey=journey, number=1, state=VersionState.PUBLISHED, start_trigger=cart_trigger, time_zone="Europe/Paris"
    )


@pytest.fixture
def cart_event(cart_trigger, contact) -> Event:
    return Event.objects.create(
        trigger=cart_trigger,
        source="web",
        event_id="cart-1",
        contact_key=contact.external_id,
        attributes={
            "cart_total": 59.9,
            "currency": "EUR",
            "cart": {"items": [{"name": "Blue mug"}, {"name": "Tea"}]},
        },
        binding_id="cart-1",
    )


@pytest.fixture
def participant(version, contact, cart_event) -> Participant:
    return Participant.objects.create(
        journey=version.journey, version=version, contact=contact, entry_event=cart_event, binding_id="cart-1"
    )


@pytest.fixture
def make_delivery(participant, contact) -> Callable[..., Delivery]:
    """A queued delivery of `content` at a new message step of the participant's journey."""

    def make(content, *, address: str | None = None, **fields) -> Delivery:
        kind = {"email": StepKind.EMAIL, "text": StepKind.TEXT, "push": StepKind.PUSH}[content.channel]
        step = Step.objects.create(
            version=participant.version, key=f"{content.key}-step", kind=kind, content=content, position=0
        )
        if address is None:
            address = {"email": contact.email, "text": contact.phone, "push": contact.push_token}[content.channel]
        return Delivery.objects.create(
            participant=participant,
            step=step,
            contact=contact,
            channel=content.channel,
            content=content,
            commercial=content.purpose == "commercial",
            address=address,
            **fields,
        )

    return make


@pytest.fixture
def three_deliveries(make_delivery, email, participant) -> list[Delivery]:
    """Three queued deliveries of `email` at one step, to three contacts: one chunk."""
    first = make_delivery(email)
    deliveries = [first]
    for name in ("ben", "cy"):
        other = Contact.objects.create(external_id=f"cust-{name}", email=f"{name}@example.com", first_name=name)
        joined = Participant.objects.create(
            journey=participant.journey, version=participant.version, contact=other, entry_event=participant.entry_event
        )
        deliveries.append(
            Delivery.objects.create(
                participant=joined,
                step=first.step,
                contact=other,
                channel="email",
                content=email,
                commercial=first.commercial,
                address=other.email,
            )
        )
    return deliveries


@pytest.fixture
def twilio():
    """A fake Twilio on loopback, and the text backend pointed at it (token "secret-token")."""
    from django.test import override_settings

    from .fake_providers import FakeTwilio, serve

    provider = FakeTwilio()
    with (
        serve(provider) as base_url,
        override_settings(
            TEXT_BACKEND="content.backends.twilio.TwilioTextBackend",
            TWILIO_BASE_URL=base_url,
            TWILIO_ACCOUNT_SID="AC123",
            TWILIO_AUTH_TOKEN="secret-token",
            TWILIO_FROM="+15550000000",
        ),
    ):
        yield provider
