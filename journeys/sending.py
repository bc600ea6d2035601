"""Sending one delivery, at most once: claim, re-check, render, hand to the channel, record.

`dispatch_delivery` runs from a task that may run twice or at the same time as another copy
(django-q2 is at-least-once). The claim is a conditional UPDATE that sets a lease
(next_attempt_at) and counts the attempt; exactly one caller changes the row, the others
return. The provider gets the delivery's id as idempotency key, so a retry after a crash
between the provider's accept and our "sent" is deduplicated by providers that honour one
(Twilio's I-Twilio-Idempotency-Token, Web Push's Topic). Plain SMTP cannot deduplicate: a
crash in that window (after the server accepted, before "sent" is written) sends again
when the lease ends; the Message-ID stays the same, so mail clients show it once.

Delivery statuses changed here (through journeys.deliveries, which owns the table of allowed
changes): queued -> sent; queued -> failed (permanent error, or transient errors past
DELIVERY_MAX_ATTEMPTS); queued -> blocked with reason `participant_left` (the participant
exited or was stopped before the send), `unsubscribed` (the contact unsubscribed after the
message was queued) or `content_not_ready`; queued -> unknown (the claimer died during the
attempt and DELIVERY_GUARANTEE is at-most-once); queued -> expired (the message step's
expires_after passed: checked after the claim, before the provider call, and before a retry
is scheduled past it).

A webhook step's call is a delivery on the `webhook` channel, sent here the same way
(`_call_webhook`, with journeys.webhooks): a refused host is blocked (`host_not_allowed`).

Just before the provider call `sending_started_at` is set; every outcome clears it. One still
set when the lease has passed is an attempt whose process died: whether the provider got the
message is unknown. (Set per message, not by the claim: a chunk claimed at once by a worker
that dies leaves only the message in flight unknown; the rest are claimed again.)
At most once (the default) records it as `unknown` and never sends it again; at least once
sends it again (a duplicate if the provider had accepted it, unless it deduplicates).
"""

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from content.backends import PushPayload, TextPayload, get_push_backend, get_text_backend
from content.errors import PermanentSendError, RecipientUnsubscribed, RenderError, SendError, TransientSendError
from content.mail import build_message, one_connection, render_email, send_message
from content.models import Channel, Content, Email, PushNotification, TextMessage
from content.rendering import TemplateSyntaxError, render

from . import consent, deliveries, tracking, webhooks
from .contacts import template_context
from .durations import DurationError
from .expiry import expired_reason, expires_at, when
from .models import WEBHOOK, BlockReason, Consent, ConsentStatus, Delivery, DeliveryStatus, ParticipantState

logger = logging.getLogger(__name__)

LEASE = deliveries.LEASE
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=6)
# A queued delivery never dispatched (its task was lost) is picked up by the sweep after this,
# or after the lease when that is shorter (see `lost_task_grace`).
LOST_TASK_GRACE = timedelta(minutes=2)


def lost_task_grace() -> timedelta:
    """How long a queued delivery nobody claimed may wait before the sweep dispatches it again.

    Its task usually ran within seconds; one still unclaimed after the lease was most likely
    lost with its worker (an inline dispatch killed mid-chunk, a Redis task gone with its
    cluster). Tied to the lease so that a lost send goes out within the same bound as an
    abandoned claim (lease + the sweep's period). Dispatching one that merely waits in a
    backlog is harmless: the claim lets exactly one task send it, the other returns."""
    return min(LOST_TASK_GRACE, deliveries.lease())


# Block reason when the participant left the journey between queueing and sending.
PARTICIPANT_LEFT = "participant_left"
LEFT_STATES = (ParticipantState.EXITED, ParticipantState.STOPPED)


def dispatch_delivery(delivery_id: int) -> None:
    """Send one queued delivery through its channel, at most once (harmless to run twice)."""
    now = timezone.now()
    if not claim(delivery_id, now):
        return
    _record_sent(_dispatch_claimed(_load_for_sending(Delivery.objects.filter(pk=delivery_id))[0]))


