"""A marketer builds a segment-based journey in the designer: segment picker with its
count on create, the mode and the entry controls on the settings page, then publishes and
the members enter through the workers."""

from django.urls import reverse

from journeys.contacts import put_contact
from journeys.models import Delivery, Journey, Participant, Segment, SegmentKind, SegmentMode
from journeys.segments import rebuild_now, set_static_members

from .helpers import add_step, url

GOLD = [{"attribute": "contact.attributes.tier", "operator": "=", "value": "gold"}]


def segment_settings(vip: Segment, staff: Segment, **overrides) -> dict:
    data = {
        "name": "VIP welcome",
        "description": "",
        "segment": vip.pk,
        "segment_mode": "dynamic",
        "segment_every": "",
        "segment_at": "",
        "repeat": "never",
        "time_zone": "Europe/Paris",
        "goal_trigger": "",
        "goal_target_percent": "",
        "exclude_segments": [staff.pk],
        "entry_starts_at": "",
        "entry_ends_at": "",
        "entry_per_hour": "1000",
        "conditions-TOTAL_FORMS": "0",
        "conditions-INITIAL_FORMS": "0",
        "conditions-MIN_NUM_FORMS": "0",
        "conditions-MAX_NUM_FORMS": "30",
    }
    data.update(overrides)
    return data


def test_a_marketer_builds_and_publishes_a_segment_journey(
    client, marketer, catalogue, django_capture_on_commit_callbacks
):
    vip = Segment.objects.create(key="vip", name="VIP customers", conditions=GOLD)
    staff = Segment.objects.create(key="staff", name="Staff", kind=SegmentKind.STATIC)
    put_contact("ana", {"email": "ana@example.com", "attributes": {"tier": "gold"}})
    dee = put_contact("dee", {"email": "dee@example.com", "attributes": {"tier": "gold"}}).contact
    rebuild_now(vip)
    set_static_members(staff, [dee.pk])
    client.force_login(marketer)

    create_page = client.get(url("add"))
    assert "VIP customers (2 members)" in create_page.content.decode()
    response = client.post(url("add"), {"name": "VIP welcome", "type": "segment", "segment": vip.pk})
    journey = Journey.objects.get()
    assert response.status_code == 302
    assert journey.type == "segment"

    response = client.post(url("settings", journey.pk), segment_settings(vip, staff))
    assert response.status_code == 302, response.content.decode()[:2000]
    version = journey.versions.get()
    assert (version.segment, version.segment_mode, version.entry_per_hour) == (vip, SegmentMode.DYNAMIC, 1000)
    assert list(version.exclude_segments.all()) == [staff]

    add_step(client, journey, "", "", 0, "email", content="initial-email-reminder", to="contact.email")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("publish", journey.pk))
    assert response.status_code == 302

    assert list(Participant.objects.values_list("contact__external_id", flat=True)) == ["ana"]
    assert list(Delivery.objects.values_list("contact__external_id", flat=True)) == ["ana"]
    canvas = client.get(url("change", journey.pk)).content.decode()
    assert "Members of <strong>VIP customers</strong> enter at publish and when they join" in canvas
    assert "done, 1 entered" in canvas


def test_a_recurring_journey_needs_its_period(client, marketer, catalogue):
    vip = Segment.objects.create(key="vip", name="VIP customers", conditions=GOLD)
    staff = Segment.objects.create(key="staff", name="Staff", kind=SegmentKind.STATIC)
    client.force_login(marketer)
    client.post(url("add"), {"name": "VIP weekly", "type": "segment", "segment": vip.pk})
    journey = Journey.objects.get()

    page = client.post(url("settings", journey.pk), segment_settings(vip, staff, segment_mode="recurring"))

    assert page.status_code == 200
    assert "Say how often the members enter, e.g. 1d." in page.content.decode()
    response = client.post(
        url("settings", journey.pk),
        segment_settings(vip, staff, segment_mode="recurring", segment_every="7d", segment_at="09:00"),
    )
    assert response.status_code == 302
    version = journey.versions.get()
    assert (version.segment_every.days, version.segment_at.hour) == (7, 9)


def test_the_admin_links_segments_from_the_journey_list(client, marketer):
    client.force_login(marketer)

    assert client.get(reverse("admin:journeys_segment_changelist")).status_code == 200


def test_a_journey_waiting_for_a_segment_shows_on_the_canvas(client, marketer, catalogue):
    from journeys.bundles import import_bundle

    from ..segments.conftest import vip_bundle

    bundle = vip_bundle()
    bundle["journeys"][0]["steps"].append(
        {"id": "joined", "type": "wait_for", "segment_joined": "staff", "within": "2d", "yes": [], "no": []}
    )
    import_bundle(bundle)
    journey = Journey.objects.get(key="vip-welcome")
    client.force_login(marketer)

    canvas = client.get(url("change", journey.pk))
    test_page = client.get(url("test", journey.pk))
    settings = client.get(url("settings", journey.pk))

    assert canvas.status_code == test_page.status_code == settings.status_code == 200
    assert "Wait to join segment Staff, up to 2 days" in canvas.content.decode()
