"""The webhook step against a real HTTP server (a thread on 127.0.0.1, port 0) that checks
the signature: queued by the step, sent by the dispatch task after commit, retried, failed,
and refused for private hosts unless the operator lists them."""

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from journeys import webhooks
from journeys.bundles import export_bundle, import_bundle
from journeys.holdout import in_holdout
from journeys.models import Delivery, Participant
from journeys.sending import dispatch_delivery, retry_due_deliveries

SECRET = "a-long-random-webhook-secret"
ANA = {"id": "ana", "email": "ana@example.com"}
CART = {"cart_total": 80, "cart": {"total": 80, "currency": "EUR"}}


class Receiver:
    """A CRM's webhook endpoint: answers with the scripted codes in turn (then 200); "slow"
    answers after longer than the step's timeout. Every request is kept with whether its
    signature was right."""

    def __init__(self) -> None:
        self.answers: list[int | str] = []
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                header = self.headers.get("X-Journeys-Signature", "")
                parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
                expected = hmac.new(SECRET.encode(), f"{parts.get('t')}.".encode() + raw, hashlib.sha256).hexdigest()
                receiver.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "host": self.headers.get("Host"),
                        "content_type": self.headers.get("Content-Type"),
                        "body": json.loads(raw) if raw else None,
                        "signed": hmac.compare_digest(expected, parts.get("v1", "")),
                        "t": parts.get("t"),
                    }
                )
                answer = receiver.answers.pop(0) if receiver.answers else 200
                if answer == "slow":
                    time.sleep(1.6)
                    answer = 200
                self.send_response(int(answer))
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_POST = do_PUT = do_PATCH = do_GET = _handle

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/journeys?source=test"

    def __enter__(self) -> "Receiver":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture(autouse=True)
def _webhook_settings(settings):
    settings.WEBHOOK_SIGNING_SECRET = SECRET
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.DELIVERY_MAX_ATTEMPTS = 3


def webhook_step(url: str, **fields) -> dict:
    return {
        "id": "tell-crm",
        "type": "webhook",
        "url": url,
        "method": "POST",
        "body": {"contact": "{{ contact.id }}", "total": "{{ trigger.cart.total }}", "source": "journeys", "n": 1},
        "timeout": "10s",
        **fields,
    }


@pytest.fixture
def with_webhook(db, clock, seed_bundle):
    """Put a webhook step first in the seed journey and publish it."""

    def _import(step: dict) -> None:
        seed_bundle["journeys"][0]["steps"].insert(0, step)
        import_bundle(seed_bundle, publish_journeys=True)

    return _import


def the_call() -> Delivery:
    return Delivery.objects.get(channel="webhook")


def test_a_2xx_answer_records_the_call_as_sent_and_the_participant_went_on_at_once(with_webhook, receiver, raise_event):
    with_webhook(webhook_step(receiver.url))

    raise_event("abandoned_cart", ANA, CART)

    call = the_call()
    assert (call.status, call.response_code, call.attempts, call.address, call.content) == (
        "sent",
        200,
        1,
        receiver.url,
        None,
    )
    (request,) = receiver.requests
    assert request["signed"] is True
    assert request["body"] == {"contact": "ana", "total": "80", "source": "journeys", "n": 1}
    assert (request["method"], request["path"], request["content_type"]) == (
        "POST",
        "/hooks/journeys?source=test",
        "application/json",
    )
    assert request["host"] == f"127.0.0.1:{receiver.port}"
    participant = Participant.objects.get()
    assert participant.current_step.key == "opened"  # past the webhook and the email
    assert participant.history.get(step_key="tell-crm").outcome == "sent"


def test_a_500_then_a_200_is_retried_with_backoff_then_sent(with_webhook, receiver, raise_event, clock):
    receiver.answers = [500]
    with_webhook(webhook_step(receiver.url))

    raise_event("abandoned_cart", ANA, CART)

    call = the_call()
    assert (call.status, call.response_code, call.reason, call.attempts) == ("queued", 500, "HTTP 500", 1)
    assert call.next_attempt_at is not None
    dispatch_delivery(call.pk)  # before the retry time: nothing
    assert len(receiver.requests) == 1
    clock.shift(timedelta(minutes=1, seconds=1))
    dispatch_delivery(call.pk)

    call.refresh_from_db()
    assert (call.status, call.response_code, call.attempts) == ("sent", 200, 2)
    assert [r["signed"] for r in receiver.requests] == [True, True]