def dispatch_deliveries(delivery_ids: list[int], *, claimed: Mapping[int, datetime] | None = None) -> None:
    """Send a chunk of queued deliveries, each at most once: one claim and one load for the
    chunk, then each send and its record; emails share one connection to the backend.
    `claimed` (id -> lease) are sent too, without a claim: their INSERT claimed them for this
    worker (journeys.queue.Collected); those no longer this worker's are left alone
    (deliveries.still_claimed).

    A message's "sent" is written with the next message's "sending started", in one
    statement (deliveries.begin_attempt's `record`), so a chunk of N messages costs N + 1
    status writes, not 2N. The states are those of writing them one by one: a worker killed
    between two messages leaves the one it had handed to the provider (started, not yet
    sent) to become `unknown`, and the rest (not started) to be claimed again."""
    now = timezone.now()
    won = claim_many(delivery_ids, now) if delivery_ids else []
    if not won and not claimed:
        return
    ours = Q(pk__in=won) | deliveries.still_claimed(claimed or {}, now)
    unrecorded: deliveries.Sent | None = None
    try:
        with one_connection():
            for delivery in _load_for_sending(Delivery.objects.filter(ours).order_by("pk")):
                unrecorded = _dispatch_claimed(delivery, unrecorded)
            # The last one's, before the session's QUIT (no round trip between a provider's
            # accept and its record that the old order did not have).
            _record_sent(unrecorded)
            unrecorded = None
    finally:
        # An error escaping the loop: the one sent before it is recorded all the same.
        _record_sent(unrecorded)


def _record_sent(unrecorded: deliveries.Sent | None) -> None:
    if unrecorded is not None:
        mark_sent(unrecorded.delivery, unrecorded.provider_message_id, response_code=unrecorded.response_code)


def _dispatch_claimed(delivery: Delivery, unrecorded: deliveries.Sent | None = None) -> deliveries.Sent | None:
    """Send a claimed delivery, or record why not. `unrecorded` is the previous message's
    "sent", written here (with this message's begin_attempt when it goes to a provider).
    Returns this message's "sent" for the caller to write the same way (None when its
    outcome is already written)."""
    refusal = _refusal(delivery)
    if refusal is None and delivery.channel != WEBHOOK:
        begin_attempt(delivery, record=unrecorded)
        return _attempt(delivery)
    _record_sent(unrecorded)
    if refusal is not None:
        refusal()
    else:
        _call_webhook(delivery)
    return None


def _refusal(delivery: Delivery) -> Callable[[], None] | None:
    """Why a claimed delivery may not go out, as the write that records it (None when it may
    go). Checked on what the chunk loaded, before anything goes to a provider."""
    if delivery.participant.state in LEFT_STATES:
        return partial(block, delivery, PARTICIPANT_LEFT)
    too_late = _too_late(delivery, timezone.now())
    if too_late:
        # Checked once the claim is ours (no other sender can be in the middle of it) and
        # before anything goes to the provider: a message past its expires_after never goes.
        return partial(deliveries.expire, delivery, too_late)
    if delivery.channel == WEBHOOK:
        return None
    if delivery.commercial and delivery.contact_unsubscribed:  # type: ignore[attr-defined]  # annotated by _load_for_sending
        return partial(block, delivery, BlockReason.UNSUBSCRIBED)
    assert delivery.content is not None, "a message has content (a check constraint)"
    if not delivery.content.is_ready:
        # Moved back to Draft after it was queued (allowed once no live journey uses it, e.g.
        # when only a replaced version's participants still reach it): a draft is never sent.
        return partial(block, delivery, BlockReason.CONTENT_NOT_READY)
    return None


def _attempt(delivery: Delivery) -> deliveries.Sent | None:
    """Hand the message to its channel (begin_attempt is written): its "sent" to record, or
    None when another outcome was recorded."""
    try:
        provider_id = _send(delivery)
    except (TemplateSyntaxError, RenderError) as error:
        fail(delivery, f"The message could not be rendered: {error}")
    except RecipientUnsubscribed:
        # The contact opted out with the provider itself (replied STOP): that is consent news,
        # so the next journeys block the channel before asking the provider.
        consent.unsubscribe(
            delivery.contact, delivery.channel, source=f"{consent.SOURCE_PROVIDER_OPT_OUT} (delivery {delivery.pk})"
        )
        block(delivery, BlockReason.UNSUBSCRIBED)
    except PermanentSendError as error:
        fail(delivery, str(error) or type(error).__name__)
    except TransientSendError as error:
        retry_later(delivery, str(error) or type(error).__name__)
    except Exception as error:  # an unexpected error: record it and try again later
        logger.exception("Delivery %s: unexpected error while sending", delivery.pk)
        retry_later(delivery, f"{type(error).__name__}: {error}")
    else:
        return deliveries.Sent(delivery, provider_id)
    return None


