"""Check content: every problem with a message, listed at once, before it can be sent.

Pure functions of the content row (no queries beyond reading it). Errors stop a message
from becoming Ready to send; warnings (a text message longer than one segment) do not.
"""

import re
from dataclasses import dataclass
from typing import Literal

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email

from .designs import InvalidDesign, clean_design, design_problems
from .errors import RenderError
from .models import Content, Email, Purpose, PushNotification, TextMessage
from .rendering import TemplateSyntaxError, compile_template, render
from .samples import SAMPLE_CONTEXT
from .segments import count_segments

SUBJECT_MAX_CHARACTERS = 60  # longer subjects are cut off on phones
PREHEADER_MAX_CHARACTERS = 100  # inbox previews show less than this after the subject
TEXT_MAX_CHARACTERS = 1600  # what SMS providers accept at most (Twilio: 1,600)
UNSUBSCRIBE_VARIABLE = re.compile(r"{{\s*unsubscribe_url\s*(\|[^}]*)?}}")
_http_url = URLValidator(schemes=["http", "https"])


@dataclass(frozen=True)
class Problem:
    field: str
    message: str
    severity: Literal["error", "warning"] = "error"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def check_content(content: Content) -> list[Problem]:
    """Every problem with a message, errors and warnings, in field order."""
    specific = content.specific
    if isinstance(specific, Email):
        return _check_email(specific)
    if isinstance(specific, TextMessage):
        return _check_text(specific)
    if isinstance(specific, PushNotification):
        return _check_push(specific)
    return [Problem("channel", f"Unknown channel {content.channel!r}.")]


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.is_error]


def _template_problem(field: str, source: str, *, html: bool) -> Problem | None:
    try:
        compile_template(source, html=html)
    except TemplateSyntaxError as error:
        return Problem(field, f"The template does not compile: {error}")
    try:
        render(source, SAMPLE_CONTEXT, html=html)
    except RenderError as error:
        return Problem(field, f"The template fails with sample data: {error}")
    return None


def _required(field: str, value: str, label: str) -> Problem | None:
    return None if value.strip() else Problem(field, f"{label} is required.")


def _check_email(email: Email) -> list[Problem]:
    problems: list[Problem | None] = [_required("subject", email.subject, "A subject")]
    if not email.from_email.strip():
        problems.append(Problem("from_email", "A from address is required."))
    else:
        problems.append(_email_address_problem("from_email", email.from_email, "from address"))
    if email.reply_to.strip():
        problems.append(_email_address_problem("reply_to", email.reply_to, "reply-to address"))
    if email.is_designed:
        problems.extend(_design_problems(email))
    else:
        problems.append(_required("html_body", email.html_body, "An HTML body"))
    problems.append(_required("text_body", email.text_body, "A plain-text body"))
    for field, html in (("subject", False), ("preheader", False), ("html_body", True), ("text_body", False)):
        problems.append(_template_problem(field, getattr(email, field), html=html))
    problems.extend(_length_warnings(email))
    # A design's footer and generated text always carry the unsubscribe link; raw HTML and a
    # plain-text part written by hand must say it themselves.
    if email.purpose == Purpose.COMMERCIAL:
        bodies = [("html_body", "HTML body"), ("text_body", "plain-text body")]
        if email.is_designed:
            bodies = bodies[1:] if email.custom_text else []
        for field, label in bodies:
            if getattr(email, field).strip() and not UNSUBSCRIBE_VARIABLE.search(getattr(email, field)):
                problems.append(
                    Problem(
                        field,
                        f"A commercial email needs an unsubscribe link: add {{{{ unsubscribe_url }}}} to the {label}.",
                    )
                )
    return [p for p in problems if p]


def _design_problems(email: Email) -> list[Problem]:
    try:
        design = clean_design(email.design)
    except InvalidDesign as invalid:
        return [Problem("design", f"{error.path}: {error.message}") for error in invalid.errors]
    return [Problem("design", f"{p.path}: {p.message}", p.severity) for p in design_problems(design)]


def _length_warnings(email: Email) -> list[Problem]:
    found = []
    for field, label, limit in (
        ("subject", "The subject", SUBJECT_MAX_CHARACTERS),
        ("preheader", "The preheader", PREHEADER_MAX_CHARACTERS),
    ):
        source = getattr(email, field)
        try:
            shown = " ".join(render(source, SAMPLE_CONTEXT, html=False).split())
        except (TemplateSyntaxError, RenderError):
            continue  # reported as a template problem already
        if len(shown) > limit:
            found.append(
                Problem(
                    field,
                    f"{label} has {len(shown)} characters with sample data; inboxes show about {limit}.",
                    "warning",
                )
            )
    return found


def _email_address_problem(field: str, value: str, label: str) -> Problem | None:
    try:
        validate_email(value.strip())
    except ValidationError:
        return Problem(field, f"{value!r} is not a valid {label}.")
    return None


def _check_text(text: TextMessage) -> list[Problem]:
    problems: list[Problem | None] = [_required("body", text.body, "A body")]
    template_problem = _template_problem("body", text.body, html=False)
    problems.append(template_problem)
    if text.body.strip():
        rendered = text.body if template_problem else render(text.body, SAMPLE_CONTEXT, html=False)
        count = count_segments(rendered)
        if len(rendered) > TEXT_MAX_CHARACTERS:
            problems.append(
                Problem("body", f"{len(rendered)} characters: a text message can have at most {TEXT_MAX_CHARACTERS}.")
            )
        elif count.segments > 1:
            problems.append(
                Problem(
                    "body",
                    f"{len(rendered)} characters ({count.encoding}) are sent as {count.segments} segments, "
                    "each billed as one message.",
                    severity="warning",
                )
            )
    return [p for p in problems if p]


def _check_push(push: PushNotification) -> list[Problem]:
    problems: list[Problem | None] = [
        _required("title", push.title, "A title"),
        _required("body", push.body, "A body"),
        _template_problem("title", push.title, html=False),
        _template_problem("body", push.body, html=False),
    ]
    for field, label in (("link_url", "The link"), ("image_url", "The image URL")):
        value = getattr(push, field).strip()
        if not value:
            continue
        template_problem = _template_problem(field, value, html=False)
        if template_problem:
            problems.append(template_problem)
            continue
        try:
            _http_url(render(value, SAMPLE_CONTEXT, html=False))
        except ValidationError:
            problems.append(Problem(field, f"{label} must be an http:// or https:// address."))
    return [p for p in problems if p]
