"""A drained group of events is reacted to together: its contacts in one SELECT and one
INSERT, its runs' deliveries, participant updates and history in one flush, and every rule
of one event at a time kept (a contact's events in order, the cap, a failing event skipped)."""

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext

from journeys import reactions, transitions
from journeys.bundles import import_bundle
from journeys.models import Contact, Delivery, DeliveryStatus, Participant, ParticipantState, SendingPolicy
from triggers.models import Event, Trigger


def _stored(contact_id: str, trigger: str = "abandoned_cart", cart_total: float = 80) -> Event:
    return Event.objects.create(
        trigger=Trigger.objects.get(key=trigger),
        source="test",
        contact_key=contact_id,
        contact={"email": f"{contact_id}@example.com"},
        attributes={"cart_total": cart_total},
    )


def _statements(queries: CaptureQueriesContext, start: str, table: str) -> int:
    return sum(1 for q in queries.captured_queries if q["sql"].startswith(start) and f'"{table}"' in q["sql"])


def test_a_drained_group_of_new_contacts_writes_each_table_once(seed_journey, django_capture_on_commit_callbacks):
    events = [_stored(f"c{i:02d}") for i in range(20)]

    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=False):
        assert reactions.process_waiting(20, set()) == (20, 20)

    assert Participant.objects.count() == 20
    assert Delivery.objects.filter(status=DeliveryStatus.QUEUED).count() == 20
    for table in ("journeys_contact", "journeys_participant", "journeys_delivery", "journeys_participanthistory"):
        assert _statements(queries, "INSERT", table) == 1, table
    assert _statements(queries, "UPDATE", "journeys_participant") == 1  # one moment: alike rows, one UPDATE
    # None per event: the claim, the reads once, the writes above, the savepoints.
    assert len(queries) <= 17 < len(events)


def test_a_contacts_second_event_in_the_group_sees_the_first_ones_rows(
    seed_journey, django_capture_on_commit_callbacks
):
    """The cart starts the journey and queues the email; the purchase right after it, in the
    same group, exits the participant and blocks that email, as one event at a time would."""
    _stored("ana")
    _stored("ana", trigger="purchase_completed")
    _stored("ben")

    with django_capture_on_commit_callbacks(execute=False):
        assert reactions.process_waiting(20, set()) == (3, 3)

    ana = Participant.objects.get(contact__external_id="ana")
    assert (ana.state, ana.exit_reason) == (ParticipantState.EXITED, "exit_trigger")
    assert Delivery.objects.get(participant=ana).status == DeliveryStatus.BLOCKED
    assert Delivery.objects.get(participant__contact__external_id="ben").status == DeliveryStatus.QUEUED


def test_two_journeys_started_by_one_event_share_a_known_contacts_cap_within_the_group(
    seed_journey, seed_bundle, django_capture_on_commit_callbacks
):
    """The group writes its deliveries at its end: the second journey's email still counts the
    first one's toward the contact's frequency cap."""
    twin = {**seed_bundle["journeys"][0], "key": "abandoned-cart-twin", "name": "Twin"}
    import_bundle({**seed_bundle, "journeys": [twin]}, publish_journeys=True)
    SendingPolicy.objects.create(channel="email", cap_count=1, cap_window=timedelta(days=7))
    Contact.objects.create(external_id="ana", email="ana@example.com")  # known: its cap is read
    _stored("ana")

    with django_capture_on_commit_callbacks(execute=False):
        assert reactions.process_waiting(20, set()) == (1, 1)

    assert sorted(Delivery.objects.values_list("status", "reason")) == [
        (DeliveryStatus.BLOCKED, "frequency_cap"),
        (DeliveryStatus.QUEUED, ""),
    ]


