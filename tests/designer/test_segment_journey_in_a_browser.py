"""In a real browser: a marketer creates a segment-based journey (segment picker with its
count), sets it dynamic with an excluded segment on the settings page, adds an email and
publishes; the members enter, a contact updated through the contacts API to match enters
too, and the excluded one never does."""

import json
import urllib.request

import pytest

from journeys.contacts import put_contact
from journeys.models import Delivery, Journey, Participant, Segment, SegmentKind
from journeys.segments import rebuild_now, set_static_members
from triggers.keys import create_api_key

from .seed import seed_catalogue

pytestmark = pytest.mark.browser

GOLD = [{"attribute": "contact.attributes.tier", "operator": "=", "value": "gold"}]


@pytest.fixture
def audience(transactional_db):
    seed_catalogue()
    vip = Segment.objects.create(key="vip", name="VIP customers", conditions=GOLD)
    staff = Segment.objects.create(key="staff", name="Staff", kind=SegmentKind.STATIC)
    put_contact("ana", {"email": "ana@example.com", "attributes": {"tier": "gold"}})
    dee = put_contact("dee", {"email": "dee@example.com", "attributes": {"tier": "gold"}}).contact
    rebuild_now(vip)
    set_static_members(staff, [dee.pk])


def put_contact_over_http(base_url: str, contact_id: str, body: dict) -> int:
    _, raw = create_api_key("Shop website", scope="events:write", source="shop")
    request = urllib.request.Request(
        f"{base_url}/api/v1/contacts/{contact_id}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {raw}", "Content-Type": "application/json"},
        method="PUT",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def test_a_marketer_builds_a_segment_journey_and_members_enter(audience, marketer, page, login, live_server):
    login(page, marketer)

    page.goto(f"{live_server.url}/admin/journeys/journey/add/")
    page.fill("#id_name", "VIP welcome")
    page.get_by_label("Segment-based: reach an audience").check()
    page.select_option("#id_segment", label="VIP customers (2 members)")
    page.get_by_role("button", name="Create").click()

    page.wait_for_selector("#entry")
    page.get_by_label("The members at publish, and whoever joins later").check()
    page.locator("#entry").get_by_label("Staff (1 member)").check()
    page.fill("#id_entry_per_hour", "1000")
    page.screenshot(path=page.artifacts / "settings.png", full_page=True)
    page.get_by_role("button", name="Save settings").click()
    page.wait_for_selector("#steps")

    page.get_by_role("link", name="Add a step after the start").click()
    page.locator(".jd-kinds").get_by_role("link", name="Email").first.click()
    page.wait_for_selector("form .jd-step-form")
    page.select_option("#id_content", label="Initial email reminder")
    page.get_by_role("button", name="Save step").click()
    page.wait_for_selector("#steps")

    page.get_by_role("button", name="Publish").click()
    page.wait_for_selector(".jd-status-live")
    page.reload()
    assert "done, 1 entered" in page.locator("#segment-entry").inner_text()
    page.screenshot(path=page.artifacts / "canvas.png", full_page=True)
    assert Journey.objects.get().status == "live"
    assert list(Participant.objects.values_list("contact__external_id", flat=True)) == ["ana"]

    assert (
        put_contact_over_http(live_server.url, "bo", {"email": "bo@example.com", "attributes": {"tier": "gold"}}) == 201
    )
    assert put_contact_over_http(live_server.url, "dee", {"first_name": "Dee"}) == 200

    assert sorted(Participant.objects.values_list("contact__external_id", flat=True)) == ["ana", "bo"]
    assert sorted(Delivery.objects.values_list("contact__external_id", flat=True)) == ["ana", "bo"]
