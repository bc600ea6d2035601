"""Contacts as the website describes them in events: created on first sight, updated with
whatever fields later events carry."""

import zoneinfo
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction

from .models import Contact

if TYPE_CHECKING:
    from .models import Participant

CONTACT_FIELDS = ("email", "phone", "push_token", "first_name", "last_name", "time_zone")


def upsert_contact(external_id: str, fields: Mapping[str, Any] | None) -> Contact:
    """The contact with this id, created if new, updated with the given fields (blank or
    missing fields leave what is stored; `attributes` are merged)."""
    return upsert_contact_created(external_id, fields)[0]


def upsert_contact_created(external_id: str, fields: Mapping[str, Any] | None) -> tuple[Contact, bool]:
    """`upsert_contact`, and whether this call created the contact (a new contact is in no
    journey yet, which spares the event's reactions their participant queries)."""
    fields = fields or {}
    contact = Contact.objects.filter(external_id=external_id).first()
    if contact is None:
        try:
            with transaction.atomic():
                return Contact.objects.create(external_id=external_id, **_changes(Contact(), fields)), True
        except IntegrityError:  # created meanwhile by a concurrent event
            contact = Contact.objects.get(external_id=external_id)
    changes = _changes(contact, fields)
    if changes:
        for name, value in changes.items():
            setattr(contact, name, value)
        contact.save(update_fields=[*changes, "updated_at"])
    return contact, False


def _changes(contact: Contact, fields: Mapping[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in CONTACT_FIELDS:
        value = fields.get(name)
        if isinstance(value, str) and value and value != getattr(contact, name):
            if name == "time_zone" and not _is_time_zone(value):
                continue
            changes[name] = value
    attributes = fields.get("attributes")
    if isinstance(attributes, Mapping) and attributes:
        merged = {**(contact.attributes or {}), **attributes}
        if merged != contact.attributes:
            changes["attributes"] = merged
    return changes


def _is_time_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


# --- What conditions, addresses and templates read ----------------------------------------------


# A device's push token is an address for the push channel, not something to print in a
# message: templates see the contact without it.
NOT_IN_TEMPLATES = ("push_token",)


def contact_fields(contact: Contact, *, for_templates: bool = False) -> dict[str, Any]:
    """A contact as conditions, addresses and (`for_templates`) message templates see it: its
    attributes, then its own fields (which win over a same-named attribute)."""
    names = [n for n in CONTACT_FIELDS if not (for_templates and n in NOT_IN_TEMPLATES)]
    return {
        **(contact.attributes if isinstance(contact.attributes, dict) else {}),
        "id": contact.external_id,
        **{name: getattr(contact, name) for name in names},
    }


def trigger_data(participant: "Participant") -> Mapping[str, Any]:
    """The attributes of the event the participant entered with ({} without one)."""
    event = participant.entry_event
    return event.attributes if event is not None and isinstance(event.attributes, dict) else {}


def resolve_address(participant: "Participant", expression: str) -> str:
    """`contact.email` or `trigger.<path>` to an address ('' when there is none)."""
    from .conditions import get_path

    source, _, path = expression.partition(".")
    data = contact_fields(participant.contact) if source == "contact" else trigger_data(participant)
    value = get_path(data, path)
    return value.strip() if isinstance(value, str) else ""
