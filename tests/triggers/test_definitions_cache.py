"""With Redis, each web process keeps API keys and trigger schemas between requests, and a
change made anywhere is seen by every process from the next request on (triggers.caching).

These tests commit (transaction=True), as production does: the cache stores nothing inside
a transaction. "Another process" is simulated by keeping this process's copies when the
change is announced, so only the token in Redis can tell this process about it.
"""

import base64
import uuid

import pytest
import redis
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from redis.connection import AbstractConnection
from rest_framework.test import APIClient

from triggers import caching
from triggers.definitions import mark_triggers_ready
from triggers.keys import revoke_api_keys
from triggers.models import ApiKey, AttributeType, Event, Trigger, TriggerAttribute, TriggerStatus
from triggers.schemas import load_schemas
from triggers.signals import events_stored

from .conftest import cart_event, post

URL = "/api/v1/events"
REDIS_TEST_URL = "redis://127.0.0.1:6379/14"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def shared_redis(settings):
    client = redis.Redis.from_url(REDIS_TEST_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("Redis is not running at 127.0.0.1:6379")
    prefix = f"test-{uuid.uuid4().hex}:"
    settings.REDIS_URL = REDIS_TEST_URL
    settings.RATE_LIMIT_PREFIX = prefix
    settings.TRIGGERS_CACHE_PREFIX = prefix
    caching.API_KEYS.clear()
    caching.TRIGGER_SCHEMAS.clear()
    yield client
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


@pytest.fixture
def elsewhere(monkeypatch):
    """Run a change as another web process would: this process's copies are not dropped."""

    class Elsewhere:
        def __enter__(self):
            monkeypatch.setattr(caching.VersionedCache, "clear", lambda self: None)

        def __exit__(self, *exc):
            monkeypatch.undo()

    return Elsewhere()


def statements(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"].split()[0].upper() for q in queries.captured_queries]


def test_a_known_key_and_schema_cost_no_query_the_event_is_the_only_one(website, cart_trigger, monkeypatch):
    post(website, URL, cart_event(event_id="warm"))  # Loads the key and the schema, writes last_used_at.
    announced = []  # The journeys' processing (run inline by the tests' queue) is not the request's.
    monkeypatch.setattr(events_stored, "send", lambda sender, event_ids: announced.append(event_ids))

    with CaptureQueriesContext(connection) as queries:
        response = post(website, URL, cart_event(event_id="measured"))

    assert response.status_code == 202
    assert statements(queries) == ["INSERT"], [q["sql"][:80] for q in queries.captured_queries]
    assert announced == [[response.json()["id"]]]


def test_the_key_is_checked_in_the_rate_limits_round_trip_the_only_one_to_redis(website, cart_trigger, monkeypatch):
    post(website, URL, cart_event(event_id="warm"))
    commands = []
    original = AbstractConnection.send_packed_command

    def recording(connection, command, *args, **options):
        # What goes over the wire, whichever way the client sent it: "*N\r\n$len\r\nNAME\r\n…"
        first = command if isinstance(command, bytes | str) else command[0]
        commands.append((first.encode() if isinstance(first, str) else first).split(b"\r\n")[2].decode().upper())
        return original(connection, command, *args, **options)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", recording)
    response = post(website, URL, cart_event(event_id="measured"))

    assert response.status_code == 202
    # No GET of the token: the rate limit's script returns it (the queue's own commands aside).
    assert [c for c in commands if c in ("GET", "EVALSHA", "EVAL", "SET")] == ["EVALSHA"]


def test_a_key_revoked_in_another_process_is_refused_by_the_next_request(website, website_key, cart_trigger, elsewhere):
    assert post(website, URL, cart_event(event_id="before")).status_code == 202

    with elsewhere:
        revoke_api_keys(ApiKey.objects.filter(pk=website_key[0].pk))
    response = post(website, URL, cart_event(event_id="after"))

    assert response.status_code == 401
    assert response.json()["code"] == "revoked_api_key"


def test_a_key_revoked_in_another_process_is_refused_even_with_a_malformed_body(
    website, website_key, cart_trigger, elsewhere
):
    assert post(website, URL, cart_event(event_id="before")).status_code == 202

    with elsewhere:
        revoke_api_keys(ApiKey.objects.filter(pk=website_key[0].pk))
    response = website.post(URL, "{not json", content_type="application/json")

    assert response.status_code == 401
    assert response.json()["code"] == "revoked_api_key"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_key_given_the_events_scope_in_another_process_is_accepted_from_the_next_request(
    website, website_key, cart_trigger, elsewhere
):
    ApiKey.objects.filter(pk=website_key[0].pk).update(scope="read")
    caching.definitions_changed()
    assert post(website, URL, cart_event(event_id="read")).status_code == 403

    with elsewhere:
        key = ApiKey.objects.get(pk=website_key[0].pk)
        key.scope = "events:write"
        key.save()

    assert post(website, URL, cart_event(event_id="write")).status_code == 202


def test_a_key_moved_to_the_read_scope_in_another_process_is_refused_from_the_next_request(
    website, website_key, cart_trigger, elsewhere
):
    assert post(website, URL, cart_event(event_id="before")).status_code == 202

    with elsewhere:
        key = ApiKey.objects.get(pk=website_key[0].pk)
        key.scope = "read"
        key.save()
    response = post(website, URL, cart_event(event_id="after"))

    assert response.status_code == 403
    assert Event.objects.filter(event_id="after").exists() is False


def test_a_segment_write_key_revoked_in_another_process_is_refused(website_key, cart_trigger, elsewhere):
    segment = APIClient()
    segment.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{website_key[1]}:".encode()).decode())
    track = {"type": "track", "event": "abandoned_cart", "userId": "cust-42", "properties": {"cart_total": 1}}
    assert segment.post("/api/segment/v1/track", {**track, "messageId": "m1"}, format="json").status_code == 200

    with elsewhere:
        revoke_api_keys(ApiKey.objects.filter(pk=website_key[0].pk))
    response = segment.post("/api/segment/v1/track", {**track, "messageId": "m2"}, format="json")

    assert response.status_code == 401
    assert not Event.objects.filter(event_id="m2").exists()


def test_without_an_announcement_the_cached_key_would_still_be_used(website, website_key, cart_trigger):
    """The control of the test above: the cache is really in use, and the token is what ends it."""
    assert post(website, URL, cart_event(event_id="before")).status_code == 202

    ApiKey.objects.filter(pk=website_key[0].pk).update(scope="read")  # No signal, no announcement.
    assert post(website, URL, cart_event(event_id="stale")).status_code == 202

    caching.definitions_changed()
    assert post(website, URL, cart_event(event_id="after")).status_code == 403


def test_a_limit_edited_in_another_process_applies_to_the_next_request(website, website_key, cart_trigger, elsewhere):
    assert post(website, URL, cart_event(event_id="before")).status_code == 202

    with elsewhere:
        key = ApiKey.objects.get(pk=website_key[0].pk)
        key.rate_per_second, key.burst = 1, 1
        key.save()
    responses = [post(website, URL, cart_event(event_id=f"after-{n}")).status_code for n in range(3)]

    assert responses[0] == 202 and 429 in responses


def test_an_attribute_added_in_another_process_is_required_from_the_next_request(website, cart_trigger, elsewhere):
    assert post(website, URL, cart_event(event_id="before")).status_code == 202

    with elsewhere:
        TriggerAttribute.objects.create(
            trigger=cart_trigger, name="store", type=AttributeType.TEXT, required=True, position=9
        )
    response = post(website, URL, cart_event(event_id="after"))

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["attributes.store"]


def test_a_trigger_marked_ready_in_another_process_is_accepted_from_the_next_request(website, cart_trigger, elsewhere):
    Trigger.objects.filter(pk=cart_trigger.pk).update(status=TriggerStatus.DRAFT)
    caching.definitions_changed()
    assert post(website, URL, cart_event(event_id="draft")).status_code == 400

    with elsewhere:
        mark_triggers_ready(Trigger.objects.filter(pk=cart_trigger.pk))

    assert post(website, URL, cart_event(event_id="ready")).status_code == 202


def test_an_unknown_trigger_created_in_another_process_is_known_from_the_next_request(website, elsewhere):
    assert post(website, URL, cart_event(event_id="unknown")).status_code == 400

    with elsewhere:
        trigger = Trigger.objects.create(key="abandoned_cart", name="Abandoned cart", status=TriggerStatus.READY)
        TriggerAttribute.objects.create(trigger=trigger, name="cart_total", type=AttributeType.NUMBER)
        TriggerAttribute.objects.create(trigger=trigger, name="cart", type=AttributeType.OBJECT)

    assert post(website, URL, cart_event(event_id="known")).status_code == 202


def test_a_change_rolled_back_is_never_cached(cart_trigger):
    with pytest.raises(RuntimeError), transaction.atomic():
        TriggerAttribute.objects.create(trigger=cart_trigger, name="store", type=AttributeType.TEXT, required=True)
        assert "store" in load_schemas(["abandoned_cart"])["abandoned_cart"].by_path
        raise RuntimeError("rolled back")

    assert "store" not in load_schemas(["abandoned_cart"])["abandoned_cart"].by_path


def test_a_lost_token_is_started_again_and_nothing_cached_before_is_used(website, website_key, cart_trigger, settings):
    assert post(website, URL, cart_event(event_id="before")).status_code == 202
    ApiKey.objects.filter(pk=website_key[0].pk).update(scope="read")  # No announcement.

    caching.shared_client().delete(f"{settings.TRIGGERS_CACHE_PREFIX}definitions-version")  # Redis restarted.

    assert post(website, URL, cart_event(event_id="after")).status_code == 403
