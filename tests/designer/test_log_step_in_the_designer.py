"""The log step in the designer: offered, drawn and saved from its module alone."""

import pytest

from journeys.bundles import export_bundle

from .helpers import add_step, create, url

pytestmark = pytest.mark.django_db


def test_a_marketer_adds_a_log_step(client, marketer, catalogue):
    client.force_login(marketer)
    journey = create(client)

    assert "Log a note" in client.get(url("add_step", journey.pk)).content.decode()
    assert 'name="message"' in client.get(url("add_step", journey.pk) + "?kind=log").content.decode()

    step_id = add_step(client, journey, "", "", 0, "log", message="entered")

    assert export_bundle([journey.key])["journeys"][0]["steps"] == [
        {"id": step_id, "type": "log", "message": "entered"}
    ]
    assert "Log a note: entered" in client.get(url("change", journey.pk)).content.decode()


def test_each_kind_brings_its_colour_to_the_add_a_step_page_its_form_and_its_tile(client, marketer, catalogue):
    from journeys.steps import kind_of, kinds

    client.force_login(marketer)
    journey = create(client)

    choose = client.get(url("add_step", journey.pk)).content.decode()
    for kind in kinds():
        assert f'jd-kind-{kind.name}" style="--jd-accent: {kind.accent}"' in choose
    assert len({kind.accent for kind in kinds()}) == len(kinds())  # one colour per kind
    form = client.get(url("add_step", journey.pk) + "?kind=log").content.decode()
    assert f'style="--jd-accent: {kind_of("log").accent}"' in form

    add_step(client, journey, "", "", 0, "log", message="entered")

    canvas = client.get(url("change", journey.pk)).content.decode()
    assert f'jd-kind-log" style="--jd-accent: {kind_of("log").accent}"' in canvas
