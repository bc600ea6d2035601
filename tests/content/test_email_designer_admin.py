"""The designer on the email's admin page, without scripts: start from a template or another
email, edit the design's JSON, add a block from the form, switch to raw HTML (one way); its
live preview; the brand applied to every design; the seed's reminder built as a design."""

import json

import pytest
from django.urls import reverse

from content.designs import clean_design
from content.designs.starters import STARTERS
from content.models import Brand, ContentStatus, Email
from content.personalisation import personalisation_fields

FORM_FIELDS = ("name", "key", "purpose", "description", "subject", "preheader", "from_name", "from_email", "reply_to")


def _change(email):
    return reverse("admin:content_email_change", args=[email.pk])


def _post_change(client, email, **changes):
    data = {field: getattr(email, field) for field in FORM_FIELDS}
    data |= {"design": json.dumps(email.design), "text_body": email.text_body, "custom_text": ""} | changes
    if not data["custom_text"]:
        data.pop("custom_text")
    return client.post(_change(email), data, follow=True)


@pytest.fixture
def designed(db) -> Email:
    return Email.objects.create(
        key="cart",
        name="Cart",
        subject="Your cart",
        from_email="shop@example.com",
        design=STARTERS["abandoned-cart"].design,
    )


def test_a_new_email_starts_from_a_shipped_template_with_its_subject_and_renders_on_save(client, marketer):
    client.force_login(marketer)

    response = client.post(
        reverse("admin:content_email_add"),
        {
            "name": "Welcome",
            "key": "welcome",
            "purpose": "commercial",
            "start_from": "starter:welcome",
            "_continue": "1",
        },
        follow=True,
    )

    email = Email.objects.get(key="welcome")
    assert response.redirect_chain == [(_change(email), 302)]
    assert email.design == STARTERS["welcome"].design
    assert (email.subject, email.preheader) == ("Welcome to The Shop", "Thanks for joining: here is what happens next.")
    assert "<table" in email.html_body and 'href="{{ unsubscribe_url }}"' in email.html_body
    assert email.text_body.startswith("Welcome!\n\nThanks for joining us.")
    page = response.content.decode()
    assert 'id="email-designer-config"' in page
    assert "content/email_designer.js" in page
    assert 'name="design"' in page  # the JSON stays in the form: the page works without the script


def test_a_new_email_can_copy_another_emails_design_or_be_raw_html(client, marketer, designed):
    client.force_login(marketer)
    add = reverse("admin:content_email_add")

    client.post(add, {"name": "Copy", "key": "copy", "purpose": "commercial", "start_from": f"email:{designed.pk}"})
    client.post(
        add, {"name": "Raw", "key": "raw", "purpose": "commercial", "start_from": "raw", "html_body": "<p>x</p>"}
    )

    assert Email.objects.get(key="copy").design == designed.design
    raw = Email.objects.get(key="raw")
    assert (raw.design, raw.html_body) == (None, "<p>x</p>")


def test_without_scripts_the_marketer_edits_the_json_and_adds_a_block_from_the_form(client, marketer, designed):
    client.force_login(marketer)
    design = designed.design | {"blocks": [{"type": "heading", "text": "Hi {{ contact.first_name }}"}]}

    _post_change(client, designed, design=json.dumps(design), add_block="divider")

    designed.refresh_from_db()
    assert [b["type"] for b in designed.design["blocks"]] == ["heading", "divider"]
    assert "Hi {{ contact.first_name }}" in designed.html_body
    assert designed.text_body == "Hi {{ contact.first_name }}\n\n----\n\nUnsubscribe: {{ unsubscribe_url }}\n"


def test_a_malformed_design_is_refused_with_the_path_of_the_error_and_nothing_is_saved(client, marketer, designed):
    client.force_login(marketer)
    before = designed.html_body

    response = _post_change(
        client, designed, design=json.dumps({"blocks": [{"type": "button", "href": "javascript:x"}]})
    )

    assert "blocks[0].href: must be an http://, https:// or mailto: address" in response.content.decode()
    designed.refresh_from_db()
    assert designed.design == STARTERS["abandoned-cart"].design
    assert designed.html_body == before