def test_always_500_fails_after_the_attempts(with_webhook, receiver, raise_event, clock):
    receiver.answers = [500, 503, 502, 500]
    with_webhook(webhook_step(receiver.url))

    raise_event("abandoned_cart", ANA, CART)
    for _ in range(3):
        clock.shift(timedelta(hours=1))
        dispatch_delivery(the_call().pk)

    call = the_call()
    assert (call.status, call.attempts, call.response_code) == ("failed", 3, 502)
    assert call.reason == "Gave up after 3 attempts: HTTP 502"
    assert len(receiver.requests) == 3


@pytest.mark.parametrize("code", [400, 404, 410])
def test_a_4xx_answer_fails_at_once(with_webhook, receiver, raise_event, clock, code):
    receiver.answers = [code]
    with_webhook(webhook_step(receiver.url))

    raise_event("abandoned_cart", ANA, CART)
    clock.shift(timedelta(hours=1))
    dispatch_delivery(the_call().pk)

    call = the_call()
    assert (call.status, call.attempts, call.response_code, call.reason) == ("failed", 1, code, f"HTTP {code}")
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("code", [408, 429])
def test_408_and_429_are_retried(with_webhook, receiver, raise_event, code):
    receiver.answers = [code]
    with_webhook(webhook_step(receiver.url))

    raise_event("abandoned_cart", ANA, CART)

    assert (the_call().status, the_call().response_code) == ("queued", code)


def test_no_answer_within_the_timeout_is_retried(with_webhook, receiver, raise_event, clock):
    receiver.answers = ["slow"]
    with_webhook(webhook_step(receiver.url, timeout="1s"))

    raise_event("abandoned_cart", ANA, CART)

    call = the_call()
    assert (call.status, call.reason, call.response_code) == ("queued", "no answer within 1s", None)
    clock.shift(timedelta(minutes=2))
    dispatch_delivery(call.pk)
    assert the_call().status == "sent"


def test_a_closed_port_is_retried(with_webhook, raise_event):
    closed = Receiver()  # bound, then closed: nobody listens on its port
    closed.server.server_close()
    with_webhook(webhook_step(closed.url))

    raise_event("abandoned_cart", ANA, CART)

    call = the_call()
    assert call.status == "queued"
    assert call.reason.startswith("ConnectionRefusedError")


def test_a_task_running_twice_calls_once(with_webhook, receiver, raise_event, clock):
    with_webhook(webhook_step(receiver.url))

    raise_event("abandoned_cart", ANA, CART)
    call = the_call()
    dispatch_delivery(call.pk)
    dispatch_delivery(call.pk)
    clock.shift(timedelta(hours=1))
    retry_due_deliveries()
    dispatch_delivery(call.pk)

    assert len(receiver.requests) == 1
    assert the_call().attempts == 1


def test_a_put_and_a_get_without_body(with_webhook, receiver, raise_event, seed_bundle):
    seed_bundle["journeys"][0]["steps"].insert(0, webhook_step(receiver.url, id="get-it", method="GET", body={}))
    with_webhook(webhook_step(receiver.url, method="PUT"))

    raise_event("abandoned_cart", ANA, CART)

    assert sorted((r["method"], r["body"], r["signed"]) for r in receiver.requests) == [
        ("GET", None, True),
        ("PUT", {"contact": "ana", "total": "80", "source": "journeys", "n": 1}, True),
    ]


def test_without_a_secret_the_call_goes_unsigned(with_webhook, receiver, raise_event, settings):
    settings.WEBHOOK_SIGNING_SECRET = ""
    with_webhook(webhook_step(receiver.url))

    raise_event("abandoned_cart", ANA, CART)

    assert the_call().status == "sent"
    assert (receiver.requests[0]["signed"], receiver.requests[0]["t"]) == (False, None)


