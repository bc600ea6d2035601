"""Calling a webhook step's URL: the body rendered in the content sandbox, signed, and sent
to an address checked against server-side request forgery.

The format's checks are pure (`url_problem`, `body_problem`, `timeout_problem`); a call is
two steps, so the sender can record a refused host before it counts an attempt:
`resolve(url)` looks the host up once and refuses private, loopback, link-local, multicast,
reserved and unspecified addresses (IPv4 and IPv6, IPv4-mapped included) unless the host is
in WEBHOOK_ALLOWED_HOSTS; `send(target, ...)` connects to that very address (no second lookup
an attacker's DNS could answer differently), with the URL's host in the Host header and TLS
SNI and certificate check, and follows no redirect.
"""

import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from content.rendering import TemplateSyntaxError, compile_template, render

from .durations import DurationError, parse_duration

METHODS = ("POST", "PUT", "PATCH", "GET")
MIN_TIMEOUT, MAX_TIMEOUT = timedelta(seconds=1), timedelta(seconds=30)
DEFAULT_TIMEOUT = "10s"
MAX_URL = 500  # Delivery.address keeps it
MAX_DEPTH = 5  # nesting of objects and lists in a body
MAX_ITEMS = 200  # values (strings, numbers, objects, lists) in a body
MAX_BODY = 10_000  # characters of the body as JSON, before rendering
MAX_RESPONSE = 64 * 1024  # what is read of an answer (and thrown away) to end the exchange cleanly
SIGNATURE_HEADER = "X-Journeys-Signature"
USER_AGENT = "Journeys-Webhook/1"


class HostNotAllowed(Exception):
    """The URL's host is, or resolves to, an address the server must not call."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Unreachable(Exception):
    """No answer: the host could not be resolved or reached, or it did not answer in time."""


# --- The format's checks (pure) --------------------------------------------------------------


def url_problem(url: Any) -> str:
    """What is wrong with a webhook URL ("" when nothing)."""
    if url is None or url == "" or (isinstance(url, str) and not url.strip()):
        return "is required"
    if not isinstance(url, str):
        return "must be a string"
    if len(url) > MAX_URL:
        return f"at most {MAX_URL} characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number
    except ValueError as error:
        return f"is not a URL ({error})"
    if parts.scheme not in ("http", "https"):
        return "must start with https:// or http://"
    if not parts.hostname:
        return "needs a host, e.g. https://crm.example.com/hook"
    if parts.username or parts.password:
        return "must not hold a user name or password (the request is signed instead)"
    if any(c.isspace() for c in url):
        return "must not contain spaces"
    return ""


def body_problem(body: Any) -> tuple[tuple[str | int, ...], str] | None:
    """Where and what is wrong with a body (an object of strings, numbers, booleans, nulls,
    objects and lists, bounded), or None. Strings are templates: they must compile."""
    if not isinstance(body, dict):
        return (), "must be a JSON object"
    count = 0

    def walk(value: Any, where: tuple[str | int, ...], depth: int) -> tuple[tuple[str | int, ...], str] | None:
        nonlocal count
        count += 1
        if count > MAX_ITEMS:
            return where, f"at most {MAX_ITEMS} values in a body"
        if isinstance(value, dict):
            if depth >= MAX_DEPTH:
                return where, f"nested at most {MAX_DEPTH} deep"
            for key, item in value.items():
                found = walk(item, (*where, key), depth + 1)
                if found:
                    return found
        elif isinstance(value, list):
            if depth >= MAX_DEPTH:
                return where, f"nested at most {MAX_DEPTH} deep"
            for index, item in enumerate(value):
                found = walk(item, (*where, index), depth + 1)
                if found:
                    return found
        elif isinstance(value, str):
            try:
                compile_template(value, html=False)
            except TemplateSyntaxError as error:
                return where, f"template error: {error}"
        elif not (value is None or isinstance(value, bool | int | float)):
            return where, "must be a string, number, boolean, null, object or list"
        return None

    # The walk first: it stops at MAX_DEPTH, before anything recurses through a deep body.
    found = walk(body, (), 0)
    if found is None and len(json.dumps(body)) > MAX_BODY:
        return (), f"at most {MAX_BODY} characters as JSON"
    return found


def parse_timeout(text: Any) -> timedelta:
    """A call's timeout: a duration from 1s to 30s (DurationError otherwise)."""
    timeout = parse_duration(text)
    if not MIN_TIMEOUT <= timeout <= MAX_TIMEOUT:
        raise DurationError("must be from 1s to 30s")
    return timeout


