"""Check content lists every problem at once, field by field."""

from content.checks import Problem, check_content
from content.models import Email, PushNotification, TextMessage

GOOD_HTML = '<p>Hi {{ contact.first_name|default:"there" }}</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>'
GOOD_TEXT = "Hi {{ contact.first_name }}. Unsubscribe: {{ unsubscribe_url }}"


def _email(**fields) -> Email:
    values = {
        "key": "e",
        "name": "E",
        "subject": "Your cart, {{ contact.first_name }}",
        "from_email": "shop@example.com",
        "html_body": GOOD_HTML,
        "text_body": GOOD_TEXT,
    }
    return Email.objects.create(**{**values, **fields})


def test_a_complete_commercial_email_has_no_problems(db):
    assert check_content(_email()) == []


def test_an_empty_email_lists_every_missing_part_at_once(db):
    email = _email(subject="", from_email="", html_body="", text_body="")

    assert check_content(email) == [
        Problem("subject", "A subject is required."),
        Problem("from_email", "A from address is required."),
        Problem("html_body", "An HTML body is required."),
        Problem("text_body", "A plain-text body is required."),
    ]


def test_an_invalid_from_and_reply_to_address_are_named(db):
    email = _email(from_email="shop@", reply_to="not an address")

    assert check_content(email) == [
        Problem("from_email", "'shop@' is not a valid from address."),
        Problem("reply_to", "'not an address' is not a valid reply-to address."),
    ]


def test_a_commercial_email_needs_the_unsubscribe_link_in_both_bodies(db):
    email = _email(html_body="<p>Hi</p>", text_body="Hi")

    assert check_content(email) == [
        Problem(
            "html_body", "A commercial email needs an unsubscribe link: add {{ unsubscribe_url }} to the HTML body."
        ),
        Problem(
            "text_body",
            "A commercial email needs an unsubscribe link: add {{ unsubscribe_url }} to the plain-text body.",
        ),
    ]


def test_a_transactional_email_needs_no_unsubscribe_link(db):
    assert check_content(_email(purpose="transactional", html_body="<p>Receipt</p>", text_body="Receipt")) == []


def test_a_template_that_does_not_compile_is_reported_with_its_field(db):
    email = _email(
        subject="Hi {{ contact.first_name|shout }}",
        html_body=GOOD_HTML + "{% if %}",
        text_body=GOOD_TEXT + "{% endfor %}",
    )

    problems = check_content(email)

    assert [p.field for p in problems] == ["subject", "html_body", "text_body"]
    assert problems[0].message == "The template does not compile: Invalid filter: 'shout'"
    assert all(p.severity == "error" for p in problems)


def test_a_template_using_a_forbidden_tag_does_not_compile(db):
    problems = check_content(_email(html_body=GOOD_HTML + "{% include 'admin/base.html' %}"))

    assert problems == [
        Problem(
            "html_body",
            "The template does not compile: Invalid block tag on line 1: 'include'. "
            "Did you forget to register or load this tag?",
        )
    ]


def test_a_template_that_fails_with_sample_data_is_reported(db):
    problems = check_content(_email(subject="{{ trigger.cart_total|divisibleby:0 }}"))

    assert problems == [
        Problem("subject", "The template fails with sample data: ZeroDivisionError: integer modulo by zero")
    ]


def _text(body: str) -> TextMessage:
    return TextMessage.objects.create(key="t", name="T", body=body)


def test_a_short_text_message_has_no_problems(db):
    assert check_content(_text("Hi {{ contact.first_name }}, your cart is waiting.")) == []


def test_an_empty_text_message_needs_a_body(db):
    assert check_content(_text("")) == [Problem("body", "A body is required.")]


def test_a_text_past_160_gsm_characters_warns_with_its_segments(db):
    problems = check_content(_text("a" * 161))

    assert problems == [
        Problem("body", "161 characters (GSM-7) are sent as 2 segments, each billed as one message.", "warning")
    ]


def test_a_text_with_an_emoji_is_counted_in_ucs2_segments(db):
    problems = check_content(_text("🛒" + "a" * 69))

    assert problems == [
        Problem("body", "70 characters (UCS-2) are sent as 2 segments, each billed as one message.", "warning")
    ]


def test_a_text_past_1600_characters_is_refused(db):
    assert check_content(_text("a" * 1601)) == [
        Problem("body", "1601 characters: a text message can have at most 1600.")
    ]


def test_the_text_length_is_counted_after_personalisation(db):
    # 155 characters of source render to 158 with the sample first name (Ana): one segment.
    assert check_content(_text("{{ contact.first_name }}" + "a" * 155)) == []


def _push(**fields) -> PushNotification:
    values = {"key": "p", "name": "P", "title": "Still thinking?", "body": "Your cart is waiting"}
    return PushNotification.objects.create(**{**values, **fields})


def test_a_push_needs_a_title_and_a_body(db):
    assert check_content(_push(title="", body=" ")) == [
        Problem("title", "A title is required."),
        Problem("body", "A body is required."),
    ]


def test_a_push_link_must_be_http_or_https(db):
    assert check_content(_push(link_url="javascript:alert(1)")) == [
        Problem("link_url", "The link must be an http:// or https:// address.")
    ]
    assert check_content(_push(key="p2", link_url="ftp://files.example.com/x")) == [
        Problem("link_url", "The link must be an http:// or https:// address.")
    ]


def test_a_personalised_https_push_link_is_fine(db):
    assert check_content(_push(link_url="https://shop.example.com/cart?c={{ contact.id }}")) == []
