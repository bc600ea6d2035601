"""The canvas with branches and splits, editing and removing tiles, Test journey (the
simulator's timeline), and Import / Export of the JSON bundle."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from journeys.bundles import export_bundle, version_to_spec
from journeys.demo import SEED_BUNDLE
from journeys.models import Journey, Participant, VersionState

from .helpers import add_step, exported_steps, url
from .seed import seed_journey

pytestmark = pytest.mark.django_db


def test_branch_and_split_paths_are_drawn_side_by_side(journey, client):
    branch = add_step(
        client,
        journey,
        "",
        "",
        0,
        "branch",
        path_1_name="Big carts",
        path_1_1_attribute="trigger.cart_total",
        path_1_1_operator=">=",
        path_1_1_value="200",
        path_1_2_attribute="contact.email",
        path_1_2_operator="exists",
    )
    split = add_step(
        client,
        journey,
        branch,
        "otherwise",
        0,
        "split",
        path_1_name="A",
        path_1_percent="70",
        path_2_name="B",
        path_2_percent="30",
    )

    assert exported_steps(journey)[0] == {
        "id": branch,
        "type": "branch",
        "paths": [
            {
                "name": "Big carts",
                "steps": [],
                "conditions": [
                    {"attribute": "trigger.cart_total", "operator": ">=", "value": 200},
                    {"attribute": "contact.email", "operator": "exists"},
                ],
            }
        ],
        "otherwise": [
            {
                "id": split,
                "type": "split",
                "paths": [{"name": "A", "percent": 70, "steps": []}, {"name": "B", "percent": 30, "steps": []}],
            }
        ],
    }
    page = client.get(url("change", journey.pk)).content.decode()
    assert "If/then branch: Big carts when trigger.cart_total ≥ 200 and contact.email exists" in page
    assert "Random split: A 70 %, B 30 %" in page
    for lane in ('aria-label="Big carts"', 'aria-label="Otherwise"', 'aria-label="A"', 'aria-label="B"'):
        assert lane in page
    assert 'class="jd-paths"' in page


def test_editing_a_branch_keeps_its_paths_steps_and_every_condition(journey, client):
    branch = add_step(
        client,
        journey,
        "",
        "",
        0,
        "branch",
        path_1_1_attribute="trigger.cart_total",
        path_1_1_operator=">",
        path_1_1_value="100",
        path_1_2_attribute="trigger.cart.currency",
        path_1_2_operator="=",
        path_1_2_value="EUR",
    )
    add_step(client, journey, branch, "0", 0, "wait", amount="2", unit="h")

    form = client.get(url("edit_step", journey.pk, branch)).content.decode()
    assert 'name="path_1_2_value" value="EUR"' in form
    response = client.post(
        url("edit_step", journey.pk, branch),
        {
            "path_1_name": "Rich",
            "path_1_1_attribute": "trigger.cart_total",
            "path_1_1_operator": ">",
            "path_1_1_value": "150",
            "path_1_2_attribute": "trigger.cart.currency",
            "path_1_2_operator": "=",
            "path_1_2_value": "EUR",
        },
    )
    assert response.status_code == 302

    path = exported_steps(journey)[0]["paths"][0]
    assert path["name"] == "Rich"
    assert [c["value"] for c in path["conditions"]] == [150, "EUR"]
    assert [s["type"] for s in path["steps"]] == ["wait"]


def test_removing_a_tile_removes_the_steps_on_its_paths_after_confirming(journey, client):
    confirm = client.get(url("remove_step", journey.pk, "wait-for-email-opened")).content.decode()
    assert "The steps on its paths go too:" in confirm
    assert "Text message: Second text reminder to contact.phone" in confirm
    assert [s["id"] for s in exported_steps(journey)] == ["initial-email-reminder", "wait-for-email-opened"]

    response = client.post(url("remove_step", journey.pk, "wait-for-email-opened"))

    assert response["Location"] == url("change", journey.pk)
    assert [s["id"] for s in exported_steps(journey)] == ["initial-email-reminder"]


def test_removing_an_email_a_later_wait_watches_is_refused_with_the_reason(journey, client):
    response = client.post(url("remove_step", journey.pk, "initial-email-reminder"))

    page = response.content.decode()
    assert "In step wait-for-email-opened (of_step): &#x27;initial-email-reminder&#x27; must be an earlier" in page
    assert [s["id"] for s in exported_steps(journey)] == ["initial-email-reminder", "wait-for-email-opened"]


def test_test_journey_shows_the_timeline_of_the_simulator(journey, client):
    page = client.get(url("test", journey.pk)).content.decode()
    assert "0 abandoned_cart {&quot;cart_total&quot;: 100" in page

    response = client.post(
        url("test", journey.pk),
        {
            "contact_id": "sample-1",
            "email": "ada@example.com",
            "phone": "+15551234567",
            "push_token": "tok",
            "events": '0 abandoned_cart {"cart_total": 80}\n30h purchase_completed {}',
        },
    )

    timeline = [(e["at"], e["step"], e["outcome"]) for e in response.context["timeline"]]
    assert timeline == [
        ("+0s", "", "entered"),
        ("+0s", "initial-email-reminder", "sent"),
        ("+0s", "wait-for-email-opened", "waiting"),
        ("+1d", "wait-for-email-opened", "no"),
        ("+1d", "second-text-reminder", "blocked"),  # the text message is still a draft
        ("+1d", "wait", "waiting"),
        ("+1d6h", "wait", "goal_met"),
        ("+1d6h", "wait", "exited"),
    ]
    assert "content_not_ready" in response.context["timeline"][4]["detail"]
    assert "<h2>Timeline</h2>" in response.content.decode()
    assert not Participant.objects.exists()  # nothing is kept


def test_test_journey_explains_a_bad_event_line(journey, client):
    response = client.post(url("test", journey.pk), {"contact_id": "s", "events": "soon abandoned_cart {}"})
    assert "offset" in response.context["form"].errors["events"][0]
    response = client.post(url("test", journey.pk), {"contact_id": "s", "events": "0 no_such_trigger {}"})
    assert response.context["form"].errors["events"] == ["unknown trigger 'no_such_trigger'"]


def test_export_downloads_the_bundle_and_import_reads_it_back(journey, client):
    response = client.get(url("export", journey.pk))
    assert response["Content-Disposition"] == f'attachment; filename="{journey.key}.json"'
    bundle = json.loads(response.content)
    assert bundle == export_bundle([journey.key])

    bundle["journeys"][0]["name"] = "Cart reminders (imported)"
    bundle["journeys"][0]["key"] = "imported-cart"
    upload = SimpleUploadedFile("bundle.json", json.dumps(bundle).encode(), content_type="application/json")
    response = client.post(url("import"), {"file": upload})

    assert response["Location"] == url("changelist")
    imported = Journey.objects.get(key="imported-cart")
    assert imported.name == "Cart reminders (imported)"
    assert (
        version_to_spec(imported.versions.get(state=VersionState.DRAFT)).steps
        == version_to_spec(journey.versions.get()).steps
    )


def test_an_import_with_errors_lists_them_and_writes_nothing(client, marketer, catalogue):
    client.force_login(marketer)
    data = json.loads(SEED_BUNDLE.read_text())
    data["journeys"][0]["steps"][1]["within"] = "91d"

    response = client.post(url("import"), {"text": json.dumps(data)})

    page = response.content.decode()
    assert "Nothing was imported:" in page
    assert "journeys[0].steps[1].within: 91d is longer than the 90-day limit" in page
    assert not Journey.objects.exists()
    response = client.post(url("import"), {"text": "{not json"})
    assert "The bundle is not JSON" in response.content.decode()
    response = client.post(url("import"), {})
    assert "Choose a bundle file or paste a bundle." in response.content.decode()


def test_export_selected_journeys_from_the_list(client, marketer):
    seed_journey()
    client.force_login(marketer)
    journey = Journey.objects.get()
    response = client.post(url("changelist"), {"action": "export_selected", "_selected_action": [journey.pk]})
    assert json.loads(response.content) == export_bundle(["abandoned-cart"])


def test_editing_an_imported_branch_wider_than_the_form_loses_nothing(client, marketer, catalogue):
    client.force_login(marketer)
    data = json.loads(SEED_BUNDLE.read_text())
    conditions = [{"attribute": "trigger.cart_total", "operator": ">", "value": v} for v in (1, 2, 3, 4)]
    paths = [{"name": f"P{i}", "conditions": conditions, "steps": []} for i in range(4)]
    data["journeys"][0]["steps"].insert(0, {"id": "wide", "type": "branch", "paths": paths, "otherwise": []})
    client.post(url("import"), {"text": json.dumps(data)})
    journey = Journey.objects.get(key="abandoned-cart")
    form = client.get(url("edit_step", journey.pk, "wide")).context["form"]
    post = {name: form[name].value() or "" for name in form.fields}

    response = client.post(url("edit_step", journey.pk, "wide"), post)

    assert response.status_code == 302, response.content.decode()[:2000]
    assert exported_steps(journey)[0]["paths"] == paths