# --- The call ----------------------------------------------------------------------------------


def render_body(body: Any, context: Mapping[str, Any]) -> Any:
    """The body with each string rendered in the content sandbox (keys are left as they are)."""
    if isinstance(body, dict):
        return {key: render_body(value, context) for key, value in body.items()}
    if isinstance(body, list):
        return [render_body(item, context) for item in body]
    if isinstance(body, str):
        return render(body, context, html=False)
    return body


def signature(secret: str, timestamp: int, raw: bytes) -> str:
    """The header's value: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + raw, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


@dataclass(frozen=True)
class Target:
    """A URL and the checked address to connect to."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


def allowed_hosts() -> set[str]:
    return {h.strip().lower().strip("[]") for h in getattr(settings, "WEBHOOK_ALLOWED_HOSTS", []) if h.strip()}


def refusal(address: str) -> str:
    """Why an address must not be called ("" for a public one)."""
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address.split("%", 1)[0])
    mapped = ""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip, mapped = ip.ipv4_mapped, "IPv4-mapped "
    for name, flag in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("not public", not ip.is_global),
    ):
        if flag:
            return f"{mapped}{name} address {ip}"
    return ""


def resolve(url: str) -> Target:
    """Look the URL's host up and check every address it has (one private address is enough
    to refuse: a resolver may answer in any order)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as error:
        raise Unreachable(f"could not resolve {host}: {error}") from error
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise Unreachable(f"{host} has no address")
    if host not in allowed_hosts():
        for address in addresses:
            why = refusal(address)
            if why:
                detail = why if host == address.lower() else f"{host} resolves to {why}"
                raise HostNotAllowed(f"host_not_allowed: {detail}; list the host in WEBHOOK_ALLOWED_HOSTS to call it")
    return Target(parts.scheme, host, port, path, addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to a checked address; the Host header names the URL's host."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a checked address; SNI and the certificate check use the URL's host."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def send(target: Target, method: str, raw: bytes | None, headers: dict[str, str], timeout: float) -> int:
    """Make the request; its HTTP status code (redirects are answers, not followed).
    Raises Unreachable when there is no answer in time."""
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target, timeout)
    try:
        connection.request(method, target.path, body=raw, headers={"User-Agent": USER_AGENT, **headers})
        response = connection.getresponse()
        response.read(MAX_RESPONSE)
        return response.status
    except TimeoutError as error:
        raise Unreachable(f"no answer within {timeout:g}s") from error
    except (OSError, http.client.HTTPException) as error:
        raise Unreachable(f"{type(error).__name__}: {error}") from error
    finally:
        connection.close()


def request_of(settings_: Mapping[str, Any], context: Mapping[str, Any], now_seconds: int) -> tuple[bytes | None, dict]:
    """The raw body and headers of a step's call (rendered and signed)."""
    method = settings_.get("method", "POST")
    headers: dict[str, str] = {}
    raw: bytes | None = None
    if method != "GET":
        raw = json.dumps(render_body(settings_.get("body") or {}, context), separators=(",", ":")).encode()
        headers["Content-Type"] = "application/json"
    secret = getattr(settings, "WEBHOOK_SIGNING_SECRET", "")
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, now_seconds, raw or b"")
    return raw, headers
