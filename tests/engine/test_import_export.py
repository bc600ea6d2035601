"""import_journeys / export_journeys: everything or nothing, and export(import(x)) is x."""

import json

import pytest
from django.core.management import CommandError, call_command

from content.models import Content
from journeys.bundles import catalogue_from_database, export_bundle, import_bundle
from journeys.definition import BundleError, parse_bundle
from journeys.models import Journey, JourneyVersion
from triggers.models import Trigger


def test_importing_the_seed_and_exporting_it_gives_the_same_bundle(db, seed_bundle):
    import_bundle(seed_bundle)

    exported = export_bundle(["abandoned-cart"])

    catalogue = catalogue_from_database()
    assert _by_key(parse_bundle(exported, catalogue)) == _by_key(parse_bundle(seed_bundle, catalogue))


def _by_key(bundle):
    """Export lists triggers and content by key; the order carries no meaning."""
    bundle.triggers.sort(key=lambda t: t.key)
    bundle.content.sort(key=lambda c: c.key)
    return bundle


def test_an_import_with_errors_writes_nothing(db, seed_bundle):
    seed_bundle["journeys"][0]["steps"][1]["within"] = "100d"

    with pytest.raises(BundleError) as caught:
        import_bundle(seed_bundle)

    assert caught.value.errors == ["journeys[0].steps[1].within: 100d is longer than the 90-day limit"]
    assert not Trigger.objects.filter(key="abandoned_cart").exists()
    assert not Content.objects.exists()
    assert not Journey.objects.exists()


def test_the_import_command_reports_errors_with_paths(db, tmp_path, seed_bundle, capsys):
    seed_bundle["journeys"][0]["steps"][0]["to"] = "contact.fax"
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(seed_bundle))

    with pytest.raises(CommandError, match="1 error"):
        call_command("import_journeys", str(path))

    assert "journeys[0].steps[0].to: must be contact.email or trigger.<attribute>" in capsys.readouterr().err
    assert not Journey.objects.exists()


def test_the_import_command_refuses_a_file_that_is_not_json(db, tmp_path):
    path = tmp_path / "bundle.json"
    path.write_text("{not json")

    with pytest.raises(CommandError, match="is not valid JSON"):
        call_command("import_journeys", str(path))


def test_publishing_on_import_refuses_draft_content_and_writes_nothing(db, seed_bundle):
    seed_bundle["content"][1]["status"] = "draft"

    with pytest.raises(BundleError) as caught:
        import_bundle(seed_bundle, publish_journeys=True)

    assert caught.value.errors == [
        "journeys[0]: cannot publish: step second-text: Text message 'Second text reminder' is not Ready to send"
    ]
    assert not Journey.objects.exists()


def test_reimporting_an_unchanged_live_journey_changes_nothing(db, seed_bundle, capsys):
    import_bundle(seed_bundle, publish_journeys=True)

    report = import_bundle(seed_bundle, publish_journeys=False)

    assert report.lines[-1] == "journey abandoned-cart: unchanged (version 1 is live)"
    assert JourneyVersion.objects.count() == 1


def test_importing_a_change_to_a_live_journey_creates_a_new_version(db, seed_bundle):
    import_bundle(seed_bundle, publish_journeys=True)
    seed_bundle["journeys"][0]["steps"][1]["within"] = "2d"

    import_bundle(seed_bundle, publish_journeys=True)

    versions = dict(JourneyVersion.objects.values_list("number", "state"))
    assert versions == {1: "replaced", 2: "published"}


def test_the_export_command_writes_the_bundle(db, seed_bundle, tmp_path):
    import_bundle(seed_bundle)
    path = tmp_path / "out.json"

    call_command("export_journeys", "abandoned-cart", output=str(path))

    exported = json.loads(path.read_text())
    assert [j["key"] for j in exported["journeys"]] == ["abandoned-cart"]
    assert sorted(t["key"] for t in exported["triggers"]) == ["abandoned_cart", "purchase_completed"]


def test_exporting_an_unknown_journey_is_an_error(db):
    with pytest.raises(CommandError, match="no journey with key 'nope'"):
        call_command("export_journeys", "nope")


def test_a_bundle_cannot_change_a_builtin_trigger(db, seed_bundle):
    seed_bundle["triggers"].append({"key": "email_opened", "name": "Mine", "status": "ready", "attributes": []})

    with pytest.raises(BundleError) as caught:
        import_bundle(seed_bundle)

    assert caught.value.errors == ["triggers[2].key: 'email_opened' is a built-in trigger and cannot be changed"]


def test_content_imported_as_ready_passes_the_checks_of_ready_to_send(db):
    bundle = {
        "content": [
            {
                "key": "bare",
                "channel": "email",
                "name": "Bare",
                "status": "ready",
                "subject": "Hi",
                "from_email": "shop@example.com",
            }
        ]
    }

    with pytest.raises(BundleError) as caught:
        import_bundle(bundle)

    assert "content[0].html: cannot be Ready to send: An HTML body is required." in caught.value.errors
    assert not Content.objects.filter(key="bare").exists()


@pytest.mark.parametrize("depth", [300, 5000])
def test_a_bundle_nested_thousands_deep_is_an_error_not_a_crash(db, tmp_path, capsys, depth):
    path = tmp_path / "deep.json"
    path.write_text('{"journeys": ' + "[" * depth + "]" * depth + "}")

    with pytest.raises(CommandError, match="1 error"):
        call_command("import_journeys", str(path))

    assert "nests deeper than 200 levels" in capsys.readouterr().err
    assert not Journey.objects.exists()


def test_the_import_page_refuses_a_bundle_nested_thousands_deep(client, marketer):
    from django.urls import reverse

    client.force_login(marketer)
    deep = '{"journeys": ' + "[" * 5000 + "]" * 5000 + "}"

    response = client.post(reverse("admin:journeys_journey_import"), {"text": deep})

    assert response.status_code == 200
    assert "nests deeper than 200 levels" in response.content.decode()
    assert not Journey.objects.exists()
