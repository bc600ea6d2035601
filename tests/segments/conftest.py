"""A VIP segment, a staff list, and a segment-based journey that sends a welcome email."""

from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def vip_bundle(**start: Any) -> dict:
    journey: dict[str, Any] = {
        "key": "vip-welcome",
        "name": "VIP welcome",
        "type": "segment",
        "time_zone": "Europe/Paris",
        "start": {"segment": "vip", "mode": "one_time", **start},
        "exclude": {"segments": ["staff"]},
        "steps": [{"id": "welcome", "type": "email", "content": "vip-email"}],
    }
    return {
        "segments": [
            {
                "key": "vip",
                "name": "VIP customers",
                "conditions": [{"attribute": "contact.attributes.tier", "operator": "=", "value": "gold"}],
            },
            {"key": "staff", "name": "Staff", "static": True},
        ],
        "content": [
            {
                "key": "vip-email",
                "channel": "email",
                "name": "VIP welcome",
                "status": "ready",
                "subject": "Welcome, {{ contact.first_name }}",
                "from_email": "shop@example.com",
                "html": '<p>Welcome to VIP</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
                "text": "Welcome to VIP. Unsubscribe: {{ unsubscribe_url }}",
            }
        ],
        "journeys": [journey],
    }


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run what a block enqueues after commit (django-q2 runs tasks inline in tests)."""

    def _run():
        return django_capture_on_commit_callbacks(execute=True)

    return _run
