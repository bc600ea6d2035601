"""The designer in a real browser: an uploaded image and its alt text checked live; and the
same page with scripts off, where the design is edited as JSON and blocks added from the form."""

import json

import pytest
from playwright.sync_api import expect

from content.designs.starters import STARTERS
from content.models import Email

from .test_email_designer_admin import PNG

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def designed(db) -> Email:
    return Email.objects.create(
        key="welcome",
        name="Welcome",
        subject="Welcome",
        from_email="shop@example.com",
        design=STARTERS["welcome"].design,
    )


def test_an_image_is_uploaded_and_the_check_asks_for_its_alt_text_until_it_is_given(
    marketer, page, login, live_server, designed
):
    login(page, marketer)
    page.goto(f"{live_server.url}/admin/content/email/{designed.pk}/change/")
    designer = page.locator("#email-designer")

    designer.get_by_role("button", name="Add Image to the email").press("Enter")  # keyboard: see the other test
    image = designer.locator("li.dsg-block-image")
    image.get_by_label("…or upload an image").set_input_files(
        {"name": "mug.png", "mimeType": "image/png", "buffer": PNG}
    )

    expect(image.get_by_role("status")).to_have_text("Uploaded.")
    assert "/i/" in image.get_by_label("Image address").input_value()
    expect(designer.locator(".dsg-problems")).to_contain_text("The image needs alt text")
    image.get_by_label("Alt text").fill("A blue mug")
    expect(designer.locator(".dsg-problems")).not_to_contain_text("The image needs alt text")
    page.screenshot(path=page.artifacts / "image-uploaded.png", full_page=True)
    page.get_by_role("button", name="Save and continue editing").press("Enter")

    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    block = Email.objects.get(pk=designed.pk).design["blocks"][-1]
    assert (block["type"], block["alt"]) == ("image", "A blue mug")
    assert "/i/" in block["src"] and block["src"].endswith(".png")


def test_without_scripts_the_design_is_edited_as_json_and_a_block_is_added_from_the_form(
    browser, marketer, login, live_server, designed, request
):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        login(page, marketer)
        page.goto(f"{live_server.url}/admin/content/email/{designed.pk}/change/")

        assert page.locator("#email-designer").count() == 0
        design = json.loads(page.locator("#id_design").input_value())
        design["blocks"][0]["text"] = "Welcome, {{ contact.first_name|default:'friend' }}!"
        page.fill("#id_design", json.dumps(design))
        page.select_option("#id_add_block", "spacer")
        page.get_by_role("button", name="Save and continue editing").click()

        expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
        saved = Email.objects.get(pk=designed.pk)
        assert saved.design["blocks"][0]["text"] == "Welcome, {{ contact.first_name|default:'friend' }}!"
        assert saved.design["blocks"][-1] == {"type": "spacer", "height": 24}
        assert "Welcome, {{ contact.first_name|default:'friend' }}!" in saved.html_body
    finally:
        context.close()
