"""Text messages through an HTTP SMS provider in Twilio's REST API shape.

POST {TWILIO_BASE_URL}/2010-04-01/Accounts/{sid}/Messages.json, a form with To, From (or
MessagingServiceSid) and Body, HTTP basic auth (account SID and auth token), and the
delivery's id in `I-Twilio-Idempotency-Token` so a retried request is not sent twice.
Standard library only: one request per message, nothing to pool.
"""

import base64
import json
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings

from content.errors import PermanentSendError, TransientSendError

from . import TextPayload

TRANSIENT_STATUSES = {408, 409, 425, 429, 500, 502, 503, 504}


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
            reason = _error_reason(error)
            if error.code in TRANSIENT_STATUSES:
                raise TransientSendError(reason) from error
            raise PermanentSendError(reason) from error
        except (TimeoutError, urllib.error.URLError, ConnectionError) as error:
            raise TransientSendError(f"SMS provider unreachable: {error}") from error
        except ValueError:
            # Accepted, but the answer is not JSON: do not send again (it may have gone out).
            return ""
        return str(body.get("sid", ""))


def _error_reason(error: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(error.read() or b"{}")
    except ValueError:
        body = {}
    detail = body.get("message") or error.reason
    code = f" (code {body['code']})" if body.get("code") else ""
    return f"SMS provider answered {error.code}: {detail}{code}"
