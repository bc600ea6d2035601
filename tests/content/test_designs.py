"""The designer's core, without a database: a design's JSON is checked, sanitized and
rendered through MJML to the same table-based, inlined HTML every time."""

import re

import pytest

from content.designs import (
    BrandStyle,
    InvalidDesign,
    clean_design,
    design_problems,
    render_design,
)
from content.designs.starters import STARTERS
from content.rendering import render
from content.samples import SAMPLE_CONTEXT

REMINDER = {
    "version": 1,
    "blocks": [
        {"type": "heading", "text": "Hello {{ contact.first_name|default:'there' }},"},
        {"type": "text", "html": "<p>Your cart worth {{ trigger.cart_total }} is <b>waiting</b> for you.</p>"},
        {"type": "button", "label": "Finish your purchase", "href": "https://shop.example.com/cart"},
    ],
}


def test_the_same_design_renders_to_the_same_html_every_time():
    design = clean_design(REMINDER)

    first, second = render_design(design), render_design(clean_design(REMINDER))

    assert first.html == second.html
    assert first.text == second.text


def test_the_html_is_table_based_with_inlined_styles_and_keeps_the_template_expressions():
    html = render_design(clean_design(REMINDER)).html

    assert html.count("<table") >= 4
    assert 'href="https://shop.example.com/cart"' in html
    assert "{{ contact.first_name|default:'there' }}" in html
    assert "{{ trigger.cart_total }}" in html
    assert re.search(r'<td[^>]*style="[^"]*background:\s*#1a73e8', html)  # the button, inlined
    assert "@media only screen and (min-width:480px)" in html  # responsive columns
    assert "prefers-color-scheme: dark" in html
    assert "fonts.googleapis.com" not in html


def test_a_commercial_design_always_ends_with_the_unsubscribe_link_even_without_a_footer():
    design = clean_design(REMINDER)

    rendered = render_design(design, commercial=True)

    assert 'href="{{ unsubscribe_url }}"' in rendered.html
    assert rendered.text.endswith("Unsubscribe: {{ unsubscribe_url }}\n")
    transactional = render_design(design, commercial=False)
    assert "unsubscribe_url" not in transactional.html
    assert "unsubscribe_url" not in transactional.text


def test_a_footer_cannot_drop_the_unsubscribe_link_of_a_commercial_email():
    design = clean_design({"blocks": [{"type": "footer", "text": "The Shop", "unsubscribe_label": ""}]})

    html = render_design(design, commercial=True).html

    assert '<a href="{{ unsubscribe_url }}" style="color: #777777">Unsubscribe</a>' in html


def test_rich_text_keeps_bold_italic_links_and_lists_and_drops_everything_else():
    design = clean_design(
        {
            "blocks": [
                {
                    "type": "text",
                    "html": '<p onclick="x()">A <b>bold</b> <i>move</i><script>alert(1)</script>'
                    '<img src=x onerror=alert(1)><a href="javascript:alert(1)">bad</a>'
                    '<a href="https://shop.example.com/?c={{ contact.id }}" style="x">ok</a></p>'
                    "<ul><li>one<li>two</ul><style>p{}</style>",
                }
            ]
        }
    )

    assert design["blocks"][0]["html"] == (
        '<p>A <strong>bold</strong> <em>move</em><a>bad</a><a href="https://shop.example.com/?c={{ contact.id }}">ok</a>'
        "</p><ul><li>one<li>two</li></li></ul>"
    )


def test_text_is_escaped_in_the_html_and_personal_data_is_escaped_by_the_sandbox():
    design = clean_design({"blocks": [{"type": "heading", "text": "<script>1</script> & {{ contact.first_name }}"}]})
    html = render_design(design, commercial=False).html

    assert "&lt;script&gt;1&lt;/script&gt; &amp; {{ contact.first_name }}" in html
    sent = render(html, {**SAMPLE_CONTEXT, "contact": {"first_name": "<b>Eve</b>"}}, html=True)
    assert "&lt;b&gt;Eve&lt;/b&gt;" in sent
    assert "<b>Eve</b>" not in sent


def test_the_plain_text_part_is_generated_from_the_blocks():
    text = render_design(clean_design(REMINDER)).text

    assert text == (
        "Hello {{ contact.first_name|default:'there' }},\n\n"
        "Your cart worth {{ trigger.cart_total }} is waiting for you.\n\n"
        "Finish your purchase: https://shop.example.com/cart\n\n"
        "Unsubscribe: {{ unsubscribe_url }}\n"
    )


def test_the_brand_sets_width_colours_font_and_logo():
    brand = BrandStyle(logo_url="https://shop.example.com/logo.png", primary_color="#aa0000", width=640, font="georgia")

    html = render_design(clean_design(REMINDER), brand).html

    assert 'src="https://shop.example.com/logo.png"' in html
    assert "max-width:640px" in html.replace(" ", "")
    assert "#aa0000" in html
    assert "Georgia" in html


@pytest.mark.parametrize(
    ("design", "path", "code"),
    [
        ({"blocks": [{"type": "marquee"}]}, "blocks[0].type", "unknown"),
        ({"blocks": [{"type": "button", "href": "javascript:alert(1)"}]}, "blocks[0].href", "url"),
        ({"blocks": [{"type": "spacer", "height": 5000}]}, "blocks[0].height", "range"),
        ({"blocks": [{"type": "columns", "columns": [{"blocks": []}]}]}, "blocks[0].columns", "count"),
        (
            {"blocks": [{"type": "columns", "columns": [{"blocks": [{"type": "footer"}]}, {"blocks": []}]}]},
            "blocks[0].columns[0].blocks[0].type",
            "not_nestable",
        ),
        ({"blocks": [{"type": "button", "background": "red"}]}, "blocks[0].background", "color"),
        ({"blocks": "nope"}, "blocks", "type"),
    ],
)
def test_a_malformed_design_is_refused_with_the_path_of_each_error(design, path, code):
    with pytest.raises(InvalidDesign) as refused:
        clean_design(design)

    assert [(e.path, e.code) for e in refused.value.errors] == [(path, code)]


def test_checks_find_missing_alt_text_a_button_without_url_empty_links_and_image_heavy_designs():
    design = clean_design(
        {
            "blocks": [
                {"type": "image", "src": "https://shop.example.com/a.png", "alt": ""},
                {"type": "button", "label": "Go", "href": ""},
                {"type": "text", "html": '<p><a href="">here</a></p>'},
            ]
        }
    )

    assert [(p.path, p.severity, p.message) for p in design_problems(design)] == [
        ("blocks[0]", "error", "The image needs alt text (read aloud, shown when images are off)."),
        ("blocks[1]", "error", "The button has no link (URL)."),
        ("blocks[2]", "error", "A link has no address (or an unsafe one)."),
        (
            "blocks",
            "warning",
            "Image-heavy: 1 image(s) and 2 words of text. Spam filters and readers with images off prefer at "
            "least 50 words per image.",
        ),
    ]


@pytest.mark.parametrize("key", sorted(STARTERS))
def test_every_shipped_template_is_clean_and_has_no_problems(key):
    design = STARTERS[key].design

    assert clean_design(design) == design
    assert design_problems(design) == []
    assert "<table" in render_design(design).html
