"""The marketer's content pages: read-only when ready, Check, Mark ready, Edit, Preview and
Test send; the analyst can look but not change or send."""

import re

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


EMAIL_FIELDS = (
    "name", "key", "purpose", "description", "subject", "preheader", "from_name", "from_email", "reply_to",
    "html_body", "text_body",
)  # fmt: skip


def _page(response) -> str:
    """The page's HTML without inline styles (the admin messages' lists carry some)."""
    return re.sub(r' style="[^"]*"', "", response.content.decode())


def _save(client, email, button, **changes):
    """Submit the email's change form as the marketer would, with one of its buttons."""
    data = {field: getattr(email, field) for field in EMAIL_FIELDS} | changes | {button: "1"}
    return client.post(_url("change", email), data, follow=True)


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


def test_save_and_mark_ready_saves_the_form_then_runs_the_check(client, marketer, email):
    client.force_login(marketer)

    response = _save(client, email, "_mark_ready", from_email="", subject="Hello {{ contact.first_name }}")

    saved = Email.objects.get(pk=email.pk)
    assert (saved.status, saved.subject, saved.from_email) == (
        ContentStatus.DRAFT,
        "Hello {{ contact.first_name }}",
        "",
    )
    assert response.redirect_chain == [(_url("change", email), 302)]
    assert "fix these first:<ul><li>from_email: A from address is required.</li></ul>" in _page(response)

    response = _save(client, email, "_mark_ready", from_email="shop@example.com")

    assert Email.objects.get(pk=email.pk).status == ContentStatus.READY
    assert "“Initial” is ready to send." in response.content.decode()


def test_save_and_check_content_lists_every_problem_and_keeps_the_draft(client, marketer, email):
    client.force_login(marketer)

    response = _save(client, email, "_check", subject="", text_body="Cart {% if trigger.cart_total %}")

    html = _page(response)
    assert Email.objects.get(pk=email.pk).status == ContentStatus.DRAFT
    assert Email.objects.get(pk=email.pk).text_body == "Cart {% if trigger.cart_total %}"
    assert "has 3 problem(s):<ul><li>subject: A subject is required.</li>" in html
    assert "<li>text_body: The template does not compile: " in html
    assert (
        "<li>text_body: A commercial email needs an unsubscribe link: add {{ unsubscribe_url }} to the plain-text body.</li>"
        in html
    )

    response = _save(client, email, "_check")
    assert "“Initial”: no problems found." in response.content.decode()


def test_a_new_message_can_be_saved_and_checked_at_once(client, marketer, db):
    client.force_login(marketer)
    data = {field: "" for field in EMAIL_FIELDS} | {
        "name": "Welcome", "key": "welcome", "purpose": "transactional", "subject": "Welcome",
        "from_email": "shop@example.com", "html_body": "<p>Hi</p>", "text_body": "Hi", "_check": "1",
    }  # fmt: skip

    response = client.post(reverse("admin:content_email_add"), data, follow=True)

    welcome = Email.objects.get(key="welcome")
    assert response.redirect_chain == [(_url("change", welcome), 302)]
    assert welcome.status == ContentStatus.DRAFT
    assert "“Welcome”: no problems found." in response.content.decode()


def test_ready_content_is_read_only_until_edit_moves_it_back_to_draft(client, marketer, email):
    client.force_login(marketer)
    _save(client, email, "_mark_ready")
    updated_at = Email.objects.get(pk=email.pk).updated_at

    page = client.get(reverse("admin:content_email_change", args=[email.pk])).content.decode()
    assert 'name="subject"' not in page
    assert 'name="_save"' not in page and 'name="_continue"' not in page and 'name="_mark_ready"' not in page
    assert "Edit (back to Draft)" in page
    # A form opened before the message became ready changes nothing.
    response = _save(client, email, "_save", subject="Changed")
    assert "is ready to send and read-only: press Edit to change it." in response.content.decode()
    unchanged = Email.objects.get(pk=email.pk)
    assert (unchanged.subject, unchanged.updated_at) == ("Hi {{ contact.first_name }}", updated_at)

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
    assert _save(client, email, "_mark_ready").status_code == 403
    assert client.post(_url("edit", email)).status_code == 403
    assert 'name="_check"' not in client.get(_url("change", email)).content.decode()
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
        in _page(response)
    )


def test_edit_is_refused_while_a_live_journey_sends_the_message(client, marketer, email):
    from journeys.models import Journey, JourneyVersion, Step

    client.force_login(marketer)
    _save(client, email, "_mark_ready")
    journey = Journey.objects.create(key="cart", name="Abandoned cart", status="live")
    version = JourneyVersion.objects.create(journey=journey, number=2, state="published")
    Step.objects.create(version=version, key="initial-email", kind="email", content=email)

    response = client.post(_url("edit", email), follow=True)

    assert Email.objects.get(pk=email.pk).status == ContentStatus.READY
    assert (
        "cannot be edited while live journeys send it:<ul><li>journey “Abandoned cart” (v2, live), step initial-email</li></ul>"
        in _page(response)
    )
