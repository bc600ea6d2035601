"""POST /api/v1/events/batch: each event on its own; valid ones stored, answers per index."""

from triggers.models import Event

from .conftest import cart_event, nothing_stored, post

URL = "/api/v1/events/batch"


def test_a_batch_of_valid_events_is_stored_and_answered_per_index(website, cart_trigger):
    events = [cart_event(event_id=f"e-{i}") for i in range(3)]

    response = post(website, URL, {"events": events})

    stored = {e.event_id: e.pk for e in Event.objects.all()}
    assert response.status_code == 202
    assert response.json() == {
        "accepted": 3,
        "duplicates": 0,
        "rejected": 0,
        "results": [{"index": i, "status": "accepted", "id": stored[f"e-{i}"], "event_id": f"e-{i}"} for i in range(3)],
    }


def test_valid_events_are_stored_even_when_others_in_the_batch_fail(website, cart_trigger):
    events = [
        cart_event(event_id="good"),
        cart_event(event_id="bad", attributes={"cart_total": "free"}),
        "not an event",
        cart_event(event_id=None, contact={"id": "cust-7"}),
    ]

    response = post(website, URL, {"events": events})

    body = response.json()
    assert response.status_code == 207
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 0, 2)
    assert [r["status"] for r in body["results"]] == ["accepted", "rejected", "rejected", "accepted"]
    assert body["results"][1]["errors"] == [
        {"field": "attributes.cart_total", "code": "wrong_type", "message": "Expected number, got text."}
    ]
    assert body["results"][2]["errors"][0]["code"] == "not_an_object"
    assert sorted(Event.objects.values_list("contact_key", flat=True)) == ["cust-42", "cust-7"]
    assert body["results"][3]["id"] == Event.objects.get(contact_key="cust-7").pk


def test_a_batch_where_every_event_fails_is_a_400_and_stores_nothing(website, cart_trigger):
    response = post(website, URL, {"events": [cart_event(trigger="nope"), cart_event(contact={})]})

    assert response.status_code == 400
    assert response.json()["rejected"] == 2
    assert nothing_stored()


def test_duplicates_and_conflicts_in_a_batch_are_told_apart(website, cart_trigger):
    post(website, URL, {"events": [cart_event(event_id="a"), cart_event(event_id="b")]})

    response = post(
        website,
        URL,
        {"events": [cart_event(event_id="a"), cart_event(event_id="b", binding_id="other"), cart_event(event_id="c")]},
    )

    results = response.json()["results"]
    assert response.status_code == 207
    assert [r["status"] for r in results] == ["duplicate", "conflict", "accepted"]
    assert results[1]["errors"][0]["code"] == "event_id_conflict"
    assert Event.objects.count() == 3
    assert Event.objects.get(event_id="b").binding_id == "cart/981"


def test_one_event_id_twice_in_a_batch_is_stored_once(website, cart_trigger):
    response = post(website, URL, {"events": [cart_event(), cart_event(), cart_event(binding_id="x")]})

    results = response.json()["results"]
    event = Event.objects.get()
    assert [(r["status"], r["id"]) for r in results] == [
        ("accepted", event.pk),
        ("duplicate", event.pk),
        ("conflict", event.pk),
    ]


def test_events_without_event_id_get_their_own_ids_in_order(website, cart_trigger):
    events = [cart_event(event_id=None, contact={"id": f"c{i}"}) for i in range(5)]

    response = post(website, URL, {"events": events})

    ids = [r["id"] for r in response.json()["results"]]
    assert [Event.objects.get(pk=pk).contact_key for pk in ids] == ["c0", "c1", "c2", "c3", "c4"]


def test_an_empty_batch_stores_nothing(website, cart_trigger):
    response = post(website, URL, {"events": []})

    assert response.status_code == 202
    assert response.json() == {"accepted": 0, "duplicates": 0, "rejected": 0, "results": []}
