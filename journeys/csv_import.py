"""CSV import of contacts and of a static segment's members (the admin's Import pages).

Pure reading first (`read_contacts_csv`, `read_member_ids_csv`): every row validated like
the contacts API, with its line number and errors, so the admin can preview before anything
is written. Then `import_contacts` / `import_members` write the valid rows only.

Contact CSV: a header row; `id` is required; `email`, `phone`, `push_token`, `first_name`,
`last_name`, `time_zone` are contact fields; any other column is an attribute (an empty cell
leaves it untouched).
"""

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from triggers.validation import FieldError, _Errors, validate_contact

from .contacts import CONTACT_FIELDS, put_contact
from .models import Contact, Segment
from .segments import set_static_members

MAX_ROWS = 50_000
MAX_BYTES = 10 * 1024 * 1024


@dataclass
class Row:
    line: int
    contact_id: str
    fields: dict[str, Any] = field(default_factory=dict)
    errors: list[FieldError] = field(default_factory=list)


@dataclass
class CsvReading:
    rows: list[Row] = field(default_factory=list)
    problem: str = ""  # a problem with the whole file

    @property
    def valid(self) -> list[Row]:
        return [r for r in self.rows if not r.errors]

    @property
    def rejected(self) -> list[Row]:
        return [r for r in self.rows if r.errors]


def _reader(text: str) -> tuple[csv.DictReader | None, str]:
    if len(text.encode()) > MAX_BYTES:
        return None, f"The file is over {MAX_BYTES // (1024 * 1024)} MB; split it."
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames or "id" not in [name.strip() for name in reader.fieldnames]:
        return None, "The first row must name the columns, with an id column."
    return reader, ""


def read_contacts_csv(text: str) -> CsvReading:
    reader, problem = _reader(text)
    if reader is None:
        return CsvReading(problem=problem)
    reading = CsvReading()
    for index, raw in enumerate(reader):
        if index >= MAX_ROWS:
            return CsvReading(problem=f"At most {MAX_ROWS} rows per file; split it.")
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        contact: dict[str, Any] = {"id": row.get("id", "")}
        attributes = {}
        for name, value in row.items():
            if name == "id" or value == "":
                continue
            if name in CONTACT_FIELDS:
                contact[name] = value
            else:
                attributes[name] = value
        if attributes:
            contact["attributes"] = attributes
        errors = _Errors()
        cleaned = validate_contact(contact, errors)
        fields = {k: v for k, v in (cleaned or {}).items() if k != "id"}
        reading.rows.append(
            Row(
                line=index + 2,
                contact_id=str(contact["id"]),
                fields=fields,
                errors=[FieldError(e.field.removeprefix("contact."), e.code, e.message) for e in errors.items],
            )
        )
    return reading


def import_contacts(reading: CsvReading) -> int:
    """Create or update the valid rows' contacts (each in its own transaction, which keeps
    its segments in step); returns how many were saved."""
    for row in reading.valid:
        put_contact(row.contact_id, row.fields)
    return len(reading.valid)


def read_member_ids_csv(text: str) -> CsvReading:
    """A static segment's members by contact id; unknown ids are errors of their row."""
    reader, problem = _reader(text)
    if reader is None:
        return CsvReading(problem=problem)
    raw_rows = []
    for index, raw in enumerate(reader):
        if index >= MAX_ROWS:
            return CsvReading(problem=f"At most {MAX_ROWS} rows per file; split it.")
        raw_rows.append((index + 2, (raw.get("id") or "").strip()))
    known = dict(Contact.objects.filter(external_id__in=[i for _, i in raw_rows if i]).values_list("external_id", "pk"))
    reading = CsvReading()
    for line, contact_id in raw_rows:
        row = Row(line=line, contact_id=contact_id, fields={"pk": known.get(contact_id)})
        if not contact_id:
            row.errors.append(FieldError("id", "required", "The contact id is empty."))
        elif contact_id not in known:
            row.errors.append(FieldError("id", "unknown_contact", f"No contact with id {contact_id!r}."))
        reading.rows.append(row)
    return reading


def import_members(segment: Segment, reading: CsvReading, *, replace: bool = False) -> int:
    return set_static_members(segment, [r.fields["pk"] for r in reading.valid], replace=replace)
