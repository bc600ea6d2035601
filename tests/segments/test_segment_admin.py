"""The marketer manages segments in the admin: member count and sample, a preview count of
conditions being edited, and CSV imports (contacts, static members) with a preview and
per-row errors."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from journeys.contacts import put_contact
from journeys.models import Contact, Segment, SegmentKind, SegmentMembership
from journeys.segments import rebuild_now

GOLD = [{"attribute": "contact.attributes.tier", "operator": "=", "value": "gold"}]


@pytest.fixture
def signed_in(client, marketer):
    client.force_login(marketer)
    return client


def test_a_segment_page_shows_its_member_count_and_a_sample(signed_in):
    vip = Segment.objects.create(key="vip", name="VIP", conditions=GOLD)
    put_contact("ana", {"attributes": {"tier": "gold"}})
    put_contact("bo", {"attributes": {"tier": "silver"}})
    rebuild_now(vip)

    page = signed_in.get(reverse("admin:journeys_segment_change", args=[vip.pk]))
    listing = signed_in.get(reverse("admin:journeys_segment_changelist"))

    assert page.status_code == 200
    assert page.context["adminform"].form.instance == vip
    content = page.content.decode()
    assert "ana" in content and ">bo<" not in content
    assert listing.status_code == 200


def test_saving_new_conditions_rebuilds_the_members(signed_in, django_capture_on_commit_callbacks):
    put_contact("ana", {"attributes": {"tier": "gold"}})

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(
            reverse("admin:journeys_segment_add"),
            {"name": "VIP", "key": "vip", "description": "", "kind": "conditions", "conditions": json.dumps(GOLD)},
        )

    assert response.status_code == 302
    segment = Segment.objects.get()
    assert list(SegmentMembership.objects.values_list("contact__external_id", flat=True)) == ["ana"]
    assert segment.built_at is not None


def test_conditions_that_do_not_read_the_contact_are_refused(signed_in):
    response = signed_in.post(
        reverse("admin:journeys_segment_add"),
        {
            "name": "Bad",
            "key": "bad",
            "kind": "conditions",
            "conditions": json.dumps([{"attribute": "trigger.x", "operator": "=", "value": 1}]),
        },
    )

    assert response.status_code == 200
    assert not Segment.objects.exists()


def test_the_preview_counts_the_conditions_being_edited(signed_in):
    put_contact("ana", {"attributes": {"tier": "gold"}})
    put_contact("bo", {"attributes": {"tier": "gold"}})

    response = signed_in.post(reverse("admin:journeys_segment_preview"), {"conditions": json.dumps(GOLD)})

    assert response.json() == {"count": 2, "complete": True, "scanned": 2}


def test_a_contacts_csv_is_previewed_with_row_errors_then_imported(signed_in):
    csv = "id,email,first_name,tier\nana,ana@example.com,Ana,gold\nbo,not-an-email,Bo,\n,x@example.com,,\n"
    url = reverse("admin:journeys_contact_import")

    preview = signed_in.post(url, {"file": SimpleUploadedFile("c.csv", csv.encode())})

    assert preview.status_code == 200
    assert not Contact.objects.exists()
    reading = preview.context["reading"]
    assert [(r.line, r.contact_id, [e.field for e in r.errors]) for r in reading.rows] == [
        (2, "ana", []),
        (3, "bo", ["email"]),
        (4, "", ["id"]),
    ]

    done = signed_in.post(url, {"text": csv, "confirm": "Import"})

    assert done.status_code == 302
    ana = Contact.objects.get()
    assert (ana.external_id, ana.email, ana.first_name, ana.attributes) == (
        "ana",
        "ana@example.com",
        "Ana",
        {"tier": "gold"},
    )


def test_a_static_segment_takes_its_members_from_a_csv(signed_in):
    staff = Segment.objects.create(key="staff", name="Staff", kind=SegmentKind.STATIC)
    put_contact("ana", {})
    put_contact("bo", {})
    url = reverse("admin:journeys_segment_import", args=[staff.pk])
    csv = "id\nana\nzed\n"

    preview = signed_in.post(url, {"file": SimpleUploadedFile("m.csv", csv.encode())})
    assert [e.code for r in preview.context["reading"].rows for e in r.errors] == ["unknown_contact"]

    signed_in.post(url, {"text": csv, "confirm": "Import"})

    assert list(SegmentMembership.objects.values_list("contact__external_id", flat=True)) == ["ana"]
