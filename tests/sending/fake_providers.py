"""Local fake providers on 127.0.0.1 (http.server in a thread), shaped like the real ones."""

import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from requests.structures import CaseInsensitiveDict


@dataclass
class Recorded:
    method: str
    path: str
    headers: CaseInsensitiveDict
    body: bytes


@dataclass
class FakeTwilio:
    """Twilio's Messages resource: accepts a form, honours I-Twilio-Idempotency-Token.

    `answers` is a list of status codes to answer before behaving normally. A 503 is given
    *after* the message was accepted (as when a response is lost), so only idempotency
    keeps a retry from sending it twice.
    """

    answers: list[int] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)  # sid -> message
    by_token: dict[str, str] = field(default_factory=dict)  # idempotency token -> sid
    opted_out: set[str] = field(default_factory=set)  # numbers that replied STOP

    def handle(self, request: Recorded) -> tuple[int, dict[str, Any]]:
        form = {k: v[0] for k, v in urllib.parse.parse_qs(request.body.decode()).items()}
        token = request.headers.get("I-Twilio-Idempotency-Token", "")
        sid = self.by_token.get(token) if token else None
        if sid is None:
            if form.get("To") == "+1555INVALID":
                return 400, {"code": 21211, "message": "The 'To' number +1555INVALID is not a valid phone number."}
            if form.get("To") in self.opted_out:
                return 400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient"}
            sid = f"SM{len(self.messages) + 1:032d}"
            self.messages[sid] = {"sid": sid, **form}
            if token:
                self.by_token[token] = sid
        if self.answers:
            return self.answers.pop(0), {"code": 20503, "message": "Service unavailable"}
        return 201, {**self.messages[sid], "status": "queued"}


@dataclass
class FakePushService:
    """A Web Push service: POST /push/<id> answers 201 with the message's Location."""

    answers: list[int] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)

    def handle(self, request: Recorded) -> tuple[int, dict[str, Any]]:
        if self.answers:
            return self.answers.pop(0), {}
        return 201, {}


@contextmanager
def serve(provider: Any) -> Iterator[str]:
    """Run `provider` on a free loopback port; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Recorded("POST", self.path, CaseInsensitiveDict(self.headers.items()), self.rfile.read(length))
            provider.requests.append(request)
            status, body = provider.handle(request)
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if status == 201 and isinstance(provider, FakePushService):
                self.send_header("Location", f"{self.path}/messages/{len(provider.requests)}")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
