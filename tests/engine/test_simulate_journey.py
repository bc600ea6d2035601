"""simulate_journey: a virtual clock, nothing kept, nothing sent."""

import json

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from journeys.demo import SEED_BUNDLE
from journeys.models import Contact, Delivery, Participant
from triggers.models import Event

CONTACT = '{"id": "t1", "email": "t1@example.com", "phone": "+15550001", "push_token": "tok"}'


def _run(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("simulate_journey", *args, stdout=out)
    return out.getvalue()


def test_a_purchase_after_30_hours_ends_the_journey_after_the_text(seed_journey):
    out = _run(
        "abandoned-cart",
        "--contact",
        CONTACT,
        "--event",
        '0s abandoned_cart {"cart_total": 80}',
        "--event",
        "30h purchase_completed {}",
        "--json",
    )

    timeline = [(e["at"], e["step"], e["outcome"]) for e in json.loads(out)]
    assert timeline == [
        ("+0s", "", "entered"),
        ("+0s", "initial-email", "sent"),
        ("+0s", "opened", "waiting"),
        ("+1d", "opened", "no"),
        ("+1d", "second-text", "sent"),
        ("+1d", "wait-a-day", "waiting"),
        ("+1d6h", "wait-a-day", "goal_met"),
        ("+1d6h", "wait-a-day", "exited"),
    ]


def test_nothing_is_kept_and_nothing_is_sent(seed_journey):
    _run("abandoned-cart", "--contact", CONTACT, "--event", '0s abandoned_cart {"cart_total": 80}')

    assert not Participant.objects.exists()
    assert not Delivery.objects.exists()
    assert not Event.objects.exists()
    assert not Contact.objects.exists()
    assert mail.outbox == []


def test_a_bundle_file_runs_without_being_imported(db):
    out = _run(
        str(SEED_BUNDLE),
        "--contact",
        CONTACT,
        "--event",
        '0s abandoned_cart {"cart_total": 80}',
        "--event",
        "2h email_opened {}",
    )

    assert "opened               yes" in out
    assert "second-text" not in out
    assert not Event.objects.exists()


def test_a_cart_under_50_does_not_enter(seed_journey):
    out = _run("abandoned-cart", "--contact", CONTACT, "--event", '0s abandoned_cart {"cart_total": 40}')

    assert out.strip() == "The contact did not enter the journey."


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ("soon abandoned_cart {}", "offset 'soon' is not a duration"),
        ("1h nope {}", "unknown trigger 'nope'"),
        ("1h abandoned_cart {oops", "attributes are not JSON"),
    ],
)
def test_bad_events_are_explained(seed_journey, event, message):
    with pytest.raises(CommandError, match=message):
        _run("abandoned-cart", "--contact", CONTACT, "--event", event)
