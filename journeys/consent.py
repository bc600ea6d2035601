"""Consent to commercial messages, per contact and channel: the one writer of Consent rows."""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import Consent, ConsentStatus, Contact

# Where a change came from (Consent.source).
SOURCE_UNSUBSCRIBE_PAGE = "unsubscribe link"
SOURCE_LIST_UNSUBSCRIBE = "list-unsubscribe"
SOURCE_ADMIN = "admin"


def set_consent(contact: Contact, channel: str, status: str, *, source: str, at: datetime | None = None) -> Consent:
    """Record the contact's consent on a channel (one row per contact and channel, updated)."""
    at = at or timezone.now()
    values = {"status": status, "source": source[:100], "changed_at": at}
    try:
        with transaction.atomic():
            consent, _ = Consent.objects.update_or_create(contact=contact, channel=channel, defaults=values)
    except IntegrityError:
        # Two requests created the row at once (the unique constraint refused the second):
        # the row exists now, so update it.
        Consent.objects.filter(contact=contact, channel=channel).update(**values)
        consent = Consent.objects.get(contact=contact, channel=channel)
    return consent


def unsubscribe(contact: Contact, channel: str, *, source: str, at: datetime | None = None) -> Consent:
    """The contact gets no commercial message on `channel` from now on."""
    return set_consent(contact, channel, ConsentStatus.UNSUBSCRIBED, source=source, at=at)


def subscribe(contact: Contact, channel: str, *, source: str, at: datetime | None = None) -> Consent:
    return set_consent(contact, channel, ConsentStatus.SUBSCRIBED, source=source, at=at)


def is_unsubscribed(contact: Contact, channel: str) -> bool:
    return Consent.objects.filter(contact=contact, channel=channel, status=ConsentStatus.UNSUBSCRIBED).exists()
