"""Segment-based journeys: members enter through the workers in batches (one_time, dynamic,
recurring), with the entry controls every journey has."""

from datetime import UTC, datetime, timedelta

from journeys.bundles import catalogue_from_database, export_bundle, import_bundle
from journeys.contacts import put_contact
from journeys.definition import bundle_to_dict, parse_bundle
from journeys.models import (
    Delivery,
    HeldEntry,
    Journey,
    JourneyVersion,
    Participant,
    Segment,
    SegmentEntry,
    VersionState,
)
from journeys.segment_entry import enter_batch, latest_occurrence
from journeys.segments import set_static_members
from journeys.sweep import sweep

from .conftest import vip_bundle


def entered() -> list[str]:
    return sorted(Participant.objects.values_list("contact__external_id", flat=True))


def welcomed() -> list[str]:
    return sorted(Delivery.objects.filter(step__key="welcome").values_list("contact__external_id", flat=True))


def publish(on_commit, **start) -> Journey:
    with on_commit():
        import_bundle(vip_bundle(**start), publish_journeys=True)
    return Journey.objects.get(key="vip-welcome")


def test_members_at_publish_enter_and_get_their_first_message(db, clock, on_commit):
    put_contact("ana", {"email": "ana@example.com", "attributes": {"tier": "gold"}})
    put_contact("bo", {"email": "bo@example.com", "attributes": {"tier": "gold"}})
    put_contact("cy", {"email": "cy@example.com", "attributes": {"tier": "silver"}})

    journey = publish(on_commit)

    assert journey.status == "live"
    assert entered() == ["ana", "bo"]
    assert welcomed() == ["ana", "bo"]
    entry = SegmentEntry.objects.get()
    assert (entry.total, entry.entered, entry.skipped, entry.percent) == (2, 2, 0, 100)
    assert entry.finished_at is not None


def test_publishing_enters_no_one_in_the_request_itself(db, clock):
    put_contact("ana", {"email": "ana@example.com", "attributes": {"tier": "gold"}})

    import_bundle(vip_bundle(), publish_journeys=True)  # on_commit callbacks never run here

    assert entered() == []
    assert SegmentEntry.objects.get().finished_at is None


def test_a_pass_goes_in_bounded_batches_and_a_batch_run_twice_enters_no_one_twice(db, clock, on_commit):
    with on_commit():
        import_bundle(vip_bundle(), publish_journeys=False)
    for i in range(5):
        put_contact(f"c{i}", {"email": f"c{i}@example.com", "attributes": {"tier": "gold"}})
    version = JourneyVersion.objects.get(state=VersionState.DRAFT)
    from journeys.publishing import publish as publish_version

    publish_version(version)  # outside on_commit capture: we drive the batches ourselves
    entry = SegmentEntry.objects.get()

    assert enter_batch(entry.pk, batch=2) == 2
    assert enter_batch(entry.pk, batch=2) == 2
    entry.refresh_from_db()
    assert (entry.entered, entry.percent) == (4, 80)
    assert enter_batch(entry.pk, batch=2) == 1
    assert enter_batch(entry.pk, batch=2) == 0
    assert enter_batch(entry.pk, batch=2) == 0  # finished: harmless
    assert entered() == ["c0", "c1", "c2", "c3", "c4"]


def test_a_contact_updated_to_match_enters_a_dynamic_journey(db, clock, on_commit):
    publish(on_commit, mode="dynamic")
    assert entered() == []

    with on_commit():
        put_contact("ana", {"email": "ana@example.com", "attributes": {"tier": "gold"}})

    assert entered() == ["ana"]
    assert welcomed() == ["ana"]


def test_a_one_time_journey_ignores_later_joins(db, clock, on_commit):
    publish(on_commit)

    with on_commit():
        put_contact("ana", {"email": "ana@example.com", "attributes": {"tier": "gold"}})

    assert entered() == []


def test_an_excluded_contact_never_enters(db, clock, on_commit):
    publish(on_commit, mode="dynamic")
    staff = Segment.objects.get(key="staff")
    dee = put_contact("dee", {"email": "dee@example.com"}).contact
    with on_commit():
        set_static_members(staff, [dee.pk])

    with on_commit():
        put_contact("dee", {"attributes": {"tier": "gold"}})
        put_contact("ana", {"email": "ana@example.com", "attributes": {"tier": "gold"}})

    assert entered() == ["ana"]