def test_the_plain_text_part_can_be_written_by_hand(client, marketer, designed):
    client.force_login(marketer)

    _post_change(client, designed, custom_text="on", text_body="My own text. {{ unsubscribe_url }}")

    designed.refresh_from_db()
    assert (designed.custom_text, designed.text_body) == (True, "My own text. {{ unsubscribe_url }}")
    response = _post_change(client, designed, custom_text="on", text_body="No way out.", _check="1")
    assert "text_body: A commercial email needs an unsubscribe link" in response.content.decode()


def test_switching_to_raw_html_is_one_way_and_keeps_the_rendered_html(client, marketer, designed):
    client.force_login(marketer)
    rendered = designed.html_body

    response = _post_change(client, designed, switch_to_raw_html="on", _continue="1")

    designed.refresh_from_db()
    assert designed.design is None
    assert designed.html_body == rendered
    page = response.content.decode()
    assert 'name="html_body"' in page
    assert 'name="design"' not in page and "email-designer-config" not in page


def test_check_content_reports_the_designs_problems_and_blocks_ready_to_send(client, marketer, designed):
    client.force_login(marketer)
    design = {"version": 1, "blocks": [{"type": "image", "src": "https://shop.example.com/a.png", "alt": ""}]}

    response = _post_change(client, designed, design=json.dumps(design), _mark_ready="1")

    page = response.content.decode()
    assert "design: blocks[0]: The image needs alt text" in page
    assert "design: blocks: Image-heavy" not in page  # warnings are not listed among the errors
    assert Email.objects.get(pk=designed.pk).status == ContentStatus.DRAFT


def test_the_live_preview_renders_the_unsaved_design_with_sample_data_and_its_checks(client, marketer, designed):
    client.force_login(marketer)
    url = reverse("admin:content_email_design_preview", args=[designed.pk])
    design = {"blocks": [{"type": "heading", "text": "Hi {{ contact.first_name }}"}, {"type": "button", "label": "Go"}]}

    response = client.post(url, {"design": design, "subject": "For {{ contact.first_name }}"}, "application/json")

    data = response.json()
    assert data["subject"] == "For Ana"
    assert "Hi Ana" in data["html"] and "<table" in data["html"]
    assert "@media all" in data["dark_html"] and "@media all" not in data["html"]
    assert {"field": "design", "message": "blocks[1]: The button has no link (URL).", "severity": "error"} in data[
        "problems"
    ]
    assert Email.objects.get(pk=designed.pk).design == STARTERS["abandoned-cart"].design  # nothing saved
    bad = client.post(url, {"design": {"blocks": [{"type": "marquee"}]}}, "application/json")
    assert bad.status_code == 400
    assert bad.json()["errors"][0].startswith("blocks[0].type: must be one of")


def test_the_preview_page_shows_the_email_at_phone_width_and_in_dark_mode(client, marketer, designed):
    client.force_login(marketer)

    page = client.get(reverse("admin:content_email_preview", args=[designed.pk]), {"width": "375", "scheme": "dark"})

    html = page.content.decode()
    assert "width:375px" in html
    assert "@media all" in html
    assert "<strong>Phone (375 px)</strong>" in html and "<strong>Dark</strong>" in html


def test_the_brand_is_applied_to_every_designed_email_when_it_changes(client, marketer, designed):
    client.force_login(marketer)
    brand = Brand.objects.get()
    data = {
        "name": "Shop",
        "logo_url": "https://shop.example.com/logo.png",
        "primary_color": "#aa0000",
        "text_color": "#111111",
        "background_color": "#eeeeee",
        "content_color": "#ffffff",
        "font": "georgia",
        "width": "640",
    }

    response = client.post(reverse("admin:content_brand_change", args=[brand.pk]), data, follow=True)

    assert "The brand is applied to 1 designed email(s)." in response.content.decode()
    designed.refresh_from_db()
    assert 'src="https://shop.example.com/logo.png"' in designed.html_body
    assert "#aa0000" in designed.html_body
    refused = client.post(reverse("admin:content_brand_change", args=[brand.pk]), data | {"primary_color": "red"})
    assert "A colour like #1a73e8." in refused.content.decode()


