"""Consent in the admin goes through its one writer, journeys.consent.set_consent: the
Consent pages and the consent rows on a contact's page record source "admin" and the time of
the change, the admin history says who, and nothing else can be written by hand."""

from datetime import UTC, datetime
from unittest import mock

import pytest
import time_machine
from django.contrib.admin.models import CHANGE, LogEntry
from django.urls import reverse

from journeys import consent as consent_module
from journeys.models import Consent, Contact

pytestmark = pytest.mark.django_db

EARLIER = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 28, 15, 30, tzinfo=UTC)


@pytest.fixture
def ana(db) -> Contact:
    return Contact.objects.create(external_id="ana", email="ana@example.com", phone="+15551230001")


@pytest.fixture
def opted_out_by_text(ana) -> Consent:
    """Ana replied STOP to a text a month ago."""
    return consent_module.set_consent(ana, "text", "unsubscribed", source="text reply (STOP)", at=EARLIER)


@pytest.fixture
def subscribed_to_texts(ana) -> Consent:
    """Ana ticked "texts welcome" on the shop's sign-up form a month ago."""
    return consent_module.set_consent(ana, "text", "subscribed", source="api: sign-up form", at=EARLIER)


@pytest.fixture
def as_marketer(client, marketer):
    client.force_login(marketer)
    return client


def spy_set_consent():
    """set_consent as the admin calls it, still doing its work."""
    return mock.patch("journeys.admin.set_consent", wraps=consent_module.set_consent)


def contact_post(contact: Contact, rows: list[dict], initial: int) -> dict:
    """The contact's change form as the page sends it, with its consent rows."""
    data = {
        "external_id": contact.external_id,
        "email": contact.email,
        "phone": contact.phone,
        "push_token": contact.push_token,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "time_zone": contact.time_zone,
        "attributes": "{}",
        "initial-attributes": "{}",
        "consents-TOTAL_FORMS": str(len(rows)),
        "consents-INITIAL_FORMS": str(initial),
        "consents-MIN_NUM_FORMS": "0",
        "consents-MAX_NUM_FORMS": "1000",
        # The consent history below them: read-only, nothing posted.
        "consent_changes-TOTAL_FORMS": "0",
        "consent_changes-INITIAL_FORMS": "0",
        "_save": "Save",
    }
    for i, row in enumerate(rows):
        data.update({f"consents-{i}-{name}": value for name, value in row.items()})
        data[f"consents-{i}-contact"] = str(contact.pk)
    return data


def consents_of(contact: Contact) -> list[tuple]:
    return list(contact.consents.order_by("channel").values_list("channel", "status", "source", "changed_at"))


# --- The Consent pages -------------------------------------------------------------------------


def test_changing_a_consent_goes_through_set_consent_with_source_admin(as_marketer, marketer, subscribed_to_texts):
    url = reverse("admin:journeys_consent_change", args=[subscribed_to_texts.pk])

    with spy_set_consent() as writer, time_machine.travel(NOW, tick=False):
        # A hand-typed source and time, or another channel, are not taken from the form.
        response = as_marketer.post(
            url, {"status": "unsubscribed", "source": "typed by hand", "channel": "email", "changed_at_0": "2020-01-01"}
        )

    assert response.status_code == 302
    writer.assert_called_once_with(subscribed_to_texts.contact, "text", "unsubscribed", source="admin")
    assert consents_of(subscribed_to_texts.contact) == [("text", "unsubscribed", "admin", NOW)]
    entry = LogEntry.objects.get(object_id=str(subscribed_to_texts.pk), content_type__model="consent")
    assert (entry.user, entry.action_flag, entry.get_change_message()) == (marketer, CHANGE, "Changed Status.")


