"""Real processes on PostgreSQL, the designer end to end: in a real browser a marketer
builds a dynamic segment-based journey (VIP customers, Staff excluded, one email) and
publishes it while a real qcluster runs. Nothing runs inline: the live server enqueues to
the database broker and the workers enter the members, who get their first email at a real
SMTP server; a contact updated through the contacts API to match enters and gets it too;
excluded contacts, a member at publish and one who joins later, never enter."""

import sys

import pytest
from django.core import mail
from django.db import connection
from django_q.conf import Conf
from django_q.models import OrmQ

from journeys.contacts import put_contact
from journeys.models import Delivery, Journey, Participant, Segment, SegmentKind
from journeys.segments import rebuild_now, set_static_members

from ..designer.seed import seed_catalogue
from ..designer.test_segment_journey_in_a_browser import GOLD, put_contact_over_http
from .processes import wait_until
from .test_real_workers import engine_env, processes, smtp  # noqa: F401

pytestmark = [
    pytest.mark.worker,
    pytest.mark.browser,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="real workers run against PostgreSQL"),
]

# The box is shared and loaded: a worker's first task can take a while.
SLOW = 120


@pytest.fixture
def audience(transactional_db):
    """VIP: ana and dee (gold); Staff, static: dee, and eve who is not gold yet."""
    seed_catalogue()
    vip = Segment.objects.create(key="vip", name="VIP customers", conditions=GOLD)
    staff = Segment.objects.create(key="staff", name="Staff", kind=SegmentKind.STATIC)
    put_contact("ana", {"email": "ana@example.com", "first_name": "Ana", "attributes": {"tier": "gold"}})
    dee = put_contact("dee", {"email": "dee@example.com", "attributes": {"tier": "gold"}}).contact
    eve = put_contact("eve", {"email": "eve@example.com", "attributes": {"tier": "silver"}}).contact
    rebuild_now(vip)
    set_static_members(staff, [dee.pk, eve.pk])


@pytest.fixture
def real_workers(audience, smtp, processes, live_server, monkeypatch):  # noqa: F811
    """A qcluster on the test database, sending to the SMTP server; from here on the live
    server (this process) enqueues tasks instead of running them inline."""
    inbox, smtp_port = smtp
    env = engine_env(smtp_port, site_url=live_server.url)
    processes(sys.executable, "manage.py", "qcluster", env=env)
    monkeypatch.setattr(Conf, "SYNC", False)
    return inbox


def _recipients(inbox) -> list[str]:
    return sorted(rcpt for message in inbox.messages for rcpt in message.rcpt_tos)


def test_a_segment_journey_built_in_the_designer_runs_on_real_workers(real_workers, marketer, page, login, live_server):
    inbox = real_workers
    page.set_default_timeout(30_000)
    login(page, marketer)

    page.goto(f"{live_server.url}/admin/journeys/journey/add/")
    page.fill("#id_name", "VIP welcome")
    page.get_by_label("Segment-based: reach an audience").check()
    page.select_option("#id_segment", label="VIP customers (2 members)")
    page.get_by_role("button", name="Create").click()

    page.wait_for_selector("#entry")
    page.get_by_label("The members at publish, and whoever joins later").check()
    page.locator("#entry").get_by_label("Staff (2 members)").check()
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
    assert Journey.objects.get().status == "live"

    # The workers, not the publish request, enter the members: ana's email arrives.
    wait_until(lambda: inbox.messages, SLOW, "ana's email at the SMTP server")
    assert _recipients(inbox) == ["ana@example.com"]

    def progress_done() -> bool:
        page.reload()
        return "done, 1 entered" in page.locator("#segment-entry").inner_text()

    wait_until(progress_done, SLOW, "the entry progress on the canvas")
    page.screenshot(path=page.artifacts / "canvas.png", full_page=True)

    # eve (excluded) joins VIP first, then bo (not excluded): one worker takes them in order.
    assert put_contact_over_http(live_server.url, "eve", {"attributes": {"tier": "gold"}}) == 200
    assert (
        put_contact_over_http(live_server.url, "bo", {"email": "bo@example.com", "attributes": {"tier": "gold"}}) == 201
    )
    wait_until(lambda: len(inbox.messages) >= 2, SLOW, "bo's email after joining VIP")
    wait_until(lambda: not OrmQ.objects.exists(), SLOW, "the task queue to drain")

    assert _recipients(inbox) == ["ana@example.com", "bo@example.com"]
    assert sorted(Participant.objects.values_list("contact__external_id", flat=True)) == ["ana", "bo"]
    assert sorted(Delivery.objects.filter(status="sent").values_list("contact__external_id", flat=True)) == [
        "ana",
        "bo",
    ]
    vip_members = Segment.objects.get(key="vip").memberships.values_list("contact__external_id", flat=True)
    assert {"dee", "eve"} <= set(vip_members)
    assert mail.outbox == []  # nothing was sent from this process: the workers did it all
