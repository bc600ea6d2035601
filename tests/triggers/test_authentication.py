"""API keys: Bearer authentication, scopes, revocation, last-used time, the command."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from rest_framework.test import APIClient

from triggers.api.authentication import LAST_USED_PRECISION
from triggers.keys import create_api_key, revoke_api_keys
from triggers.models import ApiKey, hash_api_key

from .conftest import cart_event, nothing_stored, post

URL = "/api/v1/events"


def _client(authorization: str | None) -> APIClient:
    client = APIClient()
    if authorization is not None:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    return client


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "not_authenticated"),
        ("Bearer jk_not-a-real-key", "invalid_api_key"),
        ("Bearer", "malformed_authorization"),
        ("Bearer a b", "malformed_authorization"),
    ],
)
def test_a_request_without_a_valid_key_is_a_401(cart_trigger, authorization, code):
    response = post(_client(authorization), URL, cart_event())

    assert response.status_code == 401
    assert response.json()["code"] == code
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert nothing_stored()


def test_a_revoked_key_is_refused(website, website_key, cart_trigger):
    with time_machine.travel("2026-11-28 10:00Z"):
        revoke_api_keys(ApiKey.objects.filter(pk=website_key[0].pk))

    response = post(website, URL, cart_event())

    assert response.status_code == 401
    assert response.json() == {
        "code": "revoked_api_key",
        "message": "This API key was revoked on 2026-11-28 10:00 UTC.",
    }
    assert nothing_stored()


def test_a_read_key_cannot_raise_triggers(cart_trigger):
    _, raw = create_api_key("Reports", scope="read")

    response = post(_client(f"Bearer {raw}"), URL, cart_event())

    assert response.status_code == 403
    assert response.json() == {"code": "permission_denied", "message": "This API key lacks the 'events:write' scope."}
    assert nothing_stored()


def test_last_used_is_written_at_most_once_a_minute(website, website_key, cart_trigger):
    api_key = website_key[0]
    with time_machine.travel("2026-11-28 12:00:00Z", tick=False):
        post(website, URL, cart_event(event_id="1"))
    api_key.refresh_from_db()
    assert api_key.last_used_at == datetime(2026, 11, 28, 12, tzinfo=UTC)
    first = api_key.last_used_at

    with time_machine.travel(first + LAST_USED_PRECISION - timedelta(seconds=1), tick=False):
        post(website, URL, cart_event(event_id="2"))
    api_key.refresh_from_db()
    assert api_key.last_used_at == first

    with time_machine.travel(first + LAST_USED_PRECISION, tick=False):
        post(website, URL, cart_event(event_id="3"))
    api_key.refresh_from_db()
    assert api_key.last_used_at == first + LAST_USED_PRECISION


def test_the_command_prints_a_working_key_alone_on_its_last_line(capsys, cart_trigger):
    call_command("create_api_key", "Shop website", "--scope", "events:write", "--source", "shop")

    raw = capsys.readouterr().out.strip().splitlines()[-1]
    api_key = ApiKey.objects.get()
    assert api_key.hashed_key == hash_api_key(raw)
    assert (api_key.name, api_key.scope, api_key.source, api_key.prefix) == (
        "Shop website",
        "events:write",
        "shop",
        raw[:11],
    )
    assert post(_client(f"Bearer {raw}"), URL, cart_event()).status_code == 202


def test_only_the_hash_of_a_key_is_stored(website_key):
    api_key, raw = website_key

    stored = ApiKey.objects.filter(pk=api_key.pk).values()[0]
    assert raw not in [str(value) for value in stored.values()]
    assert stored["hashed_key"] == hash_api_key(raw)