def test_adding_a_consent_records_it_with_source_admin(as_marketer, ana):
    with spy_set_consent() as writer, time_machine.travel(NOW, tick=False):
        response = as_marketer.post(
            reverse("admin:journeys_consent_add"),
            {"contact": ana.pk, "channel": "email", "status": "unsubscribed", "source": "typed by hand"},
        )

    assert response.status_code == 302
    writer.assert_called_once_with(ana, "email", "unsubscribed", source="admin")
    assert consents_of(ana) == [("email", "unsubscribed", "admin", NOW)]
    consent = Consent.objects.get()
    assert response["Location"] == reverse("admin:journeys_consent_changelist")
    assert LogEntry.objects.get(object_id=str(consent.pk)).user.username == "marketer"


def test_a_second_consent_for_the_same_channel_is_refused(as_marketer, opted_out_by_text):
    ana = opted_out_by_text.contact
    with spy_set_consent() as writer:
        response = as_marketer.post(
            reverse("admin:journeys_consent_add"), {"contact": ana.pk, "channel": "text", "status": "subscribed"}
        )

    assert response.status_code == 200
    assert "Consent with this Contact and Channel already exists." in response.content.decode()
    writer.assert_not_called()
    assert consents_of(ana) == [("text", "unsubscribed", "text reply (STOP)", EARLIER)]


def test_saving_a_consent_unchanged_keeps_where_and_when_it_was_given(as_marketer, opted_out_by_text):
    url = reverse("admin:journeys_consent_change", args=[opted_out_by_text.pk])

    with spy_set_consent() as writer, time_machine.travel(NOW, tick=False):
        response = as_marketer.post(url, {"status": "unsubscribed"})

    assert response.status_code == 302
    writer.assert_not_called()
    assert consents_of(opted_out_by_text.contact) == [("text", "unsubscribed", "text reply (STOP)", EARLIER)]


def test_the_consent_page_shows_only_the_status_as_editable(as_marketer, opted_out_by_text):
    page = as_marketer.get(reverse("admin:journeys_consent_change", args=[opted_out_by_text.pk])).content.decode()

    assert 'name="status"' in page
    for fixed in ("contact", "channel", "source", "changed_at"):
        assert f'name="{fixed}"' not in page
    assert "text reply (STOP)" in page


