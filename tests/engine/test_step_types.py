"""Branches, random splits, waits until a date, and addresses taken from the trigger."""

import hashlib
from datetime import timedelta

import pytest

from journeys.bundles import import_bundle
from journeys.models import Delivery, Participant
from journeys.steps.paths import split_bucket


@pytest.fixture
def branching_journey(db, clock, seed_bundle):
    seed_bundle["journeys"][0]["steps"] = [
        {
            "id": "by-value",
            "type": "branch",
            "paths": [
                {
                    "name": "Big carts",
                    "conditions": [{"attribute": "trigger.cart_total", "operator": ">=", "value": 500}],
                    "steps": [
                        {"id": "big-email", "type": "email", "content": "initial-email-reminder", "to": "contact.email"}
                    ],
                },
                {
                    "name": "VIPs",
                    "conditions": [{"attribute": "contact.tier", "operator": "=", "value": "vip"}],
                    "steps": [
                        {"id": "vip-text", "type": "text", "content": "second-text-reminder", "to": "contact.phone"}
                    ],
                },
            ],
            "otherwise": [
                {"id": "until-xmas", "type": "wait", "until": "2026-12-24T09:00:00+01:00"},
                {"id": "xmas-push", "type": "push", "content": "final-push-notification", "to": "trigger.device"},
            ],
        },
        {
            "id": "ab",
            "type": "split",
            "paths": [
                {"name": "A", "percent": 50, "steps": [{"id": "a-wait", "type": "wait", "duration": "1h"}]},
                {"name": "B", "percent": 50, "steps": [{"id": "b-wait", "type": "wait", "duration": "2h"}]},
            ],
        },
    ]
    seed_bundle["triggers"][0]["attributes"].append({"name": "device", "type": "text", "required": False})
    import_bundle(seed_bundle, publish_journeys=True)


def _outcomes(contact: str) -> list[tuple[str, str]]:
    participant = Participant.objects.get(contact__external_id=contact)
    return list(participant.history.order_by("at", "pk").values_list("step_key", "outcome"))


def test_the_first_matching_branch_path_wins(branching_journey, raise_event):
    raise_event("abandoned_cart", {"id": "big", "email": "big@example.com"}, {"cart_total": 600})

    assert ("big-email", "sent") in _outcomes("big")
    assert Participant.objects.get().history.get(step_key="by-value").detail == {"path": 0, "name": "Big carts"}


def test_a_branch_reads_contact_attributes(branching_journey, raise_event):
    raise_event(
        "abandoned_cart", {"id": "vip", "phone": "+15550001", "attributes": {"tier": "vip"}}, {"cart_total": 80}
    )

    assert ("vip-text", "sent") in _outcomes("vip")


def test_otherwise_waits_until_the_date_then_sends_to_the_address_in_the_trigger(
    branching_journey, raise_event, run_sweep, clock
):
    raise_event("abandoned_cart", {"id": "plain"}, {"cart_total": 80, "device": "tok-from-trigger"})
    participant = Participant.objects.get()
    assert participant.current_step.key == "until-xmas"
    assert participant.wake_at.isoformat() == "2026-12-24T08:00:00+00:00"

    clock.move_to("2026-12-24T08:00:01Z")
    run_sweep()

    push = Delivery.objects.get(step__key="xmas-push")
    assert (push.address, push.status) == ("tok-from-trigger", "sent")


def test_a_date_already_passed_continues_at_once(branching_journey, raise_event, clock):
    clock.move_to("2026-12-25T00:00:00Z")
    raise_event("abandoned_cart", {"id": "late"}, {"cart_total": 80, "device": "tok"})

    assert ("until-xmas", "waited") in _outcomes("late")
    assert Delivery.objects.get(step__key="xmas-push").status == "sent"


def test_a_split_is_stable_and_splits_evenly():
    buckets = [split_bucket(participant_id, "ab") for participant_id in range(10_000)]

    assert buckets == [split_bucket(participant_id, "ab") for participant_id in range(10_000)]
    share_a = sum(1 for b in buckets if b < 50) / len(buckets)
    assert 0.47 < share_a < 0.53


def test_a_participant_takes_its_split_path_and_paths_join_again(branching_journey, raise_event, run_sweep, clock):
    raise_event("abandoned_cart", {"id": "s1", "email": "s1@example.com"}, {"cart_total": 600})
    participant = Participant.objects.get()
    # The documented rule (docs/journey-format.md), computed here rather than by the engine.
    bucket = int.from_bytes(hashlib.sha256(f"{participant.pk}:ab".encode()).digest()[:8], "big") % 100
    expected = "a-wait" if bucket < 50 else "b-wait"
    assert participant.current_step.key == expected

    clock.shift(timedelta(hours=3))
    run_sweep()

    participant.refresh_from_db()
    assert participant.state == "completed"
