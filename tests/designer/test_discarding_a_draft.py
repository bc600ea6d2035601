"""Discard draft: a Marketer throws away the draft opened with Edit (after confirming) and
the canvas goes back to the live version; a refusal says why and changes nothing."""

import pytest

from journeys.models import Journey, VersionState

from .helpers import create, url
from .seed import seed_journey

pytestmark = pytest.mark.django_db


@pytest.fixture
def journey(client, marketer) -> Journey:
    seed_journey(publish=True)
    client.force_login(marketer)
    return Journey.objects.get(key="abandoned-cart")


def versions(journey: Journey) -> list[tuple[int, str]]:
    return list(journey.versions.order_by("number").values_list("number", "state"))


def test_a_marketer_discards_the_draft_and_the_live_version_is_shown_again(client, journey):
    client.post(url("lifecycle", journey.pk, "edit"))
    client.post(url("edit_step", journey.pk, "wait-a-day"), {"amount": "2", "unit": "d"})
    canvas = client.get(url("change", journey.pk)).content.decode()
    discard = url("lifecycle", journey.pk, "discard")
    assert f'href="{discard}">Discard draft…</a>' in canvas

    confirm = client.get(discard).content.decode()
    assert "Discard <strong>version 2 (draft)</strong> of Abandoned cart reminders?" in confirm
    assert "Version 1 (published) stays as it is and keeps running; no participant is affected." in confirm
    assert 'value="Yes, discard the draft"' in confirm
    assert versions(journey) == [(1, VersionState.PUBLISHED), (2, VersionState.DRAFT)]  # asking changes nothing

    response = client.post(discard)
    assert response["Location"] == url("change", journey.pk)
    page = client.get(response["Location"]).content.decode()
    assert "Version 2 (draft) is discarded; the canvas shows version 1 (published)." in page
    assert "Wait 1 day" in page and "Wait 2 days" not in page
    assert ">Edit</button>" in page and "Discard draft" not in page
    assert versions(journey) == [(1, VersionState.PUBLISHED)]
    journey.refresh_from_db()
    assert journey.status == "live"


def test_a_journey_never_published_offers_no_discard_and_a_post_is_refused_with_the_reason(client, marketer, catalogue):
    client.force_login(marketer)
    journey = create(client)
    discard = url("lifecycle", journey.pk, "discard")

    assert "Discard draft" not in client.get(url("change", journey.pk)).content.decode()
    confirm = client.get(discard).content.decode()
    assert "it was never published, so there is nothing to go back to" in confirm
    assert "Yes, discard" not in confirm

    response = client.post(discard)
    page = client.get(response["Location"]).content.decode()
    assert (
        "The draft was not discarded: a journey that was never published has only its draft: "
        "delete the journey instead." in page
    )
    assert versions(journey) == [(1, VersionState.DRAFT)]


def test_a_discard_from_a_stale_page_says_there_is_no_draft(client, journey):
    # The confirmation was open while someone else published the draft.
    client.post(url("lifecycle", journey.pk, "edit"))
    client.get(url("lifecycle", journey.pk, "discard"))
    client.post(url("publish", journey.pk))

    response = client.post(url("lifecycle", journey.pk, "discard"))

    page = client.get(response["Location"]).content.decode()
    assert "The draft was not discarded: there is no draft to discard." in page
    assert versions(journey) == [(1, VersionState.REPLACED), (2, VersionState.PUBLISHED)]
    assert "has no draft to discard" in client.get(url("lifecycle", journey.pk, "discard")).content.decode()


def test_an_analyst_cannot_discard_a_draft(client, journey, analyst):
    client.post(url("lifecycle", journey.pk, "edit"))
    client.force_login(analyst)

    assert "Discard draft" not in client.get(url("change", journey.pk)).content.decode()
    assert client.get(url("lifecycle", journey.pk, "discard")).status_code == 403
    assert client.post(url("lifecycle", journey.pk, "discard")).status_code == 403
    assert versions(journey) == [(1, VersionState.PUBLISHED), (2, VersionState.DRAFT)]