def retry_due_deliveries(now: datetime | None = None, limit: int = 500) -> int:
    """Dispatch again queued deliveries whose retry time (or lease) has passed, and queued ones
    whose task was lost. Returns how many were enqueued. The engine's sweep calls this."""
    from .queue import enqueue_dispatch

    now = now or timezone.now()
    if at_most_once():
        mark_abandoned_attempts_unknown(now, limit)
    due = (
        Delivery.objects.filter(status=DeliveryStatus.QUEUED)
        .filter(Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True, created_at__lte=now - lost_task_grace()))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    ids = list(due)
    for delivery_id in ids:
        enqueue_dispatch(delivery_id)
    return len(ids)


def _load_for_sending(deliveries: QuerySet[Delivery]) -> list[Delivery]:
    """The deliveries with everything a send reads (consent included): what is each one's
    own in one query, and the rows a chunk's deliveries share (their step, journey and
    content, usually one of each) in one query each, built once for the chunk instead of
    once per delivery (a fifth of sending's CPU when they came with every row, issue 15)."""
    unsubscribed = Consent.objects.filter(
        contact=OuterRef("contact_id"), channel=OuterRef("channel"), status=ConsentStatus.UNSUBSCRIBED
    )
    return list(
        deliveries.select_related("contact", "participant__entry_event")
        .prefetch_related(
            "step",
            "participant__journey",
            # The channel's own row, so content.specific costs no query.
            Prefetch("content", Content.objects.select_related("email", "textmessage", "pushnotification")),
        )
        .annotate(contact_unsubscribed=Exists(unsubscribed))
    )


# --- Status changes (journeys.deliveries writes them) -----------------------------------------

claim, claim_many, begin_attempt, mark_sent, block, fail = (
    deliveries.claim,
    deliveries.claim_many,
    deliveries.begin_attempt,
    deliveries.mark_sent,
    deliveries.block,
    deliveries.fail,
)
AT_MOST_ONCE, AT_LEAST_ONCE, UNKNOWN_REASON = (
    deliveries.AT_MOST_ONCE,
    deliveries.AT_LEAST_ONCE,
    deliveries.UNKNOWN_REASON,
)
at_most_once, lease, mark_abandoned_attempts_unknown = (
    deliveries.at_most_once,
    deliveries.lease,
    deliveries.mark_abandoned_attempts_unknown,
)


def retry_later(delivery: Delivery, reason: str, *, response_code: int | None = None) -> None:
    """A transient error: stay queued with exponential backoff, or give up past the limit
    (or expire, when the next attempt would come after the message's expires_after)."""
    attempts = delivery.attempts  # loaded after the claim counted this attempt
    if attempts >= settings.DELIVERY_MAX_ATTEMPTS:
        fail(delivery, f"Gave up after {attempts} attempts: {reason}", response_code=response_code)
        return
    delay = min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_MAX)
    next_attempt = timezone.now() + delay
    expiry = expires_at(delivery.step, delivery.participant)
    if expiry is not None and next_attempt >= expiry:
        why = f"the next attempt ({when(next_attempt)}) would come after {when(expiry)}; last error: {reason}"
        deliveries.expire(delivery, expired_reason(delivery.step, why))
        return
    deliveries.retry_at(delivery, next_attempt, reason, response_code=response_code)


def _too_late(delivery: Delivery, now: datetime) -> str:
    """Why a queued message may no longer go out ("" while it may)."""
    expiry = expires_at(delivery.step, delivery.participant)
    if expiry is None or now < expiry:
        return ""
    return expired_reason(delivery.step, f"not sent by {when(expiry)} (attempt {delivery.attempts} at {when(now)})")


# --- Webhooks ------------------------------------------------------------------------------------


