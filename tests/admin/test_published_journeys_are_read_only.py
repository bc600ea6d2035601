"""A published journey changes only through the designer (Edit -> draft -> Publish): a
Marketer posting to the admin's version and step pages directly changes nothing."""

import pytest
from django.urls import reverse

from journeys.models import JourneyVersion, Step, StepKind, VersionState
from tests.designer.seed import seed_journey

pytestmark = pytest.mark.django_db


@pytest.fixture
def live_version(db) -> JourneyVersion:
    seed_journey(publish=True)
    return JourneyVersion.objects.get(state=VersionState.PUBLISHED)


@pytest.fixture
def as_marketer(client, marketer):
    client.force_login(marketer)
    return client


def _wait(version: JourneyVersion) -> Step:
    return version.steps.filter(kind=StepKind.WAIT, duration__isnull=False).first()


def test_a_marketer_sees_a_published_version_but_cannot_change_it(as_marketer, live_version):
    wait = _wait(live_version)
    before = wait.duration
    url = reverse("admin:journeys_journeyversion_change", args=[live_version.pk])

    page = as_marketer.get(url)
    posted = as_marketer.post(
        url,
        {
            "journey": live_version.journey_id,
            "number": live_version.number,
            "state": "published",
            "time_zone": "UTC",
            "repeat": live_version.repeat,
            "goal_window": "3 00:00:00",
            "start_conditions": "[]",
            "steps-TOTAL_FORMS": "1",
            "steps-INITIAL_FORMS": "1",
            "steps-MIN_NUM_FORMS": "0",
            "steps-MAX_NUM_FORMS": "1000",
            "steps-0-id": str(wait.pk),
            "steps-0-version": str(live_version.pk),
            "steps-0-key": wait.key,
            "steps-0-kind": "wait",
            "steps-0-duration": "00:00:01",
        },
    )

    assert page.status_code == 200
    assert b'name="_save"' not in page.content  # a read-only page, no Save button
    assert posted.status_code == 403
    wait.refresh_from_db()
    assert wait.duration == before


def test_a_marketer_cannot_change_add_or_delete_a_live_step_through_the_step_pages(as_marketer, live_version):
    wait = _wait(live_version)
    before = (wait.duration, Step.objects.filter(version=live_version).count())
    data = {"version": live_version.pk, "key": "sneaky", "kind": "wait", "duration": "00:00:01", "position": 0}

    changed = as_marketer.post(reverse("admin:journeys_step_change", args=[wait.pk]), {**data, "key": wait.key})
    added = as_marketer.post(reverse("admin:journeys_step_add"), data)
    deleted = as_marketer.post(reverse("admin:journeys_step_delete", args=[wait.pk]), {"post": "yes"})
    bulk = as_marketer.post(
        reverse("admin:journeys_step_changelist"), {"action": "delete_selected", "_selected_action": [wait.pk]}
    )
    version_deleted = as_marketer.post(
        reverse("admin:journeys_journeyversion_delete", args=[live_version.pk]), {"post": "yes"}
    )

    assert [changed.status_code, added.status_code, deleted.status_code, version_deleted.status_code] == [403] * 4
    assert bulk.status_code in (200, 302, 403)
    wait.refresh_from_db()
    assert (wait.duration, Step.objects.filter(version=live_version).count()) == before
    assert JourneyVersion.objects.filter(pk=live_version.pk, state=VersionState.PUBLISHED).exists()


def test_the_version_and_step_pages_still_show_everything(as_marketer, live_version):
    wait = _wait(live_version)

    pages = [
        reverse("admin:journeys_journeyversion_changelist"),
        reverse("admin:journeys_step_changelist"),
        reverse("admin:journeys_step_change", args=[wait.pk]),
    ]

    for page in pages:
        assert as_marketer.get(page).status_code == 200
