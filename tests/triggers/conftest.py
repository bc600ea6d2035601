"""Fixtures for the ingest API: a website's API key, its client, and an Abandoned cart trigger."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from triggers.keys import create_api_key
from triggers.models import ApiKey, AttributeType, Event, Trigger, TriggerAttribute, TriggerStatus


@pytest.fixture
def cart_trigger(db) -> Trigger:
    trigger = Trigger.objects.create(key="abandoned_cart", name="Abandoned cart", status=TriggerStatus.READY)
    for position, (name, type_, required) in enumerate(
        [
            ("cart_total", AttributeType.NUMBER, True),
            ("cart", AttributeType.OBJECT, False),
            ("cart.items", AttributeType.NUMBER, True),
            ("cart.currency", AttributeType.TEXT, False),
            ("coupon", AttributeType.TEXT, False),
            ("first_seen", AttributeType.DATETIME, False),
            ("gift", AttributeType.BOOLEAN, False),
            ("skus", AttributeType.LIST, False),
        ]
    ):
        TriggerAttribute.objects.create(trigger=trigger, name=name, type=type_, required=required, position=position)
    return trigger


@pytest.fixture
def website_key(db) -> tuple[ApiKey, str]:
    return create_api_key("Shop website", scope="events:write", source="shop")


@pytest.fixture
def website(website_key) -> APIClient:
    """The shop's website, calling the API with its events:write key."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {website_key[1]}")
    return client


def cart_event(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "trigger": "abandoned_cart",
        "event_id": "2f6c0b9e-1",
        "contact": {"id": "cust-42", "email": "ana@example.com", "phone": "+15551234567"},
        "attributes": {"cart_total": 80.5, "cart": {"items": 3, "currency": "EUR"}},
        "timestamp": "2026-11-28T12:00:00Z",
        "binding_id": "cart/981",
    }
    event.update(overrides)
    return event


def post(client: APIClient, path: str, body: Any, **extra: Any):
    return client.post(path, body, format="json", **extra)


def nothing_stored() -> bool:
    return not Event.objects.exclude(source="internal").exists()
