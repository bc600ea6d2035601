"""What the designer's personalisation picker offers: contact fields, and the attributes of
the triggers that start the journeys sending this email (the journeys app registers that
source, so content never imports journeys)."""

from collections.abc import Callable
from typing import TypedDict

from .models import Content

CONTACT_FIELDS = (
    ("contact.first_name", "First name"),
    ("contact.last_name", "Last name"),
    ("contact.email", "Email address"),
    ("contact.phone", "Phone"),
    ("contact.id", "Contact id"),
)


class Field(TypedDict):
    group: str  # "Contact" or "Trigger: Abandoned cart"
    variable: str  # "contact.first_name", "trigger.cart_total"
    label: str


AttributeSource = Callable[[Content], list[Field]]
_sources: list[AttributeSource] = []


def register_attribute_source(source: AttributeSource) -> AttributeSource:
    if source not in _sources:
        _sources.append(source)
    return source


def personalisation_fields(content: Content | None) -> list[Field]:
    fields: list[Field] = [Field(group="Contact", variable=v, label=label) for v, label in CONTACT_FIELDS]
    if content is not None and content.pk:
        seen = {f["variable"] for f in fields}
        for source in _sources:
            for item in source(content):
                if item["variable"] not in seen:
                    seen.add(item["variable"])
                    fields.append(item)
    return fields
