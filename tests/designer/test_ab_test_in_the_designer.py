"""The A/B test in the designer, through the Django test client: adding it with its
variants and winner settings, a step on a variant's lane, editing that keeps the lanes'
steps, the form's errors, and the tile telling where the live test stands."""

import json
from datetime import timedelta

import pytest
import time_machine

from journeys.abtest import check_test
from journeys.bundles import import_bundle
from journeys.demo import SEED_BUNDLE
from journeys.models import Journey, Step

from .helpers import add_step, exported_steps, url

pytestmark = pytest.mark.django_db

FIELDS = {
    "path_1_name": "A",
    "path_1_percent": "60",
    "path_2_name": "B",
    "path_2_percent": "40",
    "winner_metric": "goal",
    "winner_decide_after": "2d",
    "winner_min_per_variant": "50",
}


def test_a_marketer_adds_an_ab_test_with_a_step_on_a_variant(journey, client):
    test = add_step(client, journey, "", "", 0, "ab_test", **FIELDS)
    add_step(client, journey, test, "1", 0, "wait", amount="2", unit="h")

    assert exported_steps(journey)[0] == {
        "id": test,
        "type": "ab_test",
        "variants": [
            {"name": "A", "percent": 60, "steps": []},
            {
                "name": "B",
                "percent": 40,
                "steps": [
                    {
                        "id": exported_steps(journey)[0]["variants"][1]["steps"][0]["id"],
                        "type": "wait",
                        "duration": "2h",
                    }
                ],
            },
        ],
        "winner": {"metric": "goal", "decide_after": "2d", "min_per_variant": 50},
    }
    page = client.get(url("change", journey.pk)).content.decode()
    assert "A/B test: A 60 %, B 40 %; best goal wins after 2 days (at least 50 each)" in page
    for lane in ('aria-label="A"', 'aria-label="B"'):
        assert lane in page


def test_the_form_offers_two_variants_and_the_winner_settings(journey, client):
    form = client.get(url("add_step", journey.pk) + "?parent=&path=&position=0&kind=ab_test").content.decode()

    for field in (
        'name="path_1_name" value="A"',
        'name="path_2_percent" value="50"',
        'name="winner_decide_after" value="3d"',
    ):
        assert field in form
    assert 'name="path_4_name"' in form
    assert 'name="winner_min_per_variant" value="100"' in form


def test_editing_an_ab_test_keeps_its_variants_steps(journey, client):
    test = add_step(client, journey, "", "", 0, "ab_test", **FIELDS)
    add_step(client, journey, test, "0", 0, "wait", amount="1", unit="h")
    add_step(client, journey, test, "1", 0, "wait", amount="2", unit="h")

    form = client.get(url("edit_step", journey.pk, test)).content.decode()
    assert 'name="path_1_percent" value="60"' in form
    response = client.post(
        url("edit_step", journey.pk, test),
        {**FIELDS, "path_2_name": "Bold", "path_1_percent": "50", "path_2_percent": "50", "winner_decide_after": "36h"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]

    step = exported_steps(journey)[0]
    assert [(v["name"], v["percent"], [s["duration"] for s in v["steps"]]) for v in step["variants"]] == [
        ("A", 50, ["1h"]),
        ("Bold", 50, ["2h"]),
    ]
    assert step["winner"] == {"metric": "goal", "decide_after": "36h", "min_per_variant": 50}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"path_2_percent": "30"}, "The shares add up to 90 %; they must add up to 100 %."),
        ({"path_2_name": "A"}, "Another variant is called A: names must be unique."),
        ({"path_2_percent": "", "path_2_name": ""}, "An A/B test needs at least two variants with a share."),
        ({"winner_decide_after": "soon"}, "Decide after &#x27;soon&#x27; is not a duration"),
        ({"winner_min_per_variant": "0"}, "Ensure this value is greater than or equal to 1."),
        ({"path_3_name": "C"}, "Give variant C a share, or leave its name empty."),
    ],
)
def test_the_form_names_each_mistake(journey, client, change, message):
    response = client.post(
        url("add_step", journey.pk), {"parent": "", "path": "", "position": 0, "kind": "ab_test", **FIELDS, **change}
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert [s["type"] for s in exported_steps(journey)] == ["email", "wait_for"]


def test_an_open_rate_test_without_an_email_in_a_variant_is_shown_on_its_tile(journey, client):
    test = add_step(client, journey, "", "", 0, "ab_test", **FIELDS)
    add_step(client, journey, test, "0", 0, "email", content="initial-email-reminder", to="contact.email")

    response = client.post(url("edit_step", journey.pk, test), {**FIELDS, "winner_metric": "open_rate"})

    page = response.content.decode()
    assert "winner.metric open_rate needs an email step in every variant; B has none" in page
    assert exported_steps(journey)[0]["winner"]["metric"] == "goal"


def test_the_tile_of_a_live_test_tells_where_it_stands(client, marketer, catalogue):
    bundle = json.loads(SEED_BUNDLE.read_text())
    bundle["journeys"][0]["steps"] = [
        {
            "id": "subject-test",
            "type": "ab_test",
            "variants": [{"name": "A", "percent": 50, "steps": []}, {"name": "B", "percent": 50, "steps": []}],
            "winner": {"metric": "goal", "decide_after": "3d", "min_per_variant": 1},
        }
    ]
    client.force_login(marketer)
    with time_machine.travel("2026-11-02 09:00Z", tick=False) as clock:
        import_bundle(bundle, publish_journeys=True)
        journey = Journey.objects.get(key="abandoned-cart")
        page = client.get(url("change", journey.pk)).content.decode()
        assert (
            "A/B test: A 50 %, B 50 %; best goal wins after 3 days (at least 1 each) — collecting until 2026-11-05 09:00 UTC"
            in page
        )

        clock.shift(timedelta(days=3))
        check_test(Step.objects.get(key="subject-test"), journey.versions.get().published_at + timedelta(days=3))
        page = client.get(url("change", journey.pk)).content.decode()
        assert "collecting: waiting for 1 participants per variant (A: 0, B: 0)" in page
