"""A marketer's template cannot exhaust a web or worker process: output size, loop
iterations and render time are bounded, with a clear error; contact and trigger data cannot
be let through unescaped into an HTML email."""

import time

import pytest

from content.errors import RenderError
from content.render_limits import MAX_OUTPUT_CHARS
from content.rendering import TemplateSyntaxError, render

LIST = {"trigger": {"items": list(range(100))}}
FIVE_LOOPS = (
    "{% for a in trigger.items %}{% for b in trigger.items %}{% for c in trigger.items %}"
    "{% for d in trigger.items %}{% for e in trigger.items %}x{% endfor %}{% endfor %}{% endfor %}"
    "{% endfor %}{% endfor %}"
)
DOUBLING = (
    "{% with a=trigger.s|add:trigger.s %}"
    + "".join(
        f"{{% with {n}={p}|add:{p} %}}"
        for p, n in zip("abcdefghijklmnopqrstuvwxy", "bcdefghijklmnopqrstuvwxyz", strict=True)
    )
    + "{{ z|length }}"
    + "{% endwith %}" * 26
)


@pytest.mark.parametrize(
    ("source", "context", "message"),
    [
        ("{{ ''|ljust:'200000000' }}", {}, "ljust filter takes a width of at most 1,000"),
        ("{{ 'x'|center:'5000' }}", {}, "center filter takes a width of at most 1,000"),
        ("{{ 1|stringformat:'0200000000d' }}", {}, "stringformat filter takes a width"),
        ("{{ 1.5|floatformat:'100000' }}", {}, "floatformat filter takes a width"),
        ("{% filter rjust:'99999999' %}x{% endfilter %}", {}, "rjust filter takes a width"),
        (FIVE_LOOPS, LIST, "Loops may run at most 100,000 times"),
        (DOUBLING, {"trigger": {"s": "abcdefgh"}}, "filter produced more than"),
        (
            "{% for a in trigger.items %}{% for b in trigger.items %}{{ trigger.big }}{% endfor %}{% endfor %}",
            {"trigger": {"items": list(range(100)), "big": "y" * 1000}},
            f"at most {MAX_OUTPUT_CHARS:,} characters",
        ),
    ],
)
@pytest.mark.parametrize("html", [True, False])
def test_a_template_over_a_limit_is_a_clear_render_error_quickly(source, context, message, html):
    started = time.monotonic()

    with pytest.raises(RenderError, match=message):
        render(source, context, html=html)

    assert time.monotonic() - started < 5


def test_ordinary_loops_and_padding_still_render():
    source = (
        "{% for i in trigger.items %}{{ i|stringformat:'03d' }}{{ ''|ljust:'2' }}{% endfor %}{{ 1.256|floatformat:2 }}"
    )

    assert render(source, {"trigger": {"items": [1, 2]}}, html=False) == "001  002  1.26"


@pytest.mark.parametrize(
    "source",
    ["{{ contact.first_name|safe }}", "{% autoescape off %}{{ contact.first_name }}{% endautoescape %}"],
)
def test_contact_data_cannot_be_marked_safe_in_an_html_email(source):
    with pytest.raises(TemplateSyntaxError):
        render(source, {"contact": {"first_name": "<script>x</script>"}}, html=True)


def test_reversed_and_empty_loops_keep_working():
    source = "{% for i in trigger.items reversed %}{{ i }}{% empty %}none{% endfor %}"

    assert render(source, {"trigger": {"items": [1, 2, 3]}}, html=False) == "321"
    assert render(source, {"trigger": {"items": []}}, html=False) == "none"