def test_a_group_whose_writes_fail_together_is_processed_one_by_one(
    seed_journey, monkeypatch, django_capture_on_commit_callbacks
):
    """A failure no single event's reaction raised (the group's flush): the group rolls back
    and its events go one at a time, each writing its own rows, so none is lost."""
    real_flush = transitions.Writes.flush

    def fails_for_many(writes: transitions.Writes) -> None:
        if len({participant.contact_id for participant, _ in writes.fields.values()}) > 1:
            raise RuntimeError("a statement too large for the database")
        real_flush(writes)

    monkeypatch.setattr(transitions.Writes, "flush", fails_for_many)
    for name in ("ana", "ben", "cy"):
        _stored(name)
    failed: set[int] = set()

    with django_capture_on_commit_callbacks(execute=False):
        assert reactions.process_waiting(20, failed) == (3, 3)

    assert failed == set()
    assert sorted(Participant.objects.values_list("contact__external_id", flat=True)) == ["ana", "ben", "cy"]
    assert Delivery.objects.filter(status=DeliveryStatus.QUEUED).count() == 3
    assert Contact.objects.count() == 3
    assert not Event.objects.filter(processed_at__isnull=True).exists()


def test_an_event_failing_in_a_group_rolls_back_the_groups_contacts_then_the_others_go_on(
    seed_journey, monkeypatch, django_capture_on_commit_callbacks
):
    real_react = reactions.react

    def broken_for_ben(event, now):
        real_react(event, now)
        if event.contact_key == "ben":
            raise RuntimeError("a bug in one journey")

    monkeypatch.setattr(reactions, "react", broken_for_ben)
    for name in ("ana", "ben", "cy"):
        _stored(name)
    failed: set[int] = set()

    with django_capture_on_commit_callbacks(execute=False):
        assert reactions.process_waiting(20, failed) == (3, 2)

    assert [Event.objects.get(pk=pk).contact_key for pk in failed] == ["ben"]
    # Ben's contact was created with the group's others, and rolled back with its event.
    assert sorted(Contact.objects.values_list("external_id", flat=True)) == ["ana", "cy"]
    assert Delivery.objects.filter(status=DeliveryStatus.QUEUED).count() == 2


def test_put_contact_creates_a_new_contact_without_a_savepoint_of_its_own(db):
    from journeys.contacts import put_contact

    with CaptureQueriesContext(connection) as queries:
        result = put_contact("ana", {"email": "ana@example.com"})

    assert (result.created, result.changed) == (True, True)
    assert Contact.objects.get(external_id="ana").email == "ana@example.com"
    assert put_contact("ana", {"email": "ana@example.com"}).created is False
    # The call's own transaction (a savepoint inside the test's); none around the INSERT.
    assert len([q for q in queries.captured_queries if q["sql"].startswith("SAVEPOINT")]) == 1


def test_a_new_contacts_entry_whose_run_fails_is_left_for_the_sweep_and_tried_once(
    seed_journey, monkeypatch, django_capture_on_commit_callbacks
):
    """New contacts' entries run as the group settles: a run that fails names its event,
    which alone is left out (the others go one by one), not the whole group again."""
    real_advance, tried = reactions.advance, []

    def broken_for_ben(participant, now, **kwargs):
        tried.append(participant.contact.external_id)
        if participant.contact.external_id == "ben":
            raise RuntimeError("a bug in one step")
        real_advance(participant, now, **kwargs)

    monkeypatch.setattr(reactions, "advance", broken_for_ben)
    for name in ("ana", "ben", "cy"):
        _stored(name)
    failed: set[int] = set()

    with django_capture_on_commit_callbacks(execute=False):
        assert reactions.process_waiting(20, failed) == (3, 2)

    assert tried.count("ben") == 1
    assert [Event.objects.get(pk=pk).contact_key for pk in failed] == ["ben"]
    assert sorted(Participant.objects.values_list("contact__external_id", flat=True)) == ["ana", "cy"]
    assert Delivery.objects.filter(status=DeliveryStatus.QUEUED).count() == 2