def test_the_picker_offers_contact_fields_and_the_attributes_of_the_journeys_start_trigger(db):
    from journeys.demo import load_demo

    load_demo()
    reminder = Email.objects.get(key="initial-email-reminder")

    fields = personalisation_fields(reminder)

    assert fields[0] == {"group": "Contact", "variable": "contact.first_name", "label": "First name"}
    assert {
        "group": "Trigger: Abandoned cart",
        "variable": "trigger.cart_total",
        "label": "Value of the cart.",
    } in fields


def test_the_seed_reminder_is_a_design_whose_html_is_rendered_from_it(db):
    from journeys.bundles import export_bundle
    from journeys.demo import load_demo

    load_demo()
    reminder = Email.objects.get(key="initial-email-reminder")

    assert [block["type"] for block in reminder.design["blocks"]] == ["heading", "text", "button", "footer"]
    assert reminder.design == clean_design(reminder.design)
    assert "<table" in reminder.html_body and "{{ trigger.cart_total }}" in reminder.html_body
    assert reminder.text_body.startswith("Hello {{ contact.first_name|default:'there' }},\n\nYour cart worth")
    [exported] = [c for c in export_bundle(["abandoned-cart"])["content"] if c["key"] == "initial-email-reminder"]
    assert exported["design"] == reminder.design
    assert "html" not in exported and "text" not in exported


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


def test_an_uploaded_image_is_kept_and_served_to_mail_clients_at_its_public_address(client, marketer, designed):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(marketer)
    url = reverse("admin:content_email_design_image", args=[designed.pk])

    response = client.post(url, {"image": SimpleUploadedFile("mug.png", PNG, content_type="image/png")})

    address = response.json()["url"]
    assert address.startswith("http://testserver/i/") and address.endswith(".png")
    client.logout()
    image = client.get(address.removeprefix("http://testserver"))
    assert (image.status_code, image["Content-Type"], image.content) == (200, "image/png", PNG)
    assert image["X-Content-Type-Options"] == "nosniff"
    assert client.get(address.removeprefix("http://testserver").replace(".png", ".gif")).status_code == 404


def test_only_real_images_can_be_uploaded_and_only_by_who_may_change_the_email(client, marketer, analyst, designed):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from content.models import DesignImage

    url = reverse("admin:content_email_design_image", args=[designed.pk])
    svg = SimpleUploadedFile("x.png", b"<svg onload='alert(1)'/>", content_type="image/png")
    client.force_login(marketer)

    refused = client.post(url, {"image": svg})

    assert (refused.status_code, refused.json()) == (400, {"error": "Upload a PNG, JPEG, GIF or WebP image."})
    client.force_login(analyst)
    assert client.post(url, {"image": SimpleUploadedFile("a.png", PNG)}).status_code == 403
    assert DesignImage.objects.count() == 0


def test_the_brand_is_one_row_marketers_change_and_analysts_only_read(client, marketer, analyst):
    brand = Brand.objects.get()
    client.force_login(marketer)
    assert client.get(reverse("admin:content_brand_add")).status_code == 403
    assert client.get(reverse("admin:content_brand_change", args=[brand.pk])).status_code == 200
    client.force_login(analyst)
    assert client.get(reverse("admin:content_brand_change", args=[brand.pk])).status_code == 200
    response = client.post(reverse("admin:content_brand_change", args=[brand.pk]), {"name": "Mine"})
    assert response.status_code == 403
    assert Brand.objects.get().name == "The Shop"


def test_a_bundle_carries_an_emails_design_and_a_malformed_one_is_refused_with_its_path():
    from journeys.definition import BundleError, parse_bundle

    email = {"key": "e", "channel": "email", "subject": "S", "from_email": "shop@example.com"}
    good = parse_bundle({"content": [email | {"design": STARTERS["welcome"].design}]})
    assert good.content[0].fields["design"] == STARTERS["welcome"].design

    with pytest.raises(BundleError) as refused:
        parse_bundle({"content": [email | {"design": {"blocks": [{"type": "image", "src": "ftp://x"}]}}]})
    assert "content[0].design.blocks[0].src: must be an http://, https:// or mailto: address" in str(refused.value)
