"""Who may do what in the designer: a Marketer everything, an Analyst reads, an outsider
(staff without a role) and a stranger (not staff) see nothing. Refusals change nothing."""

import re

import pytest

from journeys.bundles import version_to_spec
from journeys.models import Journey, VersionState

from .helpers import url
from .seed import seed_journey

pytestmark = pytest.mark.django_db


@pytest.fixture
def journey(db) -> Journey:
    seed_journey(publish=True)
    return Journey.objects.get(key="abandoned-cart")


def pages(journey: Journey) -> list[str]:
    return [
        url("change", journey.pk),
        url("settings", journey.pk),
        url("edit_step", journey.pk, "initial-email"),
        url("test", journey.pk),
        url("export", journey.pk),
    ]


def posts(journey: Journey) -> list[str]:
    return [
        url("settings", journey.pk),
        url("add_step", journey.pk),
        url("edit_step", journey.pk, "initial-email"),
        url("remove_step", journey.pk, "initial-email"),
        url("publish", journey.pk),
        url("lifecycle", journey.pk, "pause"),
        url("lifecycle", journey.pk, "stop"),
        url("lifecycle", journey.pk, "edit"),
        url("lifecycle", journey.pk, "discard"),
        url("test", journey.pk),
    ]


def test_an_analyst_reads_every_page_with_no_control_to_change(client, analyst, journey):
    client.force_login(analyst)

    for page in pages(journey):
        assert client.get(page).status_code == 200, page
    canvas = client.get(url("change", journey.pk)).content.decode()
    assert "Email: Initial email reminder to contact.email" in canvas
    for control in ("Publish</button>", ">Edit</button>", ">Pause</button>", "Stop…", 'class="jd-plus"', "Remove<"):
        assert control not in canvas
    assert "View settings" in canvas
    settings = client.get(url("settings", journey.pk)).content.decode()
    assert "Save settings" not in settings
    assert re.search(r'<select name="start_trigger"[^>]* disabled', settings)
    assert re.search(r'<input type="text" name="conditions-0-value"[^>]* disabled', settings)
    assert client.get(url("add")).status_code == 403
    assert client.get(url("import")).status_code == 403


def test_an_analyst_cannot_change_anything(client, analyst, journey):
    client.force_login(analyst)
    before = version_to_spec(journey.versions.get())

    for page in posts(journey):
        assert client.post(page, {"name": "Changed"}).status_code == 403, page
    assert client.post(url("add"), {"name": "New", "type": "trigger"}).status_code == 403
    assert client.post(url("import"), {"text": "{}"}).status_code == 403

    journey.refresh_from_db()
    assert (journey.name, journey.status) == ("Abandoned cart reminders", "live")
    assert list(journey.versions.values_list("number", "state")) == [(1, VersionState.PUBLISHED)]
    assert version_to_spec(journey.versions.get()) == before


@pytest.mark.parametrize("persona", ["outsider", "stranger"])
def test_people_without_a_role_see_no_journey(client, journey, persona, request):
    client.force_login(request.getfixturevalue(persona))

    for page in [url("changelist"), url("add"), url("import"), *pages(journey)]:
        response = client.get(page)
        if persona == "stranger":
            assert response.status_code == 302 and "/admin/login/" in response["Location"], page
        else:
            assert response.status_code == 403, page
    for page in posts(journey):
        assert client.post(page).status_code == (302 if persona == "stranger" else 403), page
    journey.refresh_from_db()
    assert journey.status == "live"
    assert journey.versions.count() == 1


def test_a_marketer_sees_every_control(client, marketer, journey):
    client.force_login(marketer)

    canvas = client.get(url("change", journey.pk)).content.decode()
    for control in (">Edit</button>", ">Pause</button>", "Stop…", "Test journey", "Export"):
        assert control in canvas
    listing = client.get(url("changelist")).content.decode()
    assert url("import") in listing and url("add") in listing
