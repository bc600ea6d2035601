"""A marketer writes an email in a real browser: saves a half-written draft, checks it, fixes
it, previews it with sample data, sends a test, marks it ready (read-only), and edits again."""

import pytest
from django.core import mail

from content.models import ContentStatus, Email

# live_server commits, so this test runs in a real transaction; serialized rollback gives it
# back the rows migrations wrote (the Marketer role) whatever flushed the tables before.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_a_marketer_writes_checks_previews_test_sends_and_readies_an_email(marketer, page, login, live_server):
    login(page, marketer)
    page.goto(f"{live_server.url}/admin/content/email/add/")
    page.fill("#id_name", "Cart reminder")
    page.fill("#id_subject", "{{ contact.first_name }}, your cart of {{ trigger.cart_total }} is waiting")
    page.fill("#id_from_name", "Shop")
    page.fill("#id_html_body", "<p>Hi {{ contact.first_name|default:'there' }}</p>{% if trigger.cart %}")

    page.get_by_role("button", name="Save and check content").click()

    problems = page.locator(".messagelist li.error").inner_text()
    assert "has 4 problem(s)" in problems
    for expected in (
        "from_email: A from address is required.",
        "text_body: A plain-text body is required.",
        "html_body: The template does not compile",
        "html_body: A commercial email needs an unsubscribe link",
    ):
        assert expected in problems
    page.screenshot(path=page.artifacts / "check-content.png", full_page=True)
    draft = Email.objects.get(key="cart-reminder")  # the key is filled in from the name
    assert draft.status == ContentStatus.DRAFT

    page.fill("#id_from_email", "shop@example.com")
    page.fill(
        "#id_html_body",
        "<p>Hi {{ contact.first_name|default:'there' }}</p>"
        "<ul>{% for item in trigger.cart.items %}<li>{{ item.name }}</li>{% endfor %}</ul>"
        '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
    )
    page.fill("#id_text_body", "Hi {{ contact.first_name }}. Unsubscribe: {{ unsubscribe_url }}")
    page.get_by_role("button", name="Save and check content").click()
    assert "no problems found" in page.locator(".messagelist").inner_text()

    page.get_by_role("link", name="Preview, check and test send").click()
    assert page.get_by_text("Subject: Ana, your cart of 59.9 is waiting").is_visible()
    frame = page.frame_locator("iframe[title='Email preview']")
    assert frame.locator("p").first.inner_text() == "Hi Ana"
    assert frame.locator("li").all_inner_texts() == ["Blue mug", "Tea"]
    page.fill("#id_address", "qa@example.com")
    page.get_by_role("button", name="Send test").click()
    assert "Test sent to qa@example.com." in page.locator(".messagelist").inner_text()
    page.screenshot(path=page.artifacts / "preview.png", full_page=True)
    [test_email] = mail.outbox
    assert (test_email.to, test_email.subject) == (["qa@example.com"], "[Test] Ana, your cart of 59.9 is waiting")

    page.get_by_role("link", name="Cart reminder").click()
    page.get_by_role("button", name="Save and mark ready to send").click()
    assert "“Cart reminder” is ready to send." in page.locator(".messagelist").inner_text()
    assert page.locator("#id_subject").count() == 0  # read-only: shown as text, not a field
    assert page.get_by_role("button", name="Save", exact=True).count() == 0
    page.screenshot(path=page.artifacts / "ready.png", full_page=True)
    assert Email.objects.get(pk=draft.pk).status == ContentStatus.READY

    page.get_by_role("button", name="Edit (back to Draft)").click()
    assert "is back in Draft and can be edited" in page.locator(".messagelist").inner_text()
    assert page.locator("#id_subject").is_editable()
    assert Email.objects.get(pk=draft.pk).status == ContentStatus.DRAFT