def test_a_recurring_journey_enters_the_members_at_each_occurrence(db, clock, on_commit):
    put_contact("ana", {"email": "ana@example.com", "attributes": {"tier": "gold"}})
    bundle = vip_bundle(mode="recurring", every="1d", at="11:00")
    bundle["journeys"][0]["start"]["repeat"] = "immediately"
    with on_commit():
        import_bundle(bundle, publish_journeys=True)
    assert entered() == []  # 09:00 UTC is 10:00 in Paris: the first slot is at 11:00

    with on_commit():
        sweep(inline=True)
    assert entered() == []

    clock.move_to(datetime(2026, 11, 2, 10, 0, 30, tzinfo=UTC))  # 11:00:30 in Paris
    with on_commit():
        sweep(inline=True)
        sweep(inline=True)  # the same occurrence is run once
    assert entered() == ["ana"]

    clock.move_to(datetime(2026, 11, 3, 10, 1, tzinfo=UTC))
    with on_commit():
        sweep(inline=True)
    assert entered() == ["ana", "ana"]
    assert [e.occurrence for e in SegmentEntry.objects.order_by("occurrence")] == [
        datetime(2026, 11, 2, 10, 0, tzinfo=UTC),
        datetime(2026, 11, 3, 10, 0, tzinfo=UTC),
    ]


def test_a_daily_slot_stays_at_local_time_across_daylight_saving(db):
    version = JourneyVersion(
        time_zone="Europe/Paris",
        segment_every=timedelta(days=1),
        segment_at=datetime(2026, 1, 1, 9, 0).time(),
        published_at=datetime(2026, 3, 27, 12, tzinfo=UTC),
    )

    assert latest_occurrence(version, datetime(2026, 3, 28, 9, tzinfo=UTC)) == datetime(2026, 3, 28, 8, tzinfo=UTC)
    assert latest_occurrence(version, datetime(2026, 3, 30, 9, tzinfo=UTC)) == datetime(2026, 3, 30, 7, tzinfo=UTC)
    assert latest_occurrence(version, datetime(2026, 3, 27, 13, tzinfo=UTC)) is None


def test_over_the_hourly_limit_people_are_held_and_enter_later_in_order(db, clock, on_commit):
    bundle = vip_bundle(mode="dynamic")
    bundle["journeys"][0]["entry_limit"] = {"per_hour": 2}
    with on_commit():
        import_bundle(bundle, publish_journeys=True)

    for name in ["c1", "c2", "c3", "c4"]:
        with on_commit():
            put_contact(name, {"email": f"{name}@example.com", "attributes": {"tier": "gold"}})

    assert entered() == ["c1", "c2"]
    assert list(HeldEntry.objects.values_list("contact__external_id", flat=True)) == ["c3", "c4"]

    clock.shift(timedelta(minutes=61))
    with on_commit():
        sweep(inline=True)
    assert entered() == ["c1", "c2", "c3", "c4"]
    assert not HeldEntry.objects.exists()


def test_outside_the_entry_window_no_one_enters(db, clock, on_commit):
    bundle = vip_bundle(mode="dynamic")
    bundle["journeys"][0]["entry_window"] = {"starts_at": "2026-11-03T00:00:00+00:00"}
    with on_commit():
        import_bundle(bundle, publish_journeys=True)

    with on_commit():
        put_contact("ana", {"email": "ana@example.com", "attributes": {"tier": "gold"}})
    assert entered() == []

    clock.move_to(datetime(2026, 11, 3, 1, tzinfo=UTC))
    with on_commit():
        put_contact("bo", {"email": "bo@example.com", "attributes": {"tier": "gold"}})
    assert entered() == ["bo"]


def test_a_wait_for_can_wait_for_a_segment_join(db, clock, on_commit):
    bundle = vip_bundle()
    bundle["segments"].append(
        {
            "key": "buyers",
            "name": "Buyers",
            "conditions": [{"attribute": "contact.attributes.orders", "operator": ">", "value": 0}],
        }
    )
    bundle["journeys"][0]["steps"].append(
        {
            "id": "bought",
            "type": "wait_for",
            "segment_joined": "buyers",
            "within": "3d",
            "yes": [{"id": "thanks", "type": "email", "content": "vip-email"}],
            "no": [],
        }
    )
    put_contact("ana", {"email": "ana@example.com", "attributes": {"tier": "gold"}})
    with on_commit():
        import_bundle(bundle, publish_journeys=True)
    participant = Participant.objects.get()
    assert participant.current_step.key == "bought"

    with on_commit():
        put_contact("ana", {"attributes": {"orders": 1}})

    participant.refresh_from_db()
    assert participant.state == "completed"
    assert Delivery.objects.filter(step__key="thanks").count() == 1