def _call_webhook(delivery: Delivery) -> None:
    """A webhook step's call: the host checked (a refused one is blocked, no attempt made),
    then one signed request; 2xx is sent, 408, 429, 5xx and no answer are retried, other
    answers fail at once (a redirect too: none is followed)."""
    config = delivery.step.settings
    try:
        target = webhooks.resolve(config.get("url", ""))
    except webhooks.HostNotAllowed as refused:
        block(delivery, refused.reason)
        return
    except webhooks.Unreachable as error:
        retry_later(delivery, str(error))
        return
    context = template_context(delivery.participant, delivery.contact)
    try:
        raw, headers = webhooks.request_of(config, context, int(timezone.now().timestamp()))
    except (TemplateSyntaxError, RenderError) as error:
        fail(delivery, f"The body could not be rendered: {error}")
        return
    headers["X-Journeys-Delivery"] = str(delivery.pk)
    try:
        timeout = webhooks.parse_timeout(config.get("timeout") or webhooks.DEFAULT_TIMEOUT).total_seconds()
    except DurationError:  # checked when the journey was parsed; a row edited since gets the default
        timeout = webhooks.parse_timeout(webhooks.DEFAULT_TIMEOUT).total_seconds()
    begin_attempt(delivery)
    try:
        code = webhooks.send(target, config.get("method", "POST"), raw, headers, timeout)
    except webhooks.Unreachable as error:
        retry_later(delivery, str(error))
    except Exception as error:  # an unexpected error: record it and try again later
        logger.exception("Delivery %s: unexpected error while calling a webhook", delivery.pk)
        retry_later(delivery, f"{type(error).__name__}: {error}")
    else:
        if 200 <= code < 300:
            mark_sent(delivery, "", response_code=code)
        elif code in (408, 429) or code >= 500:
            retry_later(delivery, f"HTTP {code}", response_code=code)
        else:
            fail(delivery, f"HTTP {code}", response_code=code)


# --- Rendering and the channels --------------------------------------------------------------


def render_context(delivery: Delivery) -> dict[str, Any]:
    """What a message template sees, as plain data (the sandbox freezes it)."""
    return {
        **template_context(delivery.participant, delivery.contact),
        "unsubscribe_url": tracking.unsubscribe_url(delivery.pk, delivery.contact_id, delivery.channel),
    }


def _send(delivery: Delivery) -> str:
    context = render_context(delivery)
    assert delivery.content is not None, "a message has content (a check constraint)"
    content = delivery.content.specific
    key = str(delivery.pk)
    if delivery.channel == Channel.EMAIL:
        assert isinstance(content, Email)
        return _send_email(delivery, content, context)
    if delivery.channel == Channel.TEXT:
        assert isinstance(content, TextMessage)
        body = render(content.body, context, html=False)
        return get_text_backend().send(
            TextPayload(
                to=delivery.address,
                body=body,
                sender=content.sender,
                idempotency_key=key,
                status_callback=tracking.twilio_status_url(),
            )
        )
    if delivery.channel == Channel.PUSH:
        assert isinstance(content, PushNotification)
        link = render(content.link_url, context, html=False).strip()
        return get_push_backend().send(
            PushPayload(
                to=delivery.address,
                title=render(content.title, context, html=False),
                body=render(content.body, context, html=False),
                # The tap opens a signed tracking link (recorded as the push's open, which raises
                # push_opened) that redirects to the link: no secret has to live in the browser.
                link_url=tracking.click_url(delivery.pk, link) if link else "",
                image_url=content.image_url,
                idempotency_key=key,
                data={"delivery_id": key},
            )
        )
    raise SendError(f"Unknown channel {delivery.channel!r}")


def _send_email(delivery: Delivery, email: Email, context: dict[str, Any]) -> str:
    rendered = render_email(email, context)
    unsubscribe = context["unsubscribe_url"]
    headers = {
        # The same Message-ID on every attempt: a resend after a crash is one message to mail clients.
        "Message-ID": f"<delivery-{delivery.pk}@{_site_host()}>",
        "X-Delivery-Id": str(delivery.pk),
    }
    if delivery.commercial:
        # RFC 2369 and RFC 8058: mail clients show an unsubscribe button that POSTs here.
        headers["List-Unsubscribe"] = f"<{unsubscribe}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"

    def track_link(url: str) -> str:
        return url if url == unsubscribe else tracking.click_url(delivery.pk, url)

    message = build_message(
        rendered,
        to=delivery.address,
        headers=headers,
        pixel_url=tracking.open_url(delivery.pk),
        track_link=track_link,
        metadata={"delivery_id": str(delivery.pk)},
    )
    return send_message(message)


def _site_host() -> str:
    return urlsplit(settings.SITE_URL).hostname or "localhost"
