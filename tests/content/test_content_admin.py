"""The marketer's content pages: read-only when ready, Check, Mark ready, Edit, Preview and
Test send; the analyst can look but not change or send."""

import pytest
from django.core import mail
from django.urls import reverse

from content.backends import common
from content.models import ContentStatus, Email, TextMessage


@pytest.fixture
def email(db) -> Email:
    return Email.objects.create(
        key="initial",
        name="Initial",
        subject="Hi {{ contact.first_name }}",
        from_email="shop@example.com",
        html_body='<p>Cart: {{ trigger.cart_total }}</p><script>alert(1)</script><a href="{{ unsubscribe_url }}">Unsubscribe</a>',
        text_body="Cart {{ trigger.cart_total }}. Unsubscribe: {{ unsubscribe_url }}",
    )


@pytest.fixture(autouse=True)
def _empty_outboxes():
    common.text_outbox.clear()
    yield
    common.text_outbox.clear()


def _url(name, obj, model="email"):
    return reverse(f"admin:content_{model}_{name}", args=[obj.pk])


def test_the_preview_shows_the_email_rendered_with_sample_data_in_a_sandboxed_frame(client, marketer, email):
    client.force_login(marketer)

    response = client.get(_url("preview", email))

    assert response.status_code == 200
    html = response.content.decode()
    assert "<strong>Subject:</strong> Hi Ana" in html
    assert 'sandbox=""' in html
    assert 'srcdoc="&lt;p&gt;Cart: 59.9&lt;/p&gt;&lt;script&gt;' in html  # escaped into the attribute
    assert "No problems found." in html
    assert "Test send" in html


def test_marking_ready_from_the_change_page_runs_the_check(client, marketer, email):
    client.force_login(marketer)
    Email.objects.filter(pk=email.pk).update(from_email="")

    response = client.post(_url("mark_ready", email), follow=True)

    assert Email.objects.get(pk=email.pk).status == ContentStatus.DRAFT
    assert "fix these first:<ul><li>from_email: A from address is required.</li></ul>" in response.content.decode()

    Email.objects.filter(pk=email.pk).update(from_email="shop@example.com")
    client.post(_url("mark_ready", email))
    assert Email.objects.get(pk=email.pk).status == ContentStatus.READY


def test_ready_content_is_read_only_until_edit_moves_it_back_to_draft(client, marketer, email):
    client.force_login(marketer)
    client.post(_url("mark_ready", email))

    page = client.get(reverse("admin:content_email_change", args=[email.pk])).content.decode()
    assert 'name="subject"' not in page
    assert "Edit (back to Draft)" in page
    client.post(
        reverse("admin:content_email_change", args=[email.pk]),
        {"subject": "Changed", "_save": "Save"},
    )
    assert Email.objects.get(pk=email.pk).subject == "Hi {{ contact.first_name }}"

    client.post(_url("edit", email))

    assert Email.objects.get(pk=email.pk).status == ContentStatus.DRAFT
    assert 'name="subject"' in client.get(reverse("admin:content_email_change", args=[email.pk])).content.decode()


def test_the_status_cannot_be_set_by_hand_in_the_form(client, marketer, email):
    client.force_login(marketer)

    page = client.get(reverse("admin:content_email_change", args=[email.pk])).content.decode()

    assert 'name="status"' not in page


def test_test_send_emails_the_address_the_marketer_types(client, marketer, email):
    client.force_login(marketer)

    response = client.post(_url("preview", email), {"address": " qa@example.com "})

    assert response.status_code == 302
    [message] = mail.outbox
    assert (message.subject, message.to) == ("[Test] Hi Ana", ["qa@example.com"])
    assert "Cart 59.9." in message.body


def test_a_test_send_to_a_bad_address_names_the_field_and_sends_nothing(client, marketer, email):
    client.force_login(marketer)

    response = client.post(_url("preview", email), {"address": "qa@"})

    assert response.status_code == 400
    assert "address: Enter a valid email address." in response.content.decode()
    assert mail.outbox == []


def test_test_send_of_a_text_goes_through_the_text_backend(client, marketer, db):
    text = TextMessage.objects.create(key="t", name="T", body="Hi {{ contact.first_name }}")
    client.force_login(marketer)

    client.post(_url("preview", text, "textmessage"), {"address": "+15557654321"})

    assert [(m.to, m.body) for m in common.text_outbox] == [("+15557654321", "Hi Ana")]


def test_the_analyst_sees_the_preview_but_cannot_send_mark_ready_or_edit(client, analyst, email):
    client.force_login(analyst)

    page = client.get(_url("preview", email))
    assert page.status_code == 200
    assert "Test send" not in page.content.decode()
    assert client.post(_url("preview", email), {"address": "qa@example.com"}).status_code == 403
    assert client.post(_url("mark_ready", email)).status_code == 403
    assert mail.outbox == []
    assert Email.objects.get(pk=email.pk).status == ContentStatus.DRAFT


def test_an_outsider_cannot_see_the_preview(client, outsider, email):
    client.force_login(outsider)

    assert client.get(_url("preview", email)).status_code == 403


def test_the_check_action_reports_every_problem(client, marketer, email):
    client.force_login(marketer)
    Email.objects.filter(pk=email.pk).update(subject="", html_body="")

    response = client.post(
        reverse("admin:content_email_changelist"),
        {"action": "check_selected", "_selected_action": [email.pk]},
        follow=True,
    )

    assert (
        "has 2 problem(s):<ul><li>subject: A subject is required.</li><li>html_body: An HTML body is required.</li></ul>"
        in response.content.decode()
    )


def test_edit_is_refused_while_a_live_journey_sends_the_message(client, marketer, email):
    from journeys.models import Journey, JourneyVersion, Step

    client.force_login(marketer)
    client.post(_url("mark_ready", email))
    journey = Journey.objects.create(key="cart", name="Abandoned cart", status="live")
    version = JourneyVersion.objects.create(journey=journey, number=2, state="published")
    Step.objects.create(version=version, key="initial-email", kind="email", content=email)

    response = client.post(_url("edit", email), follow=True)

    assert Email.objects.get(pk=email.pk).status == ContentStatus.READY
    assert (
        "cannot be edited while live journeys send it:<ul><li>journey “Abandoned cart” (v2, live), step initial-email</li></ul>"
        in response.content.decode()
    )
