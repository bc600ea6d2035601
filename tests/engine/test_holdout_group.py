"""The holdout group: a stable share of a journey's entrants walks it without messages or
raised triggers, as a control for the goal; the reports show the lift."""

import pytest
from django.core import mail
from rest_framework.test import APIClient

from journeys.bundles import export_bundle, import_bundle
from journeys.definition import BundleError, Catalogue, parse_bundle
from journeys.holdout import in_holdout
from journeys.models import Delivery, Journey, Participant, ParticipantGroup
from triggers.keys import create_api_key
from triggers.models import Event

PEOPLE = [f"cust-{n}" for n in range(60)]


def test_the_share_in_holdout_is_close_to_the_percent_over_many_contacts():
    for percent in (1, 10, 25, 50):
        share = sum(in_holdout("abandoned-cart", f"c{n}", percent) for n in range(20_000)) / 20_000
        assert abs(share - percent / 100) < 0.01, (percent, share)


def test_a_contact_is_always_in_the_same_group_of_a_journey():
    groups = [in_holdout("abandoned-cart", "cust-7", 30) for _ in range(5)]
    assert len(set(groups)) == 1
    # Nested by percent: raising the share only adds people to the holdout group.
    assert all(in_holdout("j", f"c{n}", 20) for n in range(2000) if in_holdout("j", f"c{n}", 10))
    # Another journey draws its own groups.
    assert [in_holdout("a", f"c{n}", 50) for n in range(200)] != [in_holdout("b", f"c{n}", 50) for n in range(200)]
    assert not any(in_holdout("j", f"c{n}", 0) for n in range(1000))


@pytest.fixture
def holdout_journey(db, clock, seed_bundle) -> Journey:
    seed_bundle["journeys"][0]["holdout_percent"] = 50
    import_bundle(seed_bundle, publish_journeys=True)
    return Journey.objects.get(key="abandoned-cart")


def enter_everyone(raise_event) -> None:
    for key in PEOPLE:
        raise_event("abandoned_cart", {"id": key, "email": f"{key}@example.com"}, {"cart_total": 80})


def test_holdout_participants_get_no_message_and_the_others_do(holdout_journey, raise_event):
    enter_everyone(raise_event)

    held = Participant.objects.filter(group=ParticipantGroup.HOLDOUT)
    treated = Participant.objects.filter(group=ParticipantGroup.TREATMENT)
    assert {p.contact.external_id for p in held} == {k for k in PEOPLE if in_holdout("abandoned-cart", k, 50)}
    assert 0 < held.count() < len(PEOPLE)
    assert not Delivery.objects.filter(participant__in=held).exists()
    assert Delivery.objects.filter(participant__in=treated).count() == treated.count()
    assert sorted(m.to[0] for m in mail.outbox) == sorted(f"{p.contact.external_id}@example.com" for p in treated)
    for participant in held:
        row = participant.history.get(step_key="initial-email")
        assert (row.outcome, row.detail) == ("held_out", {"kind": "email"})
        assert participant.current_step.key == "opened"  # walks on like everyone
    assert not Delivery.objects.filter(status="blocked").exists()


def test_the_goal_is_tracked_for_both_groups(holdout_journey, raise_event, clock):
    enter_everyone(raise_event)
    clock.shift(3600)
    buyers = PEOPLE[:30]
    for key in buyers:
        raise_event("purchase_completed", {"id": key}, {"order_total": 80})

    met = Participant.objects.filter(goal_met_at__isnull=False)
    assert sorted(p.contact.external_id for p in met) == sorted(buyers)
    assert {p.group for p in met} == {ParticipantGroup.HOLDOUT, ParticipantGroup.TREATMENT}


def test_a_holdout_participant_raises_no_trigger(db, clock, seed_bundle, raise_event):
    seed_bundle["triggers"].append({"key": "flagged", "name": "Flagged", "status": "ready", "attributes": []})
    seed_bundle["journeys"][0]["holdout_percent"] = 50
    seed_bundle["journeys"][0]["steps"].insert(
        0, {"id": "flag", "type": "raise_trigger", "trigger": "flagged", "attributes": {}}
    )
    import_bundle(seed_bundle, publish_journeys=True)

    enter_everyone(raise_event)

    raised = set(Event.objects.filter(trigger__key="flagged").values_list("contact_key", flat=True))
    assert raised == {k for k in PEOPLE if not in_holdout("abandoned-cart", k, 50)}


def test_the_participants_api_shows_the_group(holdout_journey, raise_event):
    enter_everyone(raise_event)
    _, raw = create_api_key("read key", scope="read", source="shop")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    results = client.get("/api/v1/participants/", {"journey": "abandoned-cart", "page_size": 100}).json()["results"]

    assert {r["contact"]: r["group"] for r in results} == {
        k: "holdout" if in_holdout("abandoned-cart", k, 50) else "treatment" for k in PEOPLE
    }


def test_the_analytics_api_shows_the_goal_per_group_and_the_lift(holdout_journey, raise_event, clock):
    enter_everyone(raise_event)
    clock.shift(3600)
    for key in PEOPLE:
        if not in_holdout("abandoned-cart", key, 50) or key in PEOPLE[:6]:
            raise_event("purchase_completed", {"id": key}, {})
    _, raw = create_api_key("read key", scope="read", source="bi")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    body = client.get("/api/v1/journeys/abandoned-cart/analytics").json()

    holdout = body["holdout"]
    treated = [k for k in PEOPLE if not in_holdout("abandoned-cart", k, 50)]
    held = [k for k in PEOPLE if in_holdout("abandoned-cart", k, 50)]
    held_met = len([k for k in held if k in PEOPLE[:6]])
    assert holdout["treatment"] == {"entered": len(treated), "goal_met": len(treated), "goal_percent": 100.0}
    assert holdout["holdout"]["entered"] == len(held)
    assert holdout["holdout"]["goal_met"] == held_met
    from analytics.lift import newcombe

    difference, low, high = newcombe(len(treated), len(treated), held_met, len(held))
    assert holdout["lift_points"] == round(difference * 100, 2)
    assert holdout["confidence_interval_points"] == [round(low * 100, 2), round(high * 100, 2)]
    assert holdout["significant"] is True


def test_holdout_percent_in_the_format(seed_bundle):
    seed_bundle["journeys"][0]["holdout_percent"] = 51
    with pytest.raises(BundleError) as caught:
        parse_bundle(seed_bundle)
    problem = next(p for p in caught.value.problems if p.path.parts[-1] == "holdout_percent")
    assert (str(problem.path), problem.code, problem.message) == (
        "journeys[0].holdout_percent",
        "invalid",
        "must be a whole number from 0 to 50",
    )
    seed_bundle["journeys"][0]["holdout_percent"] = 10
    catalogue = Catalogue(trigger_schemas={"email_opened": {}})
    assert parse_bundle(seed_bundle, catalogue).journeys[0].holdout_percent == 10


def test_holdout_percent_round_trips_through_export(holdout_journey):
    exported = export_bundle(["abandoned-cart"])

    assert exported["journeys"][0]["holdout_percent"] == 50
    assert holdout_journey.versions.get().holdout_percent == 50
