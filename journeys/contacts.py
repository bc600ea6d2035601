"""Contacts as the website describes them in events and through the contacts API: created on
first sight, updated with whatever fields later events or calls carry.

Every change of a contact ends with `refresh_memberships` in the same transaction, so the
segments it is in always follow its fields (journeys.segments).
"""

import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction

from .inserts import insert_many_unless_taken, insert_unless_taken
from .models import Contact
from .segments import refresh_memberships

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
        # No savepoint: a taken id is an answer, not an error (journeys.inserts). A known
        # contact is read above without a lock; `ON CONFLICT DO UPDATE` would lock (and
        # rewrite) its row for every one of its events, making them wait for each other.
        new = Contact(external_id=external_id, **_changes(Contact(), fields))
        if insert_unless_taken(new, conflict=("external_id",)):
            refresh_memberships(new, new=True)
            return new, True
        contact = Contact.objects.get(external_id=external_id)  # created meanwhile by a concurrent event
    update_contact(contact, fields)
    return contact, False


def contacts_of_group(first_fields: Mapping[str, Mapping[str, Any] | None]) -> tuple[dict[str, Contact], set[str]]:
    """The contacts of a group of events, by id: one SELECT for those stored, one INSERT for
    the others (in id order, with the fields of each one's first event; journeys.inserts).
    Returns them with the ids created now. The caller merges every other event's fields
    (`update_contact`), including a first event's whose contact a concurrent event created."""
    contacts = {c.external_id: c for c in Contact.objects.filter(external_id__in=list(first_fields))}
    new = [
        Contact(external_id=key, **_changes(Contact(), first_fields[key] or {}))
        for key in sorted(first_fields)
        if key not in contacts
    ]
    created = insert_many_unless_taken(new, conflict=("external_id",)) if new else []
    taken = [c.external_id for c in new if c.pk is None]
    if taken:  # created meanwhile by a concurrent event
        contacts.update({c.external_id: c for c in Contact.objects.filter(external_id__in=taken)})
    for contact in created:
        refresh_memberships(contact, new=True)
        contacts[contact.external_id] = contact
    return contacts, {c.external_id for c in created}


def update_contact(contact: Contact, fields: Mapping[str, Any] | None) -> None:
    """Merge an event's contact fields into a stored contact (blank or missing fields leave
    what is stored; `attributes` are merged), and its segments follow."""
    changes = _changes(contact, fields or {})
    if changes:
        for name, value in changes.items():
            setattr(contact, name, value)
        with transaction.atomic():
            contact.save(update_fields=[*changes, "updated_at"])
            refresh_memberships(contact)


@dataclass(frozen=True)
class PutResult:
    contact: Contact
    created: bool
    changed: bool


def put_contact(external_id: str, fields: Mapping[str, Any]) -> PutResult:
    """Create or update a contact from the contacts API (fields already validated like an
    event's contact). Given fields replace what is stored; `attributes` are merged, a key
    set to null is removed. Idempotent: the same call twice changes nothing the second time.

    The row is locked while it changes, so two calls merging attributes never lose a key."""
    with transaction.atomic():
        contact = Contact.objects.select_for_update().filter(external_id=external_id).first()
        created = contact is None
        if contact is None:
            # No savepoint: a taken id is an answer (journeys.inserts); the row inserted is
            # this transaction's until it commits.
            contact = Contact(external_id=external_id)
            if not insert_unless_taken(contact, conflict=("external_id",)):  # created meanwhile
                contact = Contact.objects.select_for_update().get(external_id=external_id)
                created = False
        changes = _put_changes(contact, fields)
        if changes:
            for name, value in changes.items():
                setattr(contact, name, value)
            contact.save(update_fields=[*changes, "updated_at"])
        if changes or created:
            refresh_memberships(contact)
    return PutResult(contact, created, bool(changes) or created)


def _put_changes(contact: Contact, fields: Mapping[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in CONTACT_FIELDS:
        value = fields.get(name)
        if isinstance(value, str) and value != getattr(contact, name):
            changes[name] = value
    attributes = fields.get("attributes")
    if isinstance(attributes, Mapping):
        merged = dict(contact.attributes or {})
        for key, value in attributes.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        if merged != (contact.attributes or {}):
            changes["attributes"] = merged
    return changes


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


def template_context(participant: "Participant", contact: Contact) -> dict[str, Any]:
    """What templates see of a participant (a message, a webhook body, a raised trigger's
    attributes), as plain data: its contact (passed in, as the caller has it loaded), the
    attributes of the event it entered with, its journey. Messages add their unsubscribe link."""
    return {
        "contact": contact_fields(contact, for_templates=True),
        "trigger": dict(trigger_data(participant)),
        "journey": {"key": participant.journey.key, "name": participant.journey.name},
    }


def resolve_address(participant: "Participant", expression: str) -> str:
    """`contact.email` or `trigger.<path>` to an address ('' when there is none)."""
    from .conditions import get_path

    source, _, path = expression.partition(".")
    data = contact_fields(participant.contact) if source == "contact" else trigger_data(participant)
    value = get_path(data, path)
    return value.strip() if isinstance(value, str) else ""
