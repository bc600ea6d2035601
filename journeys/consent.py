"""Consent to commercial messages, per contact and channel: the one writer of Consent rows."""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import Consent, ConsentChange, ConsentStatus, Contact

# Where a change came from (Consent.source).
SOURCE_UNSUBSCRIBE_PAGE = "unsubscribe link"
SOURCE_LIST_UNSUBSCRIBE = "list-unsubscribe"
SOURCE_ADMIN = "admin"
SOURCE_TEXT_REPLY = "text reply"
SOURCE_PROVIDER_OPT_OUT = "provider opt-out"
SOURCE_API = "api"  # the contact's own opt-in, sent by the website: "api: <its source>"

# Sources that act for the business, not for the contact.
OPERATOR_SOURCES = frozenset({SOURCE_ADMIN})
OPERATOR_REFUSAL = (
    "Only the contact can undo an opt-out: a new opt-in through POST /api/v1/contacts/{id}/consent "
    "(or a text reply START) records it with its source."
)

# The keywords carriers and Twilio treat as opting out of (or back into) a sender's texts.
OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP", "OPTIN"})


class ConsentRefused(Exception):
    """The change is not this source's to make: only the contact undoes an opt-out."""


def set_consent(contact: Contact, channel: str, status: str, *, source: str, at: datetime | None = None) -> Consent:
    """Record the contact's consent on a channel (one row per contact and channel, updated)
    and append it to the contact's ConsentChange history.

    Raises ConsentRefused when an operator (SOURCE_ADMIN) would subscribe a contact who
    unsubscribed: only the contact undoes an opt-out (a text reply START, or a new opt-in
    through POST /api/v1/contacts/{id}/consent with its source).
    """
    at = at or timezone.now()
    values = {"status": status, "source": source[:100], "changed_at": at}
    with transaction.atomic():
        current = Consent.objects.select_for_update().filter(contact=contact, channel=channel).first()
        if source in OPERATOR_SOURCES and not may_operator_set(current.status if current else None, status):
            raise ConsentRefused(OPERATOR_REFUSAL)
        try:
            with transaction.atomic():
                consent, _ = Consent.objects.update_or_create(contact=contact, channel=channel, defaults=values)
        except IntegrityError:
            # Two requests created the row at once (the unique constraint refused the second):
            # the row exists now, so update it.
            Consent.objects.filter(contact=contact, channel=channel).update(**values)
            consent = Consent.objects.get(contact=contact, channel=channel)
        ConsentChange.objects.create(contact=contact, channel=channel, status=status, source=source[:100], at=at)
    return consent


def may_operator_set(current: str | None, new: str) -> bool:
    """An operator may record an opt-out, or a first consent; never undo an opt-out."""
    return not (current == ConsentStatus.UNSUBSCRIBED and new == ConsentStatus.SUBSCRIBED)


def unsubscribe(contact: Contact, channel: str, *, source: str, at: datetime | None = None) -> Consent:
    """The contact gets no commercial message on `channel` from now on."""
    return set_consent(contact, channel, ConsentStatus.UNSUBSCRIBED, source=source, at=at)


def subscribe(contact: Contact, channel: str, *, source: str, at: datetime | None = None) -> Consent:
    return set_consent(contact, channel, ConsentStatus.SUBSCRIBED, source=source, at=at)


def apply_text_reply(phone: str, body: str, *, opt_out_type: str = "", at: datetime | None = None) -> str | None:
    """A text reply from `phone`: STOP (and its synonyms) unsubscribes every contact with that
    number from commercial texts, START subscribes them again. Returns "unsubscribed",
    "subscribed" or None (any other reply changes nothing).

    Like Twilio, the whole reply must be the keyword ("stop", " STOP. "), so "Yes, but…" or
    "don't stop" change nothing. `opt_out_type` is the provider's own reading of the reply
    (Twilio's OptOutType), used when given: it knows the keywords configured for the sender.
    """
    if not phone.strip():
        return None  # no sender: it must not match every contact without a phone
    keyword = (opt_out_type or body).strip().strip(".!").strip().upper()
    if keyword in OPT_OUT_KEYWORDS:
        status = ConsentStatus.UNSUBSCRIBED
    elif keyword in OPT_IN_KEYWORDS:
        status = ConsentStatus.SUBSCRIBED
    else:
        return None
    for contact in Contact.objects.filter(phone=phone.strip()):
        set_consent(contact, "text", status, source=f"{SOURCE_TEXT_REPLY} ({keyword})", at=at)
    return status
