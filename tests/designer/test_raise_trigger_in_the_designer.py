"""The raise-a-trigger step and the holdout group in the designer (test client)."""

import json

import pytest

from journeys.bundles import export_bundle
from triggers.models import Trigger

from .helpers import add_step, create, settings_post, url

pytestmark = pytest.mark.django_db


def test_a_marketer_adds_a_raise_step_with_attributes(client, marketer, catalogue):
    client.force_login(marketer)
    journey = create(client)

    assert "Raise a trigger" in client.get(url("add_step", journey.pk)).content.decode()
    form = client.get(url("add_step", journey.pk) + "?kind=raise_trigger").content.decode()
    assert 'name="attributes"' in form and 'name="trigger"' in form

    step_id = add_step(
        client,
        journey,
        "",
        "",
        0,
        "raise_trigger",
        trigger="purchase_completed",
        attributes=json.dumps({"order_total": "{{ trigger.cart_total }}"}),
    )

    assert step_id == "raise-purchase-completed"
    assert export_bundle([journey.key])["journeys"][0]["steps"] == [
        {
            "id": step_id,
            "type": "raise_trigger",
            "trigger": "purchase_completed",
            "attributes": {"order_total": "{{ trigger.cart_total }}"},
        }
    ]
    assert "Raise Purchase completed with order_total" in client.get(url("change", journey.pk)).content.decode()


def test_the_form_names_the_attribute_and_the_rule(client, marketer, catalogue):
    client.force_login(marketer)
    journey = create(client)

    response = client.post(
        url("add_step", journey.pk),
        {
            "parent": "",
            "path": "",
            "position": 0,
            "kind": "raise_trigger",
            "trigger": "purchase_completed",
            "attributes": json.dumps({"total": "1", "order_total": "{% if %}"}),
        },
    )

    assert response.status_code == 200
    errors = response.context["form"].errors["attributes"]
    assert errors[0] == ("total: the trigger 'purchase_completed' has no attribute 'total' (it has: order_total)")
    assert errors[1].startswith("order_total: the template does not compile:")
    assert export_bundle([journey.key])["journeys"][0]["steps"] == []


def test_the_designer_refuses_raising_the_start_trigger(client, marketer, catalogue):
    client.force_login(marketer)
    journey = create(client)

    response = client.post(
        url("add_step", journey.pk),
        {
            "parent": "",
            "path": "",
            "position": 0,
            "kind": "raise_trigger",
            "trigger": "abandoned_cart",
            "attributes": "{}",
        },
    )

    assert response.status_code == 200
    assert "a journey cannot raise its own start trigger" in response.content.decode()
    assert export_bundle([journey.key])["journeys"][0]["steps"] == []


def test_the_holdout_share_is_a_journey_setting(client, marketer, catalogue):
    client.force_login(marketer)
    journey = create(client)
    start = Trigger.objects.get(key="abandoned_cart").pk

    refused = client.post(url("settings", journey.pk), settings_post(start_trigger=start, holdout_percent="60"))
    assert refused.status_code == 200
    assert refused.context["form"].errors["holdout_percent"] == ["Ensure this value is less than or equal to 50."]

    saved = client.post(url("settings", journey.pk), settings_post(start_trigger=start, holdout_percent="10"))
    assert saved.status_code == 302
    assert export_bundle([journey.key])["journeys"][0]["holdout_percent"] == 10
    assert journey.versions.get().holdout_percent == 10
    assert "10 % of people get no messages" in client.get(url("change", journey.pk)).content.decode()
