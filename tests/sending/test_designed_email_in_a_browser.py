"""The designer's 'done when': in a real browser a marketer builds the seed's three-block
reminder from a template, personalises it with the picker, previews it at 600 px and 375 px
(light and dark), marks it Ready to send; then a real SMTP server receives it as a multipart
email whose HTML is table-based and inlined, with the pixel, tracked links and unsubscribe link."""

import email as email_lib
import re
from email import policy

import pytest
from playwright.sync_api import expect

from content.models import ContentStatus, Email
from journeys.sending import dispatch_delivery
from triggers.models import TriggerAttribute

from . import test_smtp_journey_email

smtp_server = test_smtp_journey_email.smtp_server  # the real SMTP server (aiosmtpd) fixture

# The designer is driven from the keyboard (Enter on its buttons), which it must support anyway:
# right after a scroll, headless Chromium can route a mouse click to where the sandboxed
# preview frame was, so mouse clicks near it would make the test flaky.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _insert(page, variable: str, fallback: str = "") -> None:
    page.select_option("#dsg-variable", variable)
    page.fill("#dsg-fallback", fallback)
    page.get_by_role("button", name="Insert", exact=True).press("Enter")


def test_a_marketer_designs_the_reminder_and_a_real_smtp_server_receives_it_table_based_and_tracked(
    marketer, page, login, live_server, smtp_server, cart_trigger, make_delivery
):
    TriggerAttribute.objects.create(trigger=cart_trigger, name="cart_total", type="number", description="Cart total")
    login(page, marketer)
    page.goto(f"{live_server.url}/admin/content/email/add/")
    page.fill("#id_name", "Cart reminder")
    page.fill("#id_from_name", "Shop")
    page.fill("#id_from_email", "shop@example.com")
    page.select_option("#id_start_from", label="Abandoned cart")
    page.get_by_role("button", name="Save and continue editing").click()

    designer = page.locator("#email-designer")
    cards = designer.locator("ol.dsg-blocks > li.dsg-block")
    expect(cards).to_have_count(4)  # heading, text, button and the footer
    assert page.locator("#id_subject").input_value() == "You left something in your cart"

    heading = designer.get_by_label("Heading", exact=True)
    heading.fill("Hello ")
    _insert(page, "contact.first_name", "there")
    heading.press("End")
    heading.type(",")
    text = designer.get_by_role("textbox", name="Text", exact=True)
    text.fill("Your cart worth ")
    text.press("End")
    _insert(page, "trigger.cart_total")
    text.press("End")
    text.type(" is waiting for you.")
    designer.get_by_role("button", name="Add Divider to the email").press("Enter")
    designer.get_by_role("button", name="Move Divider up").press("Enter")  # above the footer
    expect(designer.get_by_role("button", name="Move Divider up")).to_be_focused()
    # Dragged onto the button's card: the browser's drag events, sent to the cards themselves.
    drag = page.evaluate_handle("new DataTransfer()")
    designer.locator("li.dsg-block-divider").dispatch_event("dragstart", {"dataTransfer": drag})
    designer.locator("li.dsg-block-button").dispatch_event("dragover", {"dataTransfer": drag})
    designer.locator("li.dsg-block-button").dispatch_event("drop", {"dataTransfer": drag})
    expect(cards.locator(".dsg-block-head strong")).to_have_text(["Heading", "Text", "Divider", "Button", "Footer"])

    frame = designer.frame_locator("iframe.dsg-frame")
    expect(frame.locator("h1")).to_have_text("Hello Ana,")
    expect(frame.get_by_text("Your cart worth 59.9 is waiting for you.")).to_be_visible()
    expect(designer.locator(".dsg-problems")).to_have_text("No problems found.")
    expect(page.locator("#id_text_body")).to_have_value(re.compile(r"^Hello \{\{ contact.first_name"))
    page.screenshot(path=page.artifacts / "designer-600px-light.png", full_page=True)
    designer.locator(".dsg-preview").screenshot(path=page.artifacts / "preview-600px-light.png")
    designer.get_by_role("button", name="Phone (375 px)").press("Enter")
    designer.get_by_role("button", name="Dark").press("Enter")
    expect(designer.locator("iframe.dsg-frame")).to_have_attribute("title", "Email preview, phone, dark")
    assert designer.locator("iframe.dsg-frame").bounding_box()["width"] == pytest.approx(375, abs=2)
    expect(frame.locator("h1")).to_have_text("Hello Ana,")
    page.screenshot(path=page.artifacts / "designer-375px-dark.png", full_page=True)
    designer.locator(".dsg-preview").screenshot(path=page.artifacts / "preview-375px-dark.png")

    page.get_by_role("button", name="Save and mark ready to send").press("Enter")
    expect(page.locator(".messagelist")).to_contain_text("“Cart reminder” is ready to send.")
    page.screenshot(path=page.artifacts / "ready.png", full_page=True)
    page.get_by_role("link", name="Preview, check and test send").click()
    page.get_by_role("link", name="Phone (375 px)").press("Enter")
    page.get_by_role("link", name="Dark").press("Enter")
    expect(page.locator("iframe[title='Email preview']")).to_have_attribute("style", re.compile("width:375px"))
    page.screenshot(path=page.artifacts / "preview-page-375px-dark.png", full_page=True)

    reminder = Email.objects.get(key="cart-reminder")
    assert reminder.status == ContentStatus.READY
    assert [block["type"] for block in reminder.design["blocks"]] == ["heading", "text", "divider", "button", "footer"]
    assert reminder.design["blocks"][0]["text"] == "Hello {{ contact.first_name|default:'there' }},"
    assert "{{ trigger.cart_total }}" in reminder.design["blocks"][1]["html"]

    dispatch_delivery(make_delivery(reminder).pk)

    [(recipients, raw)] = smtp_server.messages
    message = email_lib.message_from_bytes(raw, policy=policy.default)
    assert recipients == ["ana@example.com"]
    assert message.get_content_type() == "multipart/alternative"
    html = message.get_body(preferencelist=("html",)).get_content()
    text_part = message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    assert html.count("<table") >= 4
    assert re.search(r'<td[^>]*style="[^"]*background:\s*#1a73e8', html)  # the button's style, inlined
    assert "<h1" in html and "Hello Ana," in html
    assert "Your cart worth 59.9 is waiting for you." in html
    assert re.search(r'<img src="http://testserver/t/o/[^"]+\.gif"', html)
    unsubscribe = re.fullmatch(r"<(http://testserver/u/[^>]+)>", message["List-Unsubscribe"].strip()).group(1)
    links = re.findall(r'<a href="([^"]+)"', html)
    assert [link for link in links if link.startswith("http://testserver/t/c/")]  # the button, tracked
    assert unsubscribe in links
    assert "shop.example.com" not in html.split("<body", 1)[1].split("/t/o/")[0].replace("shop@example.com", "")
    assert text_part.startswith("Hello Ana,\n\nYour cart worth 59.9 is waiting for you.")
    assert f"Unsubscribe: {unsubscribe}" in text_part
