"""Push notifications through Web Push (RFC 8030) with VAPID, using pywebpush.

The contact's push token is the browser's subscription JSON ({"endpoint", "keys": {"p256dh",
"auth"}}); the endpoint is the push service's URL, so any push service (or a local fake)
works. The delivery's id goes in the `Topic` header: a push service replaces a message still
waiting for the device with a newer one of the same topic, so a retry cannot show twice.
"""

import json

import requests
from django.conf import settings
from pywebpush import WebPushException, webpush

from content.errors import PermanentSendError, TransientSendError

from . import PushPayload

TRANSIENT_STATUSES = {408, 425, 429, 500, 502, 503, 504}


class WebPushBackend:
    def __init__(self) -> None:
        self.private_key = settings.WEBPUSH_VAPID_PRIVATE_KEY
        self.subject = settings.WEBPUSH_VAPID_SUBJECT
        self.ttl = settings.WEBPUSH_TTL
        self.timeout = settings.PROVIDER_TIMEOUT

    def send(self, message: PushPayload) -> str:
        if not self.private_key:
            raise PermanentSendError("WEBPUSH_VAPID_PRIVATE_KEY is not set.")
        try:
            subscription = json.loads(message.to)
            if not (subscription["endpoint"] and subscription["keys"]["p256dh"] and subscription["keys"]["auth"]):
                raise ValueError("empty subscription field")
        except (ValueError, KeyError, TypeError) as error:
            raise PermanentSendError("The push token is not a Web Push subscription.") from error
        payload = {
            "title": message.title,
            "body": message.body,
            "url": message.link_url,
            "image": message.image_url,
            **message.data,
        }
        headers = {"Urgency": "normal"}
        if message.idempotency_key:
            headers["Topic"] = f"delivery-{message.idempotency_key}"[:32]
        try:
            response = webpush(
                subscription_info=subscription,
                data=json.dumps(payload),
                vapid_private_key=self.private_key,
                vapid_claims={"sub": self.subject},
                ttl=self.ttl,
                timeout=self.timeout,
                headers=headers,
            )
        except WebPushException as error:
            status = error.response.status_code if error.response is not None else None
            reason = (
                f"Push service answered {status}: {error.response.text[:200] if error.response is not None else error}"
            )
            if status is None or status in TRANSIENT_STATUSES:
                raise TransientSendError(reason) from error
            # 404/410: the subscription is gone; other 4xx: the request itself is wrong.
            raise PermanentSendError(reason) from error
        except requests.RequestException as error:
            raise TransientSendError(f"Push service unreachable: {error}") from error
        return response.headers.get("Location", "")
