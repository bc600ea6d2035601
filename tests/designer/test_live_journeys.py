"""A live journey in the designer: Edit opens a new draft version while the live one keeps
running, publishing it replaces the live version for new entrants; Pause, Resume, Stop."""

import json

import pytest

from journeys.bundles import version_to_spec
from journeys.models import Journey, Participant, VersionState
from triggers.keys import create_api_key

from .helpers import url
from .seed import seed_journey

pytestmark = pytest.mark.django_db


@pytest.fixture
def journey(client, marketer) -> Journey:
    seed_journey(publish=True)
    client.force_login(marketer)
    return Journey.objects.get(key="abandoned-cart")


@pytest.fixture
def cart(client, django_capture_on_commit_callbacks):
    """The website raises an abandoned cart through the events API."""
    _, raw = create_api_key("Shop website", scope="events:write", source="shop")

    def _cart(contact_id: str) -> None:
        body = {
            "trigger": "abandoned_cart",
            "event_id": f"cart-{contact_id}",
            "attributes": {"cart_total": 80},
            "contact": {"id": contact_id, "email": f"{contact_id}@example.com"},
        }
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/api/v1/events",
                json.dumps(body),
                content_type="application/json",
                headers={"Authorization": f"Bearer {raw}"},
            )
        assert response.status_code == 202, response.content

    return _cart


def test_edit_opens_a_new_draft_while_the_live_version_keeps_running(client, journey, cart):
    cart("ana")
    response = client.post(url("lifecycle", journey.pk, "edit"))
    assert response["Location"] == url("change", journey.pk)

    assert list(journey.versions.order_by("number").values_list("number", "state")) == [
        (1, VersionState.PUBLISHED),
        (2, VersionState.DRAFT),
    ]
    canvas = client.get(url("change", journey.pk)).content.decode()
    assert "Version 2 (Draft). Version 1 is live and keeps running until you publish this one." in canvas
    assert "Publish</button>" in canvas

    # Change the wait on the No path in the draft: the live version is untouched.
    response = client.post(url("edit_step", journey.pk, "wait-a-day"), {"amount": "2", "unit": "d"})
    assert response.status_code == 302, response.content.decode()[:2000]
    live, draft = journey.versions.order_by("number")
    assert [s.duration.days for s in live.steps.filter(kind="wait")] == [1]
    assert [s.duration.days for s in draft.steps.filter(kind="wait")] == [2]
    cart("ben")
    assert set(Participant.objects.values_list("contact__external_id", "version__number")) == {("ana", 1), ("ben", 1)}

    client.post(url("publish", journey.pk))

    live, draft = journey.versions.order_by("number")
    assert (live.state, draft.state) == (VersionState.REPLACED, VersionState.PUBLISHED)
    cart("cy")
    assert set(Participant.objects.values_list("contact__external_id", "version__number")) == {
        ("ana", 1),
        ("ben", 1),
        ("cy", 2),
    }
    journey.refresh_from_db()
    assert journey.status == "live"


def test_a_second_edit_returns_to_the_same_draft(client, journey):
    client.post(url("lifecycle", journey.pk, "edit"))
    client.post(url("lifecycle", journey.pk, "edit"))
    assert journey.versions.count() == 2


def test_a_live_version_is_read_only_until_edit(client, journey):
    before = version_to_spec(journey.versions.get())

    response = client.post(url("edit_step", journey.pk, "wait-a-day"), {"amount": "2", "unit": "d"})
    assert response["Location"] == url("change", journey.pk)
    assert client.post(url("remove_step", journey.pk, "wait-a-day")).status_code == 302

    assert version_to_spec(journey.versions.get()) == before
    page = client.get(url("change", journey.pk)).content.decode()
    assert "This journey has no draft. Press Edit to open a new draft version." in page


def test_pause_resume_and_stop(client, journey, cart):
    cart("ana")

    client.post(url("lifecycle", journey.pk, "pause"))
    journey.refresh_from_db()
    assert journey.status == "paused"
    cart("ben")
    assert list(Participant.objects.values_list("contact__external_id", flat=True)) == ["ana"]
    assert ">Resume</button>" in client.get(url("change", journey.pk)).content.decode()

    client.post(url("lifecycle", journey.pk, "resume"))
    journey.refresh_from_db()
    assert journey.status == "live"

    confirm = client.get(url("lifecycle", journey.pk, "stop")).content.decode()
    assert "everyone still in the journey leaves it now" in confirm
    journey.refresh_from_db()
    assert journey.status == "live"
    response = client.post(url("lifecycle", journey.pk, "stop"))
    page = client.get(response["Location"]).content.decode()
    assert "Stopped: 1 participant(s) left the journey." in page
    journey.refresh_from_db()
    assert journey.status == "stopped"
    assert list(Participant.objects.values_list("state", flat=True)) == ["stopped"]


def test_a_refused_lifecycle_change_says_why(client, journey):
    response = client.post(url("lifecycle", journey.pk, "resume"))
    page = client.get(response["Location"]).content.decode()
    assert "Cannot resume: only a paused journey can be resumed; this one is live." in page
    assert client.post(url("lifecycle", journey.pk, "launch")).status_code == 404
