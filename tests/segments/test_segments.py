"""Segments: membership follows each contact as it changes, without rescanning everyone;
a new segment is built in batches; static segments are lists."""

import pytest

from journeys.contacts import put_contact, upsert_contact
from journeys.models import Contact, Segment, SegmentKind, SegmentMembership
from journeys.segments import (
    member_count,
    preview_count,
    rebuild_now,
    rebuild_segment,
    sample,
    segment_problems,
    set_static_members,
)

GOLD = [{"attribute": "contact.attributes.tier", "operator": "=", "value": "gold"}]


@pytest.fixture
def vip(db) -> Segment:
    return Segment.objects.create(key="vip", name="VIP", conditions=GOLD)


def members(segment: Segment) -> list[str]:
    return sorted(SegmentMembership.objects.filter(segment=segment).values_list("contact__external_id", flat=True))


def test_a_contact_joins_and_leaves_as_its_attributes_change(vip):
    put_contact("ana", {"attributes": {"tier": "gold"}})
    assert members(vip) == ["ana"]

    put_contact("ana", {"attributes": {"tier": None}})
    assert members(vip) == []


def test_an_event_s_contact_fields_update_membership_too(vip):
    upsert_contact("bo", {"attributes": {"tier": "gold"}})

    assert members(vip) == ["bo"]


def test_conditions_read_contact_fields(db):
    gmail = Segment.objects.create(
        key="gmail",
        name="Gmail",
        conditions=[{"attribute": "contact.email", "operator": "contains", "value": "@gmail"}],
    )
    put_contact("ana", {"email": "ana@gmail.com"})
    put_contact("bo", {"email": "bo@example.com"})

    assert members(gmail) == ["ana"]


def test_a_change_evaluates_only_that_contact(vip, django_assert_max_num_queries):
    for i in range(30):
        Contact.objects.create(external_id=f"c{i}", attributes={"tier": "gold"})

    with django_assert_max_num_queries(12):
        put_contact("ana", {"attributes": {"tier": "gold"}})

    assert members(vip) == ["ana"]  # the 30 others wait for a rebuild, nobody was rescanned


def test_a_new_segment_is_built_in_bounded_batches(db):
    for i in range(5):
        Contact.objects.create(external_id=f"c{i}", attributes={"tier": "gold" if i % 2 == 0 else "silver"})
    segment = Segment.objects.create(key="vip", name="VIP", conditions=GOLD)

    cursor = rebuild_segment(segment.pk, 0, batch=2)
    assert len(members(segment)) <= 2
    assert cursor is not None
    rebuild_now(segment)

    segment.refresh_from_db()
    assert members(segment) == ["c0", "c2", "c4"]
    assert segment.built_at is not None
    assert member_count(segment) == 3
    assert {c.external_id for c in sample(segment, 2)} <= {"c0", "c2", "c4"}


def test_a_rebuild_after_edited_conditions_removes_those_who_no_longer_match(vip):
    put_contact("ana", {"attributes": {"tier": "gold"}})
    put_contact("bo", {"attributes": {"tier": "silver"}})
    vip.conditions = [{"attribute": "contact.attributes.tier", "operator": "=", "value": "silver"}]
    vip.save()

    rebuild_now(vip)

    assert members(vip) == ["bo"]


def test_a_static_segment_is_a_list_that_contact_changes_leave_alone(db):
    staff = Segment.objects.create(key="staff", name="Staff", kind=SegmentKind.STATIC)
    ana = put_contact("ana", {}).contact
    bo = put_contact("bo", {}).contact

    assert set_static_members(staff, [ana.pk]) == 1
    put_contact("ana", {"first_name": "Ana"})
    assert members(staff) == ["ana"]
    set_static_members(staff, [bo.pk], replace=True)
    assert members(staff) == ["bo"]


def test_the_preview_counts_contacts_meeting_conditions_being_edited(db):
    for i in range(4):
        Contact.objects.create(external_id=f"c{i}", attributes={"points": i * 10})

    preview = preview_count([{"attribute": "contact.attributes.points", "operator": ">=", "value": 20}])

    assert (preview.count, preview.scanned, preview.complete) == (2, 4, True)


def test_conditions_must_read_the_contact():
    assert segment_problems([{"attribute": "trigger.cart_total", "operator": ">", "value": 1}]) == [
        ("conditions[0].attribute", "must be contact.<field> or contact.attributes.<path>")
    ]
    assert segment_problems(GOLD) == []


def test_the_rebuild_command_builds_the_named_segments(vip):
    from io import StringIO

    from django.core.management import call_command

    Contact.objects.create(external_id="ana", attributes={"tier": "gold"})
    out = StringIO()

    call_command("rebuild_segments", "vip", "--inline", stdout=out)

    assert out.getvalue() == "segment vip: 1 members\n"
    assert members(vip) == ["ana"]
