"""Nothing lost, nothing twice: the same event_id from the same source is stored once, and
only newly stored events are announced to the journeys app, after commit."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from triggers.events import raise_internal
from triggers.models import Event
from triggers.signals import events_stored

from .conftest import cart_event, post

URL = "/api/v1/events"


@pytest.fixture
def announced():
    """Event ids announced through triggers.signals.events_stored, in order."""
    received: list[list[int]] = []

    def listener(sender, event_ids, **kwargs):
        received.append(list(event_ids))

    events_stored.connect(listener)
    yield received
    events_stored.disconnect(listener)


def test_a_retried_event_is_stored_once_and_answered_as_a_duplicate(website, cart_trigger):
    first = post(website, URL, cart_event())
    second = post(website, URL, cart_event())

    event = Event.objects.get()
    assert first.status_code == second.status_code == 202
    assert second.json() == {"id": event.pk, "event_id": "2f6c0b9e-1", "duplicate": True}


def test_the_same_event_id_with_another_body_is_a_conflict(website, cart_trigger):
    post(website, URL, cart_event())
    response = post(website, URL, cart_event(attributes={"cart_total": 99}))

    event = Event.objects.get()
    assert response.status_code == 409
    assert response.json()["code"] == "event_id_conflict"
    assert response.json()["id"] == event.pk
    assert [e["field"] for e in response.json()["errors"]] == ["event_id"]
    assert event.attributes["cart_total"] == 80.5


def test_the_same_event_id_from_another_source_is_another_event(website, cart_trigger):
    from triggers.keys import create_api_key

    _, raw = create_api_key("App", scope="events:write", source="mobile-app")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert post(website, URL, cart_event()).status_code == 202
    assert post(other, URL, cart_event()).json()["duplicate"] is False
    assert sorted(Event.objects.values_list("source", flat=True)) == ["mobile-app", "shop"]


def test_keys_of_one_source_share_their_event_ids(website, cart_trigger):
    from triggers.keys import create_api_key

    _, raw = create_api_key("Shop backend", scope="events:write", source="shop")
    backend = APIClient()
    backend.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    post(website, URL, cart_event())
    assert post(backend, URL, cart_event()).json()["duplicate"] is True
    assert Event.objects.count() == 1


def test_new_events_are_announced_after_commit_and_duplicates_never(
    website, cart_trigger, announced, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        post(website, URL, cart_event())
        assert announced == []  # Nothing is announced before the transaction commits.
    for callback in callbacks:
        callback()
    event = Event.objects.get()
    assert announced == [[event.pk]]

    with django_capture_on_commit_callbacks(execute=True):
        post(website, URL, cart_event())
        post(website, URL, cart_event(attributes={"cart_total": 1}))
    assert announced == [[event.pk]]


def test_a_batch_announces_only_its_new_events_at_once(
    website, cart_trigger, announced, django_capture_on_commit_callbacks
):
    post(website, URL, cart_event(event_id="old"))
    events = [cart_event(event_id="old"), cart_event(event_id="new"), cart_event(event_id=None), {"trigger": "x"}]

    with django_capture_on_commit_callbacks(execute=True):
        response = post(website, f"{URL}/batch", {"events": events})

    new_ids = [r["id"] for r in response.json()["results"] if r["status"] == "accepted"]
    assert len(new_ids) == 2
    assert announced == [new_ids]


def test_raising_an_interaction_twice_stores_it_once(db, announced, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = raise_internal("email_opened", contact_key="c1", attributes={"delivery_id": "9"}, event_id="open-9")
        second = raise_internal("email_opened", contact_key="c1", attributes={"delivery_id": "9"}, event_id="open-9")

    assert first is not None
    assert second is None
    assert announced == [[first.pk]]
    assert Event.objects.get().source == "internal"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite serialises writers: no race to lose")
def test_two_simultaneous_posts_of_one_event_id_store_exactly_one_row(website_key, cart_trigger):
    barrier = threading.Barrier(2)
    answers: list[dict] = []

    def send() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {website_key[1]}")
        barrier.wait()
        try:
            response = post(client, URL, cart_event())
            answers.append({"status": response.status_code, **response.json()})
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [answer["status"] for answer in answers] == [202, 202], answers
    assert Event.objects.count() == 1
    assert sorted(answer["duplicate"] for answer in answers) == [False, True], answers
    assert {answer["id"] for answer in answers} == {Event.objects.get().pk}


@pytest.mark.django_db(transaction=True)
def test_a_failing_listener_does_not_fail_a_stored_event(website, cart_trigger):
    """A broker outage must not answer 500 for a stored event (and cause a retry): the
    journeys sweep picks up events no task announced. Transactional: the request commits
    and runs its on-commit callbacks as in production."""

    def broken_broker(sender, event_ids, **kwargs):
        raise ConnectionError("broker down")

    events_stored.connect(broken_broker)
    try:
        response = post(website, URL, cart_event())
    finally:
        events_stored.disconnect(broken_broker)

    event = Event.objects.get()
    assert response.status_code == 202
    assert response.json() == {"id": event.pk, "event_id": "2f6c0b9e-1", "duplicate": False}
