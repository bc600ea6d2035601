"""Text messages through an HTTP SMS provider in Twilio's REST API shape.

POST {TWILIO_BASE_URL}/2010-04-01/Accounts/{sid}/Messages.json, a form with To, From (or
MessagingServiceSid) and Body, HTTP basic auth (account SID and auth token), and the
delivery's id in `I-Twilio-Idempotency-Token` so a retried request is not sent twice, and a
`StatusCallback` URL where Twilio posts the message's delivery status (signed with
`X-Twilio-Signature`, checked by `signature_is_valid`). Standard library only: one request
per message, nothing to pool.
"""

import base64
import hashlib
import hmac
import json
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings

from content.errors import PermanentSendError, RecipientUnsubscribed, TransientSendError

from . import TextPayload

TRANSIENT_STATUSES = {408, 409, 425, 429, 500, 502, 503, 504}
# "Attempt to send to unsubscribed recipient": the number replied STOP to this sender.
UNSUBSCRIBED_RECIPIENT = 21610


class TwilioTextBackend:
    def __init__(self) -> None:
        self.base_url = settings.TWILIO_BASE_URL.rstrip("/")
        self.account_sid = settings.TWILIO_ACCOUNT_SID
        self.auth_token = settings.TWILIO_AUTH_TOKEN
        self.default_sender = settings.TWILIO_FROM
        self.timeout = settings.PROVIDER_TIMEOUT

    def send(self, message: TextPayload) -> str:
        if not self.account_sid or not self.auth_token:
            raise PermanentSendError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set.")
        sender = message.sender or self.default_sender
        form = {"To": message.to, "Body": message.body}
        # A Messaging Service id (MG…) picks the number itself; anything else is the From number.
        form["MessagingServiceSid" if sender.startswith("MG") else "From"] = sender
        if message.status_callback:
            form["StatusCallback"] = message.status_callback
        request = urllib.request.Request(
            f"{self.base_url}/2010-04-01/Accounts/{urllib.parse.quote(self.account_sid)}/Messages.json",
            data=urllib.parse.urlencode(form).encode(),
            method="POST",
            headers={
                "Authorization": "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode(),
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
        )
        if message.idempotency_key:
            request.add_header("I-Twilio-Idempotency-Token", message.idempotency_key)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            reason, code = _error_reason(error)
            if error.code in TRANSIENT_STATUSES:
                raise TransientSendError(reason) from error
            if code == UNSUBSCRIBED_RECIPIENT:
                raise RecipientUnsubscribed(reason) from error
            raise PermanentSendError(reason) from error
        except (TimeoutError, urllib.error.URLError, ConnectionError) as error:
            raise TransientSendError(f"SMS provider unreachable: {error}") from error
        except ValueError:
            # Accepted, but the answer is not JSON: do not send again (it may have gone out).
            return ""
        return str(body.get("sid", ""))


def _error_reason(error: urllib.error.HTTPError) -> tuple[str, int | None]:
    """The provider's own words, and its error code (Twilio's `code`) when it gave one."""
    try:
        body = json.loads(error.read() or b"{}")
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    detail = body.get("message") or error.reason
    code = body.get("code") if isinstance(body.get("code"), int) else None
    suffix = f" (code {code})" if code else ""
    return f"SMS provider answered {error.code}: {detail}{suffix}", code


def request_signature(url: str, params: dict[str, str], auth_token: str) -> str:
    """Twilio's X-Twilio-Signature: base64 HMAC-SHA1, keyed by the auth token, of the full URL
    followed by every POST parameter's name and value, sorted by name."""
    payload = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


def signature_is_valid(url: str, params: dict[str, str], header: str) -> bool:
    """Whether a callback to `url` really comes from Twilio (refused when no token is set)."""
    token = settings.TWILIO_AUTH_TOKEN
    return bool(token and header) and hmac.compare_digest(request_signature(url, params, token), header)
