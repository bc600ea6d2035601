"""Templates see only the render context: no settings, no other libraries, no files, no
methods that change anything, and HTML is escaped in HTML bodies only."""

import pytest

from content.rendering import TemplateSyntaxError, freeze, render

CONTEXT = {
    "contact": {"first_name": "<b>Ana</b>", "email": "ana@example.com"},
    "trigger": {"cart_total": 59.9, "cart": {"items": [{"name": "Mug"}, {"name": "Tea"}]}},
    "unsubscribe_url": "https://example.com/u/x",
}


def test_personalisation_renders_the_documented_examples():
    source = '{{ contact.first_name|default:"there" }} {{ trigger.cart_total }} {% for i in trigger.cart.items %}{{ i.name }} {% endfor %}'

    assert render(source, {"contact": {}, "trigger": CONTEXT["trigger"]}, html=False) == "there 59.9 Mug Tea "


def test_html_bodies_are_escaped_and_plain_text_is_not():
    assert render("Hi {{ contact.first_name }}", CONTEXT, html=True) == "Hi &lt;b&gt;Ana&lt;/b&gt;"
    assert render("Hi {{ contact.first_name }}", CONTEXT, html=False) == "Hi <b>Ana</b>"


@pytest.mark.parametrize(
    "source",
    [
        "{{ settings }}",
        "{{ settings.SECRET_KEY }}",
        "{{ request }}",
        "{{ user }}",
        "{{ perms }}",
        "{{ csrf_token }}",
    ],
)
def test_nothing_outside_the_context_is_visible(source):
    assert render(source, CONTEXT, html=True) == ""


@pytest.mark.parametrize(
    "source",
    [
        "{% load static %}",
        "{% load admin_urls %}",
        "{% include 'admin/base.html' %}",
        "{% extends 'admin/base.html' %}",
        "{% debug %}",
        "{% url 'admin:index' %}",
        "{% csrf_token %}",
        "{% now 'Y' %}",
        "{{ contact|pprint }}",
        "{{ contact.__class__ }}",
        "{{ contact.email.__class__.__mro__ }}",
    ],
)
def test_tags_that_reach_outside_the_sandbox_do_not_compile(source):
    with pytest.raises(TemplateSyntaxError):
        render(source, CONTEXT, html=True)


def test_zero_argument_methods_cannot_change_the_context():
    context = {"trigger": {"cart": {"items": [{"name": "Mug"}]}, "tags": ["a", "b"]}}

    rendered = render(
        "{{ trigger.cart.clear }}{{ trigger.tags.pop }}{{ trigger.tags.clear }}{{ trigger.popitem }}"
        "{{ trigger.cart.items|length }} {{ trigger.tags|join:',' }}",
        context,
        html=False,
    )

    assert rendered == "1 a,b"
    assert context == {"trigger": {"cart": {"items": [{"name": "Mug"}]}, "tags": ["a", "b"]}}


def test_a_nested_object_prints_as_its_data_not_as_a_python_object():
    assert render("{{ trigger.cart.items.0 }}", CONTEXT, html=False) == "{'name': 'Mug'}"


def test_objects_that_are_not_plain_data_reach_the_template_only_as_text():
    class Secret:
        def delete(self):  # a zero-argument method a template would call
            raise AssertionError("called")

        def __str__(self) -> str:
            return "secret"

    assert render("{{ thing.delete }}|{{ thing }}", {"thing": Secret()}, html=False) == "|secret"


def test_rendered_output_is_plain_text_that_other_pages_escape():
    from django.utils.safestring import SafeData

    assert not isinstance(render("<b>{{ contact.email }}</b>", CONTEXT, html=True), SafeData)


def test_an_email_freezes_its_context_once_and_its_templates_share_it():
    frozen = freeze({"contact": {"first_name": "Ana"}, "trigger": {"items": [{"name": "Mug"}]}})

    assert freeze(frozen) is frozen  # read-only all the way down: nothing to copy
    assert render("{{ contact.first_name }}: {{ trigger.items.0.name }}", frozen, html=False) == "Ana: Mug"
    assert render("{{ trigger.items.clear }}{{ trigger.items|length }}", frozen, html=False) == "1"


@pytest.mark.parametrize(
    "source",
    [
        "Your cart is saved: finish your purchase in one click.",
        "<p>Plain & simple {# a note for the team #}</p>",
        "{# only a comment #}",
        "Hello {{ contact.first_name }}",
        "{% if trigger.cart_total %}x{% endif %}",
    ],
)
@pytest.mark.parametrize("html", [True, False])
def test_a_template_renders_the_same_whether_or_not_it_has_variables(source, html):
    """content.rendering skips Django's render for a template of text only: same output."""
    from django.template import Context

    from content.rendering import compile_template

    expected = str(compile_template(source, html=html).render(Context(dict(freeze(CONTEXT)), autoescape=html)))

    assert render(source, CONTEXT, html=html) == expected
