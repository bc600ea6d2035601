"""A change the designer cannot apply because another tab changed the journey first (the
draft discarded or published, the step removed) is reported on the page, not a server error."""

import pytest
from django.contrib.admin import site

from journeys.designer.editing import remove_step
from journeys.models import Journey

from .helpers import url
from .seed import seed_journey

pytestmark = pytest.mark.django_db


@pytest.fixture
def journey(client, marketer) -> Journey:
    seed_journey(publish=True)
    client.force_login(marketer)
    return Journey.objects.get(key="abandoned-cart")


def test_a_change_to_a_draft_discarded_meanwhile_says_so(journey):
    designer = site._registry[Journey]

    errors = designer._change_draft(journey, lambda spec: None)

    assert [(e.code, e.message) for e in errors] == [
        ("no_draft", "This journey has no draft any more; press Edit to open one.")
    ]


def test_a_change_to_a_step_removed_meanwhile_says_so(client, journey):
    client.post(url("lifecycle", journey.pk, "edit"))
    designer = site._registry[Journey]

    errors = designer._change_draft(journey, lambda spec: remove_step(spec, "no-such-step"))

    assert [(e.code, e.message) for e in errors] == [("edit_conflict", "there is no step 'no-such-step'")]
    assert journey.versions.get(state="draft").steps.filter(key="wait-a-day").exists()  # nothing changed