def test_a_consent_cannot_be_deleted_but_its_contact_can(as_marketer, opted_out_by_text):
    ana = opted_out_by_text.contact

    response = as_marketer.post(reverse("admin:journeys_consent_delete", args=[opted_out_by_text.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert Consent.objects.filter(pk=opted_out_by_text.pk).exists()
    changelist = as_marketer.get(reverse("admin:journeys_consent_changelist")).content.decode()
    assert "delete_selected" not in changelist

    # Erasing the person erases their consent rows with them.
    confirm = as_marketer.get(reverse("admin:journeys_contact_delete", args=[ana.pk])).content.decode()
    assert "permission to delete" not in confirm
    response = as_marketer.post(reverse("admin:journeys_contact_delete", args=[ana.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Contact.objects.exists()
    assert not Consent.objects.exists()


def test_an_analyst_reads_consents_and_changes_none(client, analyst, opted_out_by_text):
    client.force_login(analyst)
    url = reverse("admin:journeys_consent_change", args=[opted_out_by_text.pk])

    assert client.get(url).status_code == 200
    assert client.post(url, {"status": "subscribed"}).status_code == 403
    contact_url = reverse("admin:journeys_contact_change", args=[opted_out_by_text.contact.pk])
    row = {"id": str(opted_out_by_text.pk), "channel": "text", "status": "subscribed"}
    assert client.post(contact_url, contact_post(opted_out_by_text.contact, [row], initial=1)).status_code == 403
    assert consents_of(opted_out_by_text.contact) == [("text", "unsubscribed", "text reply (STOP)", EARLIER)]


# --- The consent rows on a contact's page ---------------------------------------------------------


def test_the_contact_page_changes_and_adds_consent_through_set_consent(as_marketer, marketer, subscribed_to_texts):
    ana = subscribed_to_texts.contact
    rows = [
        {"id": str(subscribed_to_texts.pk), "channel": "text", "status": "unsubscribed"},
        {"id": "", "channel": "email", "status": "unsubscribed"},
    ]

    with spy_set_consent() as writer, time_machine.travel(NOW, tick=False):
        response = as_marketer.post(reverse("admin:journeys_contact_change", args=[ana.pk]), contact_post(ana, rows, 1))

    assert response.status_code == 302, response.content.decode()[:2000]
    assert sorted(c.args for c in writer.call_args_list) == [
        (ana, "email", "unsubscribed"),
        (ana, "text", "unsubscribed"),
    ]
    assert {c.kwargs["source"] for c in writer.call_args_list} == {"admin"}
    assert consents_of(ana) == [("email", "unsubscribed", "admin", NOW), ("text", "unsubscribed", "admin", NOW)]
    entry = LogEntry.objects.get(object_id=str(ana.pk), content_type__model="contact")
    assert entry.user == marketer
    assert entry.get_change_message() == (
        "Added consent “ana email: unsubscribed”. Changed Status for consent “ana text: unsubscribed”."
    )


def test_the_contact_page_leaves_unchanged_consent_alone(as_marketer, opted_out_by_text):
    ana = opted_out_by_text.contact
    rows = [{"id": str(opted_out_by_text.pk), "channel": "text", "status": "unsubscribed"}]

    with spy_set_consent() as writer:
        response = as_marketer.post(reverse("admin:journeys_contact_change", args=[ana.pk]), contact_post(ana, rows, 1))

    assert response.status_code == 302
    writer.assert_not_called()
    assert consents_of(ana) == [("text", "unsubscribed", "text reply (STOP)", EARLIER)]


def test_the_contact_page_keeps_the_channel_of_a_consent_and_refuses_a_second_row_for_it(
    as_marketer, opted_out_by_text
):
    ana = opted_out_by_text.contact
    url = reverse("admin:journeys_contact_change", args=[ana.pk])

    # The channel of an existing row is shown, not editable: a posted one is ignored.
    rows = [{"id": str(opted_out_by_text.pk), "channel": "email", "status": "unsubscribed"}]
    assert as_marketer.post(url, contact_post(ana, rows, 1)).status_code == 302
    assert consents_of(ana) == [("text", "unsubscribed", "text reply (STOP)", EARLIER)]
    page = as_marketer.get(url).content.decode()
    assert 'name="consents-0-channel"' in page and "disabled" in page.split('name="consents-0-channel"')[1][:200]

    rows = [
        {"id": str(opted_out_by_text.pk), "channel": "text", "status": "unsubscribed"},
        {"id": "", "channel": "text", "status": "subscribed"},
    ]
    with spy_set_consent() as writer:
        response = as_marketer.post(url, contact_post(ana, rows, 1))
    assert response.status_code == 200
    assert "Please correct the duplicate data for channel." in response.content.decode()
    writer.assert_not_called()
    assert consents_of(ana) == [("text", "unsubscribed", "text reply (STOP)", EARLIER)]


def test_a_new_contact_gets_its_consent_through_set_consent(as_marketer):
    data = contact_post(Contact(external_id="bea", email="bea@example.com"), [], 0)
    data.update(
        {
            "consents-TOTAL_FORMS": "1",
            "consents-0-channel": "push",
            "consents-0-status": "unsubscribed",
            "consents-0-contact": "",
        }
    )
    with spy_set_consent() as writer, time_machine.travel(NOW, tick=False):
        response = as_marketer.post(reverse("admin:journeys_contact_add"), data)

    assert response.status_code == 302, response.content.decode()[:2000]
    bea = Contact.objects.get(external_id="bea")
    writer.assert_called_once_with(bea, "push", "unsubscribed", source="admin")
    assert consents_of(bea) == [("push", "unsubscribed", "admin", NOW)]
