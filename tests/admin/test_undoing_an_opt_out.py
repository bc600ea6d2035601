"""Only the contact undoes an opt-out: a Marketer setting an unsubscribed contact back to
subscribed in the admin is refused (the page shows why, and the history), while a new opt-in
through POST /api/v1/contacts/{id}/consent is recorded with its source."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse
from rest_framework.test import APIClient

from journeys import consent as consent_module
from journeys.models import Consent, ConsentChange, Contact
from triggers.keys import create_api_key

from .test_consent_admin import consents_of, contact_post

pytestmark = pytest.mark.django_db

EARLIER = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 28, 15, 30, tzinfo=UTC)
REFUSAL = "Only the contact can undo an opt-out"


@pytest.fixture
def ana(db) -> Contact:
    return Contact.objects.create(external_id="ana", email="ana@example.com")


@pytest.fixture
def opted_out(ana) -> Consent:
    """Ana clicked the unsubscribe link of an email."""
    return consent_module.unsubscribe(ana, "email", source="unsubscribe link (delivery 7)", at=EARLIER)


@pytest.fixture
def as_marketer(client, marketer):
    client.force_login(marketer)
    return client


@pytest.fixture
def website(db) -> APIClient:
    _, raw = create_api_key("Shop website", scope="events:write", source="shop")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_a_marketer_cannot_resubscribe_on_the_consent_page(as_marketer, opted_out):
    url = reverse("admin:journeys_consent_change", args=[opted_out.pk])

    response = as_marketer.post(url, {"status": "subscribed"})

    assert response.status_code == 200
    assert REFUSAL in response.content.decode()
    assert consents_of(opted_out.contact) == [("email", "unsubscribed", "unsubscribe link (delivery 7)", EARLIER)]


def test_a_marketer_cannot_resubscribe_on_the_contact_page_and_sees_the_history(as_marketer, opted_out):
    ana = opted_out.contact
    url = reverse("admin:journeys_contact_change", args=[ana.pk])
    rows = [{"id": str(opted_out.pk), "channel": "email", "status": "subscribed"}]

    response = as_marketer.post(url, contact_post(ana, rows, 1))
    page = as_marketer.get(url).content.decode()

    assert response.status_code == 200
    assert REFUSAL in response.content.decode()
    assert consents_of(ana) == [("email", "unsubscribed", "unsubscribe link (delivery 7)", EARLIER)]
    assert "Consent history" in page and "unsubscribe link (delivery 7)" in page


def test_the_set_consent_writer_refuses_the_admin_too(opted_out):
    with pytest.raises(consent_module.ConsentRefused):
        consent_module.set_consent(opted_out.contact, "email", "subscribed", source=consent_module.SOURCE_ADMIN)

    assert Consent.objects.get().status == "unsubscribed"


def test_the_contact_comes_back_through_a_new_opt_in_with_its_source(website, opted_out):
    with time_machine.travel(NOW, tick=False):
        response = website.post(
            "/api/v1/contacts/ana/consent", {"channel": "email", "source": "sign-up form"}, format="json"
        )

    assert response.status_code == 200, response.content
    assert response.json() == {
        "contact": "ana",
        "channel": "email",
        "status": "subscribed",
        "source": "api: sign-up form",
        "changed_at": "2026-11-28T15:30:00Z",
    }
    assert consents_of(opted_out.contact) == [("email", "subscribed", "api: sign-up form", NOW)]
    history = list(ConsentChange.objects.values_list("status", "source", "at"))
    assert history == [
        ("subscribed", "api: sign-up form", NOW),
        ("unsubscribed", "unsubscribe link (delivery 7)", EARLIER),
    ]


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/api/v1/contacts/ana/consent", {"channel": "fax", "source": "form"}, 400, "channel"),
        ("/api/v1/contacts/ana/consent", {"channel": "email"}, 400, "source"),
        ("/api/v1/contacts/ana/consent", {"channel": "email", "source": "x" * 200}, 400, "source"),
        ("/api/v1/contacts/ana/consent", {"channel": "email", "source": "a\u0000b"}, 400, "source"),
        ("/api/v1/contacts/ana/consent", {"channel": "email", "status": "maybe", "source": "form"}, 400, "status"),
        ("/api/v1/contacts/nobody/consent", {"channel": "email", "source": "form"}, 404, None),
    ],
)
def test_a_wrong_opt_in_is_refused_and_changes_nothing(website, opted_out, path, body, status, field):
    response = website.post(path, body, format="json")

    assert response.status_code == status, response.content
    if field:
        assert [e["field"] for e in response.json()["errors"]] == [field]
    assert Consent.objects.get().status == "unsubscribed"


def test_a_read_key_or_no_key_cannot_opt_a_contact_in(opted_out):
    _, raw = create_api_key("Reports", scope="read", source="reports")
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    body = {"channel": "email", "source": "form"}

    assert reader.post("/api/v1/contacts/ana/consent", body, format="json").status_code == 403
    assert APIClient().post("/api/v1/contacts/ana/consent", body, format="json").status_code == 401
    assert Consent.objects.get().status == "unsubscribed"
