"""GET /api/v1/journeys/KEY/analytics over real HTTP (the live server), with API keys made
by triggers.keys: the shape the issue gives, figures equal to counts of the tables, and
the refusals."""

import http.client
import json
from importlib import import_module
from urllib.parse import urlencode, urlsplit

import pytest
from django.apps import apps as django_apps

from journeys.models import Delivery, Participant, ParticipantHistory
from triggers.keys import create_api_key, revoke_api_keys
from triggers.models import ApiKey


@pytest.fixture(autouse=True)
def builtin_triggers(transactional_db):
    """Transactional tests start from empty tables: put back the rows migrations add."""
    import_module("triggers.migrations.0002_builtin_triggers").create_builtin_triggers(django_apps, None)


def get(live_server, path: str, key: str | None, params: dict | None = None) -> tuple[int, dict]:
    url = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        connection.request("GET", path + (f"?{urlencode(params)}" if params else ""), headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


PATH = "/api/v1/journeys/abandoned-cart/analytics"


def test_a_read_key_gets_the_figures_in_the_documented_shape(live_server, scenario):
    _, key = create_api_key("Reporting", scope="read", source="bi")

    status, body = get(live_server, PATH, key)

    assert status == 200
    assert list(body) == [
        "journey",
        "period",
        "entered",
        "active",
        "completed",
        "exited",
        "goal_met",
        "goal_percent",
        "goal_target_percent",
        "steps",
        "entries_over_time",
        "ab_tests",
    ]
    assert body["journey"] == "abandoned-cart"
    assert body["period"] == {
        "name": "7d",
        "since": "2026-11-18T09:00:00+00:00",
        "until": "2026-11-25T09:00:00+00:00",
        "version": None,
        "bucket": "day",
    }
    assert (body["entered"], body["active"], body["completed"], body["exited"]) == (9, 3, 4, 2)
    assert (body["goal_met"], body["goal_percent"], body["goal_target_percent"]) == (2, 22.2, 50)
    email = body["steps"][0]
    assert email == {
        "id": "initial-email",
        "type": "email",
        "inflow": 9,
        "processing": 0,
        "processed": 9,
        "exited": 0,
        "exit_reasons": {},
        "completed": 0,
        "paths": {},
        "messages": {
            "channel": "email",
            "sent": 8,
            "delivered": 0,
            "opened": 2,
            "clicked": 1,
            "bounced": 1,
            "blocked": {
                "no_address": 1,
                "unsubscribed": 0,
                "frequency_cap": 0,
                "content_not_ready": 0,
                "participant_left": 0,
            },
            "failed": 0,
            "queued": 0,
            "held": 0,
            "expired": 0,
        },
    }
    opened = next(step for step in body["steps"] if step["id"] == "opened")
    assert (opened["paths"], opened["exit_reasons"], opened["messages"]) == (
        {"yes": 2, "no": 5},
        {"exit_trigger": 1},
        None,
    )
    assert body["entries_over_time"][-4] == {"at": "2026-11-22T00:00:00+00:00", "entered": 8, "goal_met": 2}
    assert ApiKey.objects.get(name="Reporting").last_used_at is not None


def test_the_figures_are_counts_of_the_participants_and_deliveries_tables(live_server, scenario):
    _, key = create_api_key("Reporting", scope="read")

    _, body = get(live_server, PATH, key, {"period": "30d", "version": "1"})

    cohort = Participant.objects.filter(journey=scenario, version__number=1)  # all within 30 days
    assert body["entered"] == cohort.count() == 7  # "old" and the six of day one
    assert body["active"] == cohort.filter(state="active").count()
    assert body["goal_met"] == cohort.filter(goal_met_at__isnull=False).count()
    for step in body["steps"]:
        deliveries = Delivery.objects.filter(participant__in=cohort, step__key=step["id"])
        here = cohort.filter(current_step__key=step["id"])
        assert step["processing"] == here.filter(state="active").count(), step["id"]
        assert step["exited"] == here.filter(state__in=["exited", "stopped"]).count(), step["id"]
        reached = ParticipantHistory.objects.filter(participant__in=cohort, step__key=step["id"])
        assert step["inflow"] == reached.values("participant").distinct().count(), step["id"]
        if step["messages"] is not None:
            assert step["messages"]["sent"] == deliveries.filter(sent_at__isnull=False).count()
            assert step["messages"]["opened"] == deliveries.filter(opened_at__isnull=False).count()
            assert sum(step["messages"]["blocked"].values()) == deliveries.filter(status="blocked").count()
    assert "big-cart" not in {step["id"] for step in body["steps"]}  # a step of version 2 only


def test_keys_without_the_read_scope_and_revoked_keys_are_refused(live_server, scenario):
    _, writer = create_api_key("Website", scope="events:write")
    revoked, old = create_api_key("Old reporting", scope="read")
    revoke_api_keys(ApiKey.objects.filter(pk=revoked.pk))

    assert get(live_server, PATH, None)[0] == 401
    assert get(live_server, PATH, "not-a-key")[0] == 401
    status, body = get(live_server, PATH, writer)
    assert (status, body["code"], body["message"]) == (403, "permission_denied", "This API key lacks the 'read' scope.")
    status, body = get(live_server, PATH, old)
    assert status == 401 and "revoked" in body["message"]


def test_bad_parameters_and_unknown_journeys_are_answered_with_the_reason(live_server, scenario):
    _, key = create_api_key("Reporting", scope="read")

    status, body = get(live_server, PATH, key, {"period": "custom", "since": "2026-11-20", "until": "2026-11-01"})
    assert (status, body["code"], body["errors"]) == (
        400,
        "invalid_parameters",
        [{"field": "until", "code": "invalid", "message": "The last day must not be before the first day."}],
    )
    status, body = get(live_server, PATH, key, {"version": "7"})
    assert status == 400 and [error["field"] for error in body["errors"]] == ["version"]
    assert get(live_server, "/api/v1/journeys/nope/analytics", key)[0] == 404
