"""The webhook step: call a URL with a signed JSON body rendered for the participant, and go
on at once.

The call is a delivery on the `webhook` channel: queued here, sent by the dispatch task after
commit like a message (claimed with a lease, at most once, retried with backoff), its host
checked against server-side request forgery at send time (journeys.webhooks). The
participant does not wait for the answer. Its fields live in Step.settings.
"""

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .. import deliveries, transitions
from ..durations import DurationError, format_duration
from ..models import Delivery, DeliveryStatus, HistoryOutcome
from ..spec import INVALID, REQUIRED, WRONG_TYPE, Problem, SpecPath, StepSpec
from ..webhooks import (
    DEFAULT_TIMEOUT,
    MAX_DEPTH,
    METHODS,
    body_problem,
    parse_timeout,
    url_problem,
)
from . import register
from .base import Kind, References, Run

if TYPE_CHECKING:
    from django import forms

    from ..definition import ParseContext
    from ..designer.canvas import Names
    from ..models import Step

FIELDS = ("url", "method", "body", "timeout")


class WebhookKind(Kind):
    name = "webhook"
    label = "Call a webhook"
    help = "Send the contact's data to another system (a CRM, a warehouse): a signed JSON request to a URL."
    icon = (
        '<path d="M9 17a4 4 0 1 1-3.5-6"/><path d="M15 17h-6l3-6"/>'
        '<path d="M12 11a4 4 0 1 1 6.5 3"/><path d="M18.5 14a4 4 0 1 1-3.5 6"/>'
    )
    accent = "#0f766e"
    fields = FIELDS
    side_effect = True  # the holdout group walks past it
    leaving_outcomes = (HistoryOutcome.SENT,)

    # --- Format ---

    def parse(self, data: Mapping, step: StepSpec, path: SpecPath, ctx: "ParseContext", passed: list[str]) -> None:
        url = data.get("url")
        problem = url_problem(url)
        if problem:
            code = {"is required": REQUIRED, "must be a string": WRONG_TYPE}.get(problem, INVALID)
            ctx.add(path / "url", code, problem)
        method = data.get("method", "POST")
        if method not in METHODS:
            ctx.add(path / "method", INVALID, f"must be one of {', '.join(METHODS)}")
        body = data.get("body", {})
        if body is None:
            body = {}
        if method == "GET" and body:
            ctx.add(path / "body", INVALID, "a GET request has no body")
        else:
            found = body_problem(body)
            if found:
                where, message = found
                field = path / "body"
                for part in where:
                    field = field / part
                ctx.add(field, WRONG_TYPE if not isinstance(body, dict) else INVALID, message)
        timeout = data.get("timeout", DEFAULT_TIMEOUT)
        try:
            timeout = format_duration(parse_timeout(timeout))
        except DurationError as error:
            ctx.add(path / "timeout", INVALID, str(error))
        step.settings = {"url": url, "method": method, "body": body, "timeout": timeout}

    def to_dict(self, step: StepSpec) -> dict[str, Any]:
        return {name: step.settings.get(name) for name in FIELDS}

    # --- Database ---

    def to_model(self, spec: StepSpec, refs: References) -> dict[str, Any]:
        return {"settings": {name: spec.settings.get(name) for name in FIELDS}}

    def from_model(self, step: "Step", spec: StepSpec, build: Callable[[str], list[StepSpec]]) -> None:
        spec.settings = {name: (step.settings or {}).get(name) for name in FIELDS}

    def publish_problems(self, step: "Step", where: str) -> list[Problem]:
        problem = url_problem((step.settings or {}).get("url"))
        if problem:
            return [Problem(where, "enter the URL to call" if problem == "is required" else f"the URL {problem}")]
        return []

    # --- Engine ---

    def execute(self, run: Run) -> Any:
        """Queue the call (sent after commit) and go on: the participant does not wait."""
        participant, step, now = run.participant, run.step, run.now
        # Back at the step after a crash: its call may be queued already.
        delivery = None if run.arrived else Delivery.objects.filter(participant=participant, step=step).first()
        if delivery is None:
            delivery = deliveries.create(
                participant,
                step,
                address=str(step.settings.get("url") or "")[:500],
                status=DeliveryStatus.QUEUED,
                reason="",
                next_attempt_at=None,
                now=now,
                writes=run.writes,
            )
            transitions.record(
                participant, step, HistoryOutcome.SENT, now, {"channel": delivery.channel}, delivery, writes=run.writes
            )
        return run.plan.next_after(step)

    # --- Designer ---

    def form_fields(self, form: "forms.Form", step: StepSpec | None) -> None:
        from django import forms as django_forms

        settings = step.settings if step else {}
        body = settings.get("body")
        form.fields["url"] = django_forms.CharField(
            max_length=500,
            label="URL",
            initial=settings.get("url") or "",
            widget=django_forms.URLInput(attrs={"class": "vURLField", "spellcheck": "false"}),
            help_text="https:// (or http://) address to call. Private and local addresses are refused "
            "unless the operator allows the host.",
        )
        form.fields["method"] = django_forms.ChoiceField(
            choices=[(m, m) for m in METHODS], initial=settings.get("method") or "POST", label="Method"
        )
        form.fields["body"] = django_forms.CharField(
            required=False,
            label="Body (JSON)",
            initial=json.dumps(body, indent=2) if body else "",
            widget=django_forms.Textarea(
                attrs={"rows": 8, "cols": 60, "spellcheck": "false", "class": "vLargeTextField"}
            ),
            help_text="A JSON object; its texts may use {{ contact.id }}, {{ trigger.cart.total }}, as in messages. "
            "Empty for none. A GET sends no body.",
        )
        form.fields["timeout"] = django_forms.CharField(
            max_length=10,
            label="Timeout",
            initial=settings.get("timeout") or DEFAULT_TIMEOUT,
            help_text="From 1s to 30s. No answer in time is retried later.",
        )

    def clean_form(self, form: "forms.Form", data: dict[str, Any]) -> None:
        url = (data.get("url") or "").strip()
        if "url" not in form.errors:
            problem = url_problem(url)
            if problem:
                form.add_error("url", f"The URL {problem}.")
        data["url"] = url
        raw = (data.get("body") or "").strip()
        body: Any = {}
        if raw:
            try:
                body = json.loads(raw)
            except json.JSONDecodeError as error:
                form.add_error(
                    "body", f"The body is not JSON: {error.msg} (line {error.lineno}, column {error.colno})."
                )
                body = {}
            except RecursionError:
                form.add_error("body", f"The body is nested too deep: at most {MAX_DEPTH} levels.")
                body = {}
            else:
                found = body_problem(body)
                if found:
                    where, message = found
                    at = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in where)
                    form.add_error("body", f"The body{' at ' + at.lstrip('.') if at else ''} {message}.")
        if data.get("method") == "GET" and body:
            form.add_error("body", "A GET request sends no body: leave it empty or choose POST.")
        data["body"] = body
        try:
            data["timeout"] = format_duration(parse_timeout((data.get("timeout") or "").strip()))
        except DurationError as error:
            form.add_error("timeout", f"The timeout {error}.")

    def form_to_spec(self, form: "forms.Form", spec: StepSpec) -> None:
        data = form.cleaned_data
        spec.settings = {name: data[name] for name in FIELDS}

    def suggested_id(self, form: "forms.Form") -> str:
        host = urlsplit(form.cleaned_data.get("url") or "").hostname or ""
        return f"webhook {host.split('.')[0]}" if host else "webhook"

    def summary(self, step: StepSpec, names: "Names") -> str:
        return f"{step.settings.get('method') or 'POST'} {step.settings.get('url') or '(no URL)'}"

    # --- Reports ---

    def delivery_figures(self, step: "Step") -> tuple[str, str] | None:
        return "webhook", f"{(step.settings or {}).get('method') or 'POST'} {(step.settings or {}).get('url') or ''}"


register(WebhookKind())