# --- Server-side request forgery -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:{port}/hook", "host_not_allowed: loopback address 127.0.0.1"),
        ("http://localhost:{port}/hook", "host_not_allowed: localhost resolves to loopback address"),
        ("http://10.20.30.40/hook", "host_not_allowed: private address 10.20.30.40"),
        ("http://192.168.1.10/hook", "host_not_allowed: private address 192.168.1.10"),
        ("http://169.254.169.254/latest/meta-data/", "host_not_allowed: link-local address 169.254.169.254"),
        ("http://[::1]:{port}/hook", "host_not_allowed: loopback address ::1"),
        ("http://[::ffff:127.0.0.1]:{port}/hook", "host_not_allowed: IPv4-mapped loopback address 127.0.0.1"),
        ("http://0.0.0.0:{port}/hook", "host_not_allowed: unspecified address 0.0.0.0"),
        ("http://224.0.0.1/hook", "host_not_allowed: multicast address 224.0.0.1"),
        ("http://[fe80::1]/hook", "host_not_allowed: link-local address fe80::1"),
        ("http://[fc00::1]/hook", "host_not_allowed: private address fc00::1"),
    ],
)
def test_private_and_local_hosts_are_blocked_with_a_reason(with_webhook, receiver, raise_event, settings, url, reason):
    settings.WEBHOOK_ALLOWED_HOSTS = []
    with_webhook(webhook_step(url.format(port=receiver.port)))

    raise_event("abandoned_cart", ANA, CART)

    call = the_call()
    assert call.status == "blocked"
    assert call.reason.startswith(reason), call.reason
    assert call.reason.endswith("list the host in WEBHOOK_ALLOWED_HOSTS to call it")
    assert (call.attempts, call.sending_started_at, receiver.requests) == (1, None, [])
    assert Participant.objects.get().current_step.key == "opened"  # went on all the same


