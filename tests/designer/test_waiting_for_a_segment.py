"""A marketer makes a wait-for wait for joining a segment in the designer (not only by
importing a bundle): the wait-for form offers a trigger or a segment, with a segment picker
and its member counts; the step is saved as `segment_joined`, drawn on the canvas, edited
back to a trigger, and the journey publishes. In a real browser the picker shows only the
fields of the choice made."""

import re

import pytest

from journeys.bundles import export_bundle
from journeys.contacts import put_contact
from journeys.models import Journey, Segment, SegmentKind
from journeys.segments import rebuild_now

from .helpers import add_step, conditions_management, create, url
from .seed import seed_catalogue

GOLD = [{"attribute": "contact.attributes.tier", "operator": "=", "value": "gold"}]


def _segments() -> Segment:
    vip = Segment.objects.create(key="vip", name="VIP customers", conditions=GOLD)
    Segment.objects.create(key="staff", name="Staff", kind=SegmentKind.STATIC)
    put_contact("ana", {"email": "ana@example.com", "attributes": {"tier": "gold"}})
    rebuild_now(vip)
    return vip


def _steps(journey: Journey) -> list[dict]:
    return export_bundle([journey.key])["journeys"][0]["steps"]


@pytest.mark.django_db
def test_a_wait_for_waits_for_joining_a_segment_chosen_in_the_designer(client, marketer, catalogue):
    _segments()
    client.force_login(marketer)
    journey = create(client)
    add_step(client, journey, "", "", 0, "email", content="initial-email-reminder", to="contact.email")

    form = client.get(url("add_step", journey.pk), {"parent": "", "path": "", "position": 1, "kind": "wait_for"})
    page = form.content.decode()
    assert "Joining a segment" in page
    assert "VIP customers (1 member)" in page
    assert "Staff (0 members)" in page

    step_id = add_step(
        client, journey, "", "", 1, "wait_for", wait_on="segment", segment="vip", trigger="", amount=2, unit="d"
    )

    assert step_id == "wait-to-join-vip-customers"
    assert _steps(journey)[1] == {
        "id": "wait-to-join-vip-customers",
        "type": "wait_for",
        "segment_joined": "vip",
        "within": "2d",
        "yes": [],
        "no": [],
    }
    canvas = client.get(url("change", journey.pk)).content.decode()
    assert "Wait to join segment VIP customers, up to 2 days" in canvas

    # Opened again, the form shows the segment chosen.
    edit = client.get(url("edit_step", journey.pk, step_id)).content.decode()
    assert re.search(r'name="wait_on" value="segment"[^>]*checked', edit)
    assert '<option value="vip" selected>' in edit

    response = client.post(url("publish", journey.pk))
    assert response.status_code == 302
    journey.refresh_from_db()
    assert journey.status == "live"


@pytest.mark.django_db
def test_a_segment_wait_for_is_edited_back_to_a_trigger(client, marketer, catalogue):
    _segments()
    client.force_login(marketer)
    journey = create(client)
    step_id = add_step(client, journey, "", "", 0, "wait_for", wait_on="segment", segment="staff", amount=1, unit="d")

    response = client.post(
        url("edit_step", journey.pk, step_id),
        {**conditions_management(), "wait_on": "trigger", "trigger": "purchase_completed", "amount": 3, "unit": "h"},
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    step = _steps(journey)[0]
    assert (step["trigger"], step["within"]) == ("purchase_completed", "3h")
    assert "segment_joined" not in step


@pytest.mark.django_db
def test_the_wait_for_form_asks_for_the_segment_or_the_trigger_chosen(client, marketer, catalogue):
    _segments()
    client.force_login(marketer)
    journey = create(client)
    place = {"parent": "", "path": "", "position": 0, "kind": "wait_for", **conditions_management()}

    no_segment = client.post(url("add_step", journey.pk), {**place, "wait_on": "segment", "amount": 1, "unit": "d"})
    no_trigger = client.post(url("add_step", journey.pk), {**place, "wait_on": "trigger", "amount": 1, "unit": "d"})

    assert no_segment.status_code == no_trigger.status_code == 200
    assert "Choose the segment to wait for the contact to join." in no_segment.content.decode()
    assert "Choose the trigger to wait for." in no_trigger.content.decode()
    assert _steps(journey) == []


@pytest.mark.browser
def test_in_a_browser_the_wait_for_form_shows_the_segment_picker(transactional_db, marketer, page, login, live_server):
    seed_catalogue()
    _segments()
    login(page, marketer)
    page.goto(f"{live_server.url}/admin/journeys/journey/add/")
    page.fill("#id_name", "Cart with a VIP wait")
    page.select_option("#id_start_trigger", label="Abandoned cart")
    page.get_by_role("button", name="Create").click()
    page.wait_for_selector("#id_start_trigger")
    journey = Journey.objects.get()

    page.goto(f"{live_server.url}{url('add_step', journey.pk)}?parent=&path=&position=0&kind=wait_for")
    assert page.locator(".field-trigger").is_visible()
    assert not page.locator(".field-segment").is_visible()
    page.get_by_label("Joining a segment").check()
    assert page.locator(".field-segment").is_visible()
    assert not page.locator(".field-trigger").is_visible()
    assert not page.locator(".field-conditions").is_visible()
    page.select_option("#id_segment", label="VIP customers (1 member)")
    page.fill("#id_amount", "2")
    page.screenshot(path=page.artifacts / "wait-for-segment.png", full_page=True)
    page.get_by_role("button", name="Save step").first.click()
    page.wait_for_selector("#steps")

    assert "Wait to join segment VIP customers, up to 2 days" in page.locator("#steps").inner_text()
    assert _steps(journey)[0]["segment_joined"] == "vip"
