"""The webhook step and message expiry in the designer (test client): offered, checked
field by field, saved, exported."""

import json

import pytest

from journeys.bundles import export_bundle

from .helpers import add_step, create, url

pytestmark = pytest.mark.django_db

BODY = {"contact": "{{ contact.id }}", "total": "{{ trigger.cart_total }}"}


def test_a_marketer_adds_a_webhook_step(client, marketer, catalogue):
    client.force_login(marketer)
    journey = create(client)

    assert "Call a webhook" in client.get(url("add_step", journey.pk)).content.decode()
    form = client.get(url("add_step", journey.pk) + "?kind=webhook").content.decode()
    assert all(f'name="{name}"' in form for name in ("url", "method", "body", "timeout"))

    step_id = add_step(
        client,
        journey,
        "",
        "",
        0,
        "webhook",
        url="https://crm.example.com/hook",
        method="POST",
        body=json.dumps(BODY),
        timeout="10s",
    )

    assert step_id == "webhook-crm"
    assert export_bundle([journey.key])["journeys"][0]["steps"] == [
        {
            "id": step_id,
            "type": "webhook",
            "url": "https://crm.example.com/hook",
            "method": "POST",
            "body": BODY,
            "timeout": "10s",
        }
    ]
    assert "POST https://crm.example.com/hook" in client.get(url("change", journey.pk)).content.decode()


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"url": "ftp://crm.example.com"}, "url", "The URL must start with https:// or http://."),
        ({"body": "{nope"}, "body", "The body is not JSON: Expecting property name enclosed in double quotes"),
        ({"body": "[1, 2]"}, "body", "The body must be a JSON object."),
        ({"body": "[" * 100_000 + "]" * 100_000}, "body", "The body is nested too deep: at most 5 levels."),
        ({"body": '{"a": "{% if %}"}'}, "body", "The body at a template error:"),
        ({"method": "GET"}, "body", "A GET request sends no body: leave it empty or choose POST."),
        ({"timeout": "2m"}, "timeout", "The timeout must be from 1s to 30s."),
        ({"timeout": "later"}, "timeout", "The timeout 'later' is not a duration"),
    ],
)
def test_each_webhook_field_says_what_is_wrong(client, marketer, catalogue, fields, field, message):
    client.force_login(marketer)
    journey = create(client)
    data = {
        "parent": "",
        "path": "",
        "position": 0,
        "kind": "webhook",
        "url": "https://crm.example.com/hook",
        "method": "POST",
        "body": json.dumps(BODY),
        "timeout": "10s",
        **fields,
    }

    response = client.post(url("add_step", journey.pk), data)

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert errors[field][0].startswith(message), errors[field][0]
    assert export_bundle([journey.key])["journeys"][0]["steps"] == []


def test_a_message_step_takes_an_expiry(client, marketer, catalogue):
    client.force_login(marketer)
    journey = create(client)

    add_step(
        client, journey, "", "", 0, "email", content="initial-email-reminder", to="contact.email", expires_after="48h"
    )
    response = client.post(
        url("add_step", journey.pk),
        {
            "parent": "",
            "path": "",
            "position": 1,
            "kind": "email",
            "content": "initial-email-reminder",
            "to": "contact.email",
            "expires_after": "soon",
        },
    )

    assert response.context["form"].errors["expires_after"] == [
        "'soon' is not a duration: use 30s, 15m, 2h, 1d, 2w or ISO 8601 like P1D."
    ]
    (step,) = export_bundle([journey.key])["journeys"][0]["steps"]
    assert step["expires_after"] == "2d"
    assert "expires after 2d" in client.get(url("change", journey.pk)).content.decode()