def test_a_listed_host_is_called_although_it_is_loopback(with_webhook, receiver, raise_event, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    with_webhook(webhook_step(receiver.url))

    raise_event("abandoned_cart", ANA, CART)

    assert the_call().status == "sent"


def test_the_call_goes_to_the_checked_address_with_the_urls_host_in_the_host_header(receiver):
    """No second DNS lookup between the check and the connection: the request is sent to the
    address that was checked, naming the URL's host."""
    target = webhooks.Target("http", "crm.example.com", receiver.port, "/hook", "127.0.0.1")

    code = webhooks.send(target, "POST", b"{}", {"Content-Type": "application/json"}, 5)

    assert code == 200
    assert receiver.requests[0]["host"] == f"crm.example.com:{receiver.port}"


def test_a_redirect_is_not_followed(with_webhook, receiver, raise_event):
    receiver.answers = [302]
    with_webhook(webhook_step(receiver.url))

    raise_event("abandoned_cart", ANA, CART)

    call = the_call()
    assert (call.status, call.reason, len(receiver.requests)) == ("failed", "HTTP 302", 1)


def test_public_addresses_pass_the_check():
    assert webhooks.refusal("93.184.216.34") == ""
    assert webhooks.refusal("2606:2800:220:1:248:1893:25c8:1946") == ""
    assert webhooks.refusal("100.64.0.1") == "not public address 100.64.0.1"  # carrier-grade NAT


def test_the_webhook_step_round_trips_through_export(with_webhook, receiver):
    step = webhook_step(receiver.url, method="PATCH", timeout="30s")
    with_webhook(step)

    assert export_bundle(["abandoned-cart"])["journeys"][0]["steps"][0] == step


# --- The simulator and the reports ----------------------------------------------------------


def test_the_simulator_runs_the_step_without_calling_out(db, clock, seed_bundle, receiver):
    from journeys.simulation import SimulatedEvent, simulate

    seed_bundle["journeys"][0]["steps"].insert(0, webhook_step(receiver.url))
    import_bundle(seed_bundle)

    timeline = simulate(
        "abandoned-cart",
        {"id": "sim-1", "email": "s@example.com"},
        [SimulatedEvent(timedelta(0), "abandoned_cart", CART)],
    )

    first = [(e.step, e.outcome, e.detail) for e in timeline][1]
    assert first == ("tell-crm", "sent", f"Webhook POST {receiver.url}")
    assert receiver.requests == []
    assert not Delivery.objects.exists()  # rolled back


def test_the_funnel_counts_webhook_calls_sent_failed_and_blocked(with_webhook, receiver, raise_event, clock, settings):
    from django.utils import timezone

    from analytics.figures import Cohort, journey_report
    from journeys.models import Journey

    receiver.answers = [200, 400]
    with_webhook(webhook_step(receiver.url))
    raise_event("abandoned_cart", {"id": "a1", "email": "a1@example.com"}, CART)
    raise_event("abandoned_cart", {"id": "a2", "email": "a2@example.com"}, CART)
    settings.WEBHOOK_ALLOWED_HOSTS = []
    raise_event("abandoned_cart", {"id": "a3", "email": "a3@example.com"}, CART)

    journey = Journey.objects.get(key="abandoned-cart")
    now = timezone.now()
    report = journey_report(Cohort(journey, now - timedelta(days=1), now + timedelta(seconds=1)), now)
    step = next(s for s in report.steps if s.key == "tell-crm")
    assert step.messages is not None
    m = step.messages
    assert (m.channel, m.content, m.sent, m.failed, m.blocked_total, step.processed) == (
        "webhook",
        f"POST {receiver.url}",
        1,
        1,
        1,
        3,
    )


# --- The format and publishing ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "code", "message"),
    [
        ({"url": None}, "url", "required", "is required"),
        ({"url": 5}, "url", "wrong_type", "must be a string"),
        ({"url": "ftp://crm.example.com/x"}, "url", "invalid", "must start with https:// or http://"),
        ({"url": "https:///nohost"}, "url", "invalid", "needs a host, e.g. https://crm.example.com/hook"),
        (
            {"url": "https://u:p@crm.example.com/"},
            "url",
            "invalid",
            "must not hold a user name or password (the request is signed instead)",
        ),
        ({"method": "DELETE"}, "method", "invalid", "must be one of POST, PUT, PATCH, GET"),
        ({"method": "GET"}, "body", "invalid", "a GET request has no body"),
        ({"body": ["a"]}, "body", "wrong_type", "must be a JSON object"),
        ({"body": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}}, "body.a.b.c.d.e", "invalid", "nested at most 5 deep"),
        ({"body": {"x": "{% if %}"}}, "body.x", "invalid", None),
        ({"body": {"x": list(range(300))}}, "body.x[198]", "invalid", "at most 200 values in a body"),
        ({"timeout": "0s"}, "timeout", "invalid", "must be from 1s to 30s"),
        ({"timeout": "2m"}, "timeout", "invalid", "must be from 1s to 30s"),
        ({"timeout": "soon"}, "timeout", "invalid", None),
    ],
)
def test_each_webhook_rule_has_an_error_on_its_field(seed_bundle, change, field, code, message):
    from journeys.definition import BundleError, parse_bundle

    step = {k: v for k, v in {**webhook_step("https://crm.example.com/hook"), **change}.items() if v is not None}
    seed_bundle["journeys"][0]["steps"].insert(0, step)

    with pytest.raises(BundleError) as caught:
        parse_bundle(seed_bundle)

    (problem,) = [p for p in caught.value.problems if p.path.step == "tell-crm"]
    assert (problem.field, problem.code) == (field, code)
    if message is not None:
        assert problem.message == message


def test_a_draft_webhook_without_a_url_cannot_be_published(with_webhook):
    from journeys.models import Journey, Step
    from journeys.publishing import publish_problems

    with_webhook(webhook_step("https://crm.example.com/hook"))
    step = Step.objects.get(key="tell-crm")
    Step.objects.filter(pk=step.pk).update(settings={**step.settings, "url": ""})

    problems = publish_problems(Journey.objects.get(key="abandoned-cart").versions.get())

    assert [str(p) for p in problems] == ["step tell-crm: enter the URL to call"]