def test_a_segment_journey_round_trips_through_a_bundle(db, clock, on_commit):
    bundle = vip_bundle(mode="recurring", every="1d", at="09:00")
    bundle["journeys"][0]["entry_limit"] = {"per_hour": 1000}
    bundle["journeys"][0]["entry_window"] = {"ends_at": "2026-12-31T00:00:00+00:00"}
    with on_commit():
        import_bundle(bundle)

    exported = export_bundle(["vip-welcome"])

    journey = exported["journeys"][0]
    assert journey["start"] == {
        "segment": "vip",
        "mode": "recurring",
        "every": "1d",
        "at": "09:00",
        "conditions": [],
        "repeat": "after_exit",
    }
    assert journey["exclude"] == {"segments": ["staff"]}
    assert journey["entry_limit"] == {"per_hour": 1000}
    assert journey["entry_window"] == {"ends_at": "2026-12-31T00:00:00+00:00"}
    assert [s["key"] for s in exported["segments"]] == ["staff", "vip"]
    assert exported["segments"][0] == {"key": "staff", "name": "Staff", "static": True}
    assert bundle_to_dict(parse_bundle(exported, catalogue_from_database())) == exported


def test_a_second_pass_skips_those_the_repeat_policy_keeps_out(db, clock, on_commit):
    put_contact("ana", {"email": "ana@example.com", "attributes": {"tier": "gold"}})
    put_contact("bo", {"email": "bo@example.com", "attributes": {"tier": "gold"}})
    bundle = vip_bundle()
    bundle["journeys"][0]["start"]["repeat"] = "never"
    with on_commit():
        import_bundle(bundle, publish_journeys=True)
    version = JourneyVersion.objects.get(state=VersionState.PUBLISHED)
    put_contact("cy", {"email": "cy@example.com", "attributes": {"tier": "gold"}})

    from journeys.segment_entry import run_pass_now, start_pass

    clock.shift(timedelta(hours=1))
    with on_commit():
        entry = start_pass(version, datetime(2026, 11, 2, 10, tzinfo=UTC))
        run_pass_now(entry)

    entry.refresh_from_db()
    assert (entry.entered, entry.skipped) == (1, 2)
    assert entered() == ["ana", "bo", "cy"]


def test_a_batch_that_meets_a_concurrent_entry_falls_back_to_one_by_one(db, clock, on_commit):
    from unittest import mock

    from django.db import IntegrityError

    from journeys import transitions

    with on_commit():
        import_bundle(vip_bundle())
    version = JourneyVersion.objects.get()
    contacts = [put_contact(name, {"email": f"{name}@example.com"}).contact for name in ("ana", "bo")]

    with mock.patch.object(Participant.objects, "bulk_create", side_effect=IntegrityError):
        entered_now = transitions.enter_many(
            version=version, contacts=contacts, entry_key="", first_step=None, now=datetime.now(UTC)
        )

    assert sorted(p.contact.external_id for p in entered_now) == ["ana", "bo"]
    assert entered() == ["ana", "bo"]


def test_people_held_for_a_replaced_version_enter_the_live_one(db, clock, on_commit):
    from journeys.publishing import open_draft
    from journeys.publishing import publish as publish_version

    bundle = vip_bundle(mode="dynamic")
    bundle["journeys"][0]["entry_limit"] = {"per_hour": 1}
    with on_commit():
        import_bundle(bundle, publish_journeys=True)
    for name in ["c1", "c2"]:
        with on_commit():
            put_contact(name, {"email": f"{name}@example.com", "attributes": {"tier": "gold"}})
    journey = Journey.objects.get()
    with on_commit():
        second = publish_version(open_draft(journey))

    clock.shift(timedelta(minutes=61))
    with on_commit():
        sweep(inline=True)

    assert entered() == ["c1", "c2"]
    assert Participant.objects.get(contact__external_id="c2").version == second
