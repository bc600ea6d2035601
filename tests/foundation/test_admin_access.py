"""Every admin page opens for the people whose role needs it and for no one else."""

import pytest
from django.contrib import admin
from django.urls import reverse

from journeys.demo import load_demo

# Marketers see everything except the task queue's internals.
MODELS = [
    (model._meta.app_label, model._meta.model_name)
    for model in admin.site._registry
    if model._meta.app_label in ("content", "triggers", "journeys")
]
ANALYST_HIDDEN = {("triggers", "apikey")}
READ_ONLY = {
    ("triggers", "event"),
    ("journeys", "participant"),
    ("journeys", "participanthistory"),
    ("journeys", "delivery"),
    ("journeys", "interaction"),
    ("content", "content"),
    # Changed through the designer only (Edit -> draft -> Publish).
    ("journeys", "journeyversion"),
    ("journeys", "step"),
}
ONE_ROW = {("content", "brand")}  # edited, never added: the migration creates it


def _changelist(app_label: str, model_name: str) -> str:
    return reverse(f"admin:{app_label}_{model_name}_changelist")


@pytest.fixture(autouse=True)
def demo(db):
    load_demo()


def test_every_product_model_is_in_the_admin():
    assert len(MODELS) == 20


@pytest.mark.parametrize(("app_label", "model_name"), MODELS)
def test_a_marketer_opens_every_list_page(client, marketer, app_label, model_name):
    client.force_login(marketer)

    assert client.get(_changelist(app_label, model_name)).status_code == 200


@pytest.mark.parametrize(("app_label", "model_name"), sorted(set(MODELS) - READ_ONLY - ONE_ROW))
def test_a_marketer_opens_every_add_page(client, marketer, app_label, model_name):
    client.force_login(marketer)

    assert client.get(reverse(f"admin:{app_label}_{model_name}_add")).status_code == 200


@pytest.mark.parametrize(("app_label", "model_name"), sorted(READ_ONLY))
def test_history_tables_cannot_be_written_from_the_admin(client, marketer, app_label, model_name):
    client.force_login(marketer)

    assert client.get(reverse(f"admin:{app_label}_{model_name}_add")).status_code == 403


@pytest.mark.parametrize(("app_label", "model_name"), MODELS)
def test_an_analyst_reads_but_cannot_add(client, analyst, app_label, model_name):
    client.force_login(analyst)
    expected = 403 if (app_label, model_name) in ANALYST_HIDDEN else 200

    assert client.get(_changelist(app_label, model_name)).status_code == expected
    assert client.get(reverse(f"admin:{app_label}_{model_name}_add")).status_code == 403


@pytest.mark.parametrize(("app_label", "model_name"), MODELS)
def test_an_outsider_is_refused_every_page(client, outsider, app_label, model_name):
    client.force_login(outsider)

    assert client.get(_changelist(app_label, model_name)).status_code == 403


def test_a_stranger_is_sent_to_the_login_page(client, stranger):
    client.force_login(stranger)
    response = client.get(reverse("admin:index"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_the_admin_is_branded_and_lists_journeys_first(client, marketer):
    client.force_login(marketer)
    response = client.get(reverse("admin:index"))

    assert response.status_code == 200
    assert "<title>Site administration | Journeys</title>" in response.text or "Journeys" in response.text
    labels = [app["app_label"] for app in response.context["app_list"]]
    assert labels[:3] == ["journeys", "content", "triggers"]


def test_a_marketer_edits_demo_content(client, marketer):
    client.force_login(marketer)
    from content.models import Email

    email = Email.objects.get(key="initial-email-reminder")
    response = client.get(reverse("admin:content_email_change", args=[email.pk]))

    assert response.status_code == 200
    assert "you left something in your cart" in response.text


def test_builtin_triggers_offer_no_delete(client, marketer):
    client.force_login(marketer)
    from triggers.models import Trigger

    opened = Trigger.objects.get(key="email_opened")
    response = client.get(reverse("admin:triggers_trigger_delete", args=[opened.pk]))

    assert response.status_code == 403
    assert Trigger.objects.filter(key="email_opened").exists()


def test_adding_an_api_key_shows_the_key_once_and_stores_its_hash(client, marketer):
    from triggers.models import ApiKey, hash_api_key

    client.force_login(marketer)
    response = client.post(
        reverse("admin:triggers_apikey_add"),
        {"name": "Website", "scope": "events:write", "source": "web", "rate_per_second": 100, "burst": 200},
    )

    # A page of its own, never cached, and the key in no message that could be re-shown.
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    raw = response.context["raw_key"]
    assert raw in response.content.decode()
    assert not list(response.context.get("messages", []))
    key = ApiKey.objects.get(name="Website")
    assert key.hashed_key == hash_api_key(raw)
    assert raw.startswith(key.prefix)
    assert raw not in key.hashed_key