def test_the_participants_api_and_the_analytics_page_show_the_call(
    with_webhook, receiver, raise_event, client, analyst
):
    from django.urls import reverse
    from rest_framework.test import APIClient

    from triggers.keys import create_api_key

    receiver.answers = [201]
    with_webhook(webhook_step(receiver.url))
    raise_event("abandoned_cart", ANA, CART)
    _, raw = create_api_key("reporting", scope="read", source="shop")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    result = api.get("/api/v1/participants/", {"journey": "abandoned-cart", "contact": "ana"}).json()["results"][0]

    assert [(h["step"], h["outcome"]) for h in result["history"]][:3] == [
        ("", "entered"),
        ("tell-crm", "sent"),
        ("initial-email", "sent"),
    ]
    call = next(d for d in result["deliveries"] if d["step"] == "tell-crm")
    assert (call["channel"], call["status"], call["reason"], call["response_code"]) == ("webhook", "sent", None, 201)

    client.force_login(analyst)
    html = client.get(reverse("analytics:journey", args=["abandoned-cart"]) + "?period=24h").content.decode()
    assert f"POST {receiver.url}" in html


# --- With the other kinds of issue 13 -------------------------------------------------------------


def test_the_holdout_group_walks_past_the_webhook_without_a_call(with_webhook, receiver, raise_event, seed_bundle):
    seed_bundle["journeys"][0]["holdout_percent"] = 50
    with_webhook(webhook_step(receiver.url))
    people = [f"cust-{n}" for n in range(20)]

    for key in people:
        raise_event("abandoned_cart", {"id": key, "email": f"{key}@example.com"}, CART)

    held = [k for k in people if in_holdout("abandoned-cart", k, 50)]
    assert 0 < len(held) < len(people)
    called = {request["body"]["contact"] for request in receiver.requests}
    assert called == set(people) - set(held)
    for participant in Participant.objects.filter(contact__external_id__in=held):
        assert participant.history.get(step_key="tell-crm").outcome == "held_out"
        assert not participant.deliveries.exists()


def test_a_webhook_on_an_ab_test_variant_is_called_for_that_variant_only(with_webhook, receiver, raise_event):
    with_webhook(
        {
            "id": "subject-test",
            "type": "ab_test",
            "variants": [
                {"name": "A", "percent": 50, "steps": [webhook_step(receiver.url)]},
                {"name": "B", "percent": 50, "steps": [{"id": "note-b", "type": "log", "message": "B"}]},
            ],
            "winner": {"metric": "goal", "decide_after": "3d", "min_per_variant": 5},
        }
    )
    people = [f"cust-{n}" for n in range(20)]

    for key in people:
        raise_event("abandoned_cart", {"id": key, "email": f"{key}@example.com"}, CART)

    took_a = {
        p.contact.external_id
        for p in Participant.objects.filter(history__step_key="subject-test", history__outcome="path")
        if p.history.get(step_key="subject-test", outcome="path").detail["variant"] == "A"
    }
    assert 0 < len(took_a) < len(people)
    assert {request["body"]["contact"] for request in receiver.requests} == took_a


def test_the_dashboard_counts_messages_sent_not_webhook_calls(with_webhook, receiver, raise_event, clock):
    from datetime import timedelta

    from django.utils import timezone

    from analytics.figures import dashboard_rows
    from analytics.rollup import refresh

    with_webhook(webhook_step(receiver.url))
    raise_event("abandoned_cart", ANA, CART)
    assert the_call().status == "sent" and Delivery.objects.filter(channel="email", sent_at__isnull=False).count() == 1

    def sent_on_the_dashboard() -> int:
        now = timezone.now()
        (row,) = dashboard_rows(now - timedelta(days=7), now + timedelta(minutes=1))
        return row.sent

    assert sent_on_the_dashboard() == 1  # counted live
    clock.shift(2 * 24 * 3600)
    refresh(rebuild=True)
    assert sent_on_the_dashboard() == 1  # read from the rollup
