"""Rows inserted unless a unique key says they exist: `INSERT … ON CONFLICT DO NOTHING
RETURNING id` (PostgreSQL, and SQLite since 3.35), one row or many in one statement.

For the event path's hottest inserts (a new contact, a participant's entry): one statement,
with no savepoint around it, since a taken key is an answer rather than an error to roll
back; and SQL written once per model here instead of compiled by the ORM for every row.
PostgreSQL makes a concurrent insert of the same key wait for the other transaction to
commit (then this one inserts nothing) or roll back (then it inserts); SQLite has one writer.
"""

import json
from collections.abc import Sequence
from datetime import date, datetime
from functools import cache
from typing import Any, TypeVar
from uuid import UUID

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model
from psycopg.types.json import Jsonb

M = TypeVar("M", bound=Model)


# Rows per statement (SQLite allows 999 parameters in older builds; a contact has ten
# columns). On PostgreSQL a statement takes an array per column, whatever the number of rows.
MANY_ROWS = 90
MANY_ROWS_BY_COLUMN = 1000


def _per_statement() -> int:
    return MANY_ROWS_BY_COLUMN if connection.vendor == "postgresql" else MANY_ROWS


@cache
def _statement(model: type[Model], conflict: tuple[str, ...], vendor: str, rows: int = 1) -> tuple[str, list[Field]]:
    meta = model._meta
    fields = _columns(model)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    if _by_column(vendor, rows):
        # One array per column, as Django's bulk_create does on PostgreSQL: the statement is
        # the same for any number of rows, so PostgreSQL parses a dozen parameters instead
        # of hundreds, and psycopg converts it from its cache instead of splitting it anew.
        arrays = ", ".join(f"%s::{_array_type(field)}[]" for field in fields)
        placeholders = f"SELECT * FROM UNNEST({arrays})"
    else:
        placeholders = "VALUES " + ", ".join([f"({', '.join(['%s'] * len(fields))})"] * rows)
    by_name = {field.name: field for field in meta.concrete_fields}
    assert meta.pk is not None
    if conflict is None:
        return (
            f"INSERT INTO {quote(meta.db_table)} ({columns}) {placeholders} RETURNING {quote(meta.pk.column)}",
            fields,
        )
    target = f"({', '.join(quote(by_name[name].column) for name in conflict)}) " if conflict else ""
    # Many rows: the conflict columns come back with each id, to tell which rows went in.
    returning = ", ".join([quote(meta.pk.column), *(quote(by_name[name].column) for name in conflict)])
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) {placeholders} "
        f"ON CONFLICT {target}DO NOTHING RETURNING {returning}"
    )
    return sql, fields


def _shape(vendor: str, rows: int) -> int:
    """The row count `_statement` is cached by: by column, any count above one is one statement."""
    return 2 if _by_column(vendor, rows) else rows


def _columns(model: type[Model]) -> list[Field]:
    return [field for field in model._meta.concrete_fields if not field.primary_key]


def _by_column(vendor: str, rows: int) -> bool:
    """Whether the statement takes one array per column (UNNEST) rather than rows of values:
    the statement's text and its parameters must agree."""
    return vendor == "postgresql" and rows > 1


def _array_type(field: Field) -> str:
    """The column's type without its length (varchar, not varchar(200)), as Django's own
    UNNEST inserts write it: nothing is cut."""
    db_type = field.db_type(connection)
    assert db_type is not None, f"{field} has a column"
    return db_type.split("(")[0]


def insert_unless_taken(row: Model, conflict: tuple[str, ...] = ()) -> bool:
    """Insert `row` unless a unique key (the one on the `conflict` fields; without them, any
    of the table's) already holds its values: True when this call inserted it, and then its
    id, its auto_now timestamps and its saved state are set as `save` would set them. Other
    errors (a foreign key, a check) raise as they would from `save`."""
    sql, fields = _statement(type(row), conflict, connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, _values(row, fields, connections[DEFAULT_DB_ALIAS]))
        inserted = cursor.fetchone()
    if inserted is None:
        return False
    _saved(row, inserted[0])
    return True


def insert_many_unless_taken(rows: list[M], conflict: tuple[str, ...]) -> list[M]:
    """`insert_unless_taken` for many rows of one model in one statement (per `_per_statement()` rows),
    in the order given (concurrent writers that insert the same keys in the same order wait
    for each other instead of deadlocking). Returns the rows this call inserted, with their
    ids set; the `conflict` fields must tell the rows apart (a unique key)."""
    inserted: list[M] = []
    per_statement = _per_statement()
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        sql, fields = _statement(type(chunk[0]), conflict, connection.vendor, _shape(connection.vendor, len(chunk)))
        by_key = {tuple(getattr(row, name) for name in conflict): row for row in chunk}
        with connection.cursor() as cursor:
            cursor.execute(sql, _parameters(chunk, fields))
            returned = cursor.fetchall()
        for pk, *key in returned:
            row = by_key[tuple(key)]
            _saved(row, pk)
            inserted.append(row)
    return inserted


def insert_many(rows: Sequence[Model]) -> None:
    """`bulk_create` for the engine's hottest multi-row writes (a group's deliveries and
    history rows): the statement is written once per model and row count, not compiled by
    the ORM field by field for every row. Sets each row's id (in the order of `rows`, as
    `bulk_create` relies on too), auto_now timestamps and saved state."""
    per_statement = _per_statement()
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        for row in chunk:  # a related row saved after this one was built: take its id
            row._prepare_related_fields_for_save(operation_name="insert_many")  # type: ignore[attr-defined]
        sql, fields = _statement(type(chunk[0]), None, connection.vendor, _shape(connection.vendor, len(chunk)))
        with connection.cursor() as cursor:
            cursor.execute(sql, _parameters(chunk, fields))
            returned = cursor.fetchall()
        for row, (pk,) in zip(chunk, returned, strict=True):
            _saved(row, pk)


def _parameters(rows: Sequence[Model], fields: list[Field]) -> list:
    """The statement's parameters: each row's values in turn, or on PostgreSQL (several rows)
    one array per column, for UNNEST."""
    # The connection itself, not django.db.connection: every field's preparation reads
    # connection.ops or .features, and through the proxy each read is a thread-local lookup
    # (a third of preparing a group's rows); and looked up once, not per row.
    own = connections[DEFAULT_DB_ALIAS]
    values = [_values(row, fields, own) for row in rows]
    if _by_column(own.vendor, len(rows)):
        return [_array_literal(column) for column in zip(*values, strict=True)]
    return [value for row_values in values for value in row_values]


def _array_literal(values: Sequence[Any]) -> str | list:
    """A column's values as PostgreSQL's array literal (`{1,NULL,"text"}`), for the statement's
    `%s::type[]`, when they are all of the kinds written here; else the list, for psycopg.

    psycopg dumps a list element by element in Python (about 2.5 µs each: a group of 50
    events has some 3,000 values to insert, a twentieth of a worker's CPU); this writes the
    literal with a few string operations per value. Every element but a number or NULL is
    double-quoted, with backslash and double quote escaped (PostgreSQL's array input rules),
    so no text is ever read as NULL or split at a comma or brace. Dates and times are ISO 8601
    with their offset. tests/engine/test_inserts.py inserts awkward values both ways."""
    elements: list[str] = []
    append = elements.append
    for value in values:
        if value is None:
            append("NULL")
        elif isinstance(value, bool):
            append("t" if value else "f")
        elif isinstance(value, int):  # IntegerChoices too: its number
            append(int.__repr__(value))
        elif isinstance(value, str):  # TextChoices too: its text
            append(_quoted(str.__str__(value)))
        elif isinstance(value, date):  # datetimes too
            append(_quoted(value.isoformat()))
        elif isinstance(value, UUID):
            append(_quoted(str(value)))
        elif isinstance(value, Jsonb):
            text = (value.dumps or json.dumps)(value.obj)  # psycopg's dumps may give bytes
            append(_quoted(text.decode() if isinstance(text, bytes) else text))
        else:  # a float's infinities, a Decimal, bytes: psycopg knows best
            return list(values)
    return "{" + ",".join(elements) + "}"


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _values(row: Model, fields: list[Field], own: BaseDatabaseWrapper) -> list:
    values = []
    for field, plain in zip(fields, _plain_kinds(type(row), own.vendor), strict=True):
        value = field.pre_save(row, True)
        values.append(value if _as_is(value, plain) else field.get_db_prep_save(value, own))
    return values


def prepared(field: Field, value: Any, own: BaseDatabaseWrapper) -> Any:
    """field.get_db_prep_save(value, own), skipped where it would return the value as it is."""
    return value if _as_is(value, _plain_kind(field, own.vendor)) else field.get_db_prep_save(value, own)


def _as_is(value: Any, plain: type | None) -> bool:
    # NULL needs no preparation (a new delivery's ten empty timestamps), nor a value that its
    # field's preparation returns as it is (an aware datetime, as timezone.is_aware tells: a
    # naive one gets Django's warning and TIME_ZONE).
    return value is None or (type(value) is plain and (plain is not datetime or value.utcoffset() is not None))


# Fields whose preparation for the database returns a value of this exact type as it is (for
# Django's own classes, not subclasses, which may prepare differently): an int for the integer
# fields, a str for the text fields, a bool. get_db_prep_save costs a few calls a value; a
# group's inserts have thousands.
_PLAIN_KINDS: dict[type[Field], type] = {
    **dict.fromkeys(
        [
            models.AutoField,
            models.BigAutoField,
            models.SmallAutoField,
            models.IntegerField,
            models.BigIntegerField,
            models.SmallIntegerField,
            models.PositiveIntegerField,
            models.PositiveBigIntegerField,
            models.PositiveSmallIntegerField,
        ],
        int,
    ),
    **dict.fromkeys([models.CharField, models.TextField, models.EmailField, models.SlugField, models.URLField], str),
    models.BooleanField: bool,
}


@cache
def _plain_kinds(model: type[Model], vendor: str) -> list[type | None]:
    """For each field of the statement (`_statement`'s), the type of value it writes as it is
    (None: always prepare)."""
    return [_plain_kind(field, vendor) for field in _columns(model)]


@cache
def _plain_kind(field: Field, vendor: str) -> type | None:
    if type(field) in (models.ForeignKey, models.OneToOneField):
        return _plain_kind(field.target_field, vendor)  # type: ignore[attr-defined]  # a relation's
    if type(field) is models.DateTimeField and vendor == "postgresql":
        # PostgreSQL's adapt_datetimefield_value returns the value; an aware one is not
        # changed by the field either (a naive one gets Django's warning: prepared).
        return datetime
    return _PLAIN_KINDS.get(type(field))


def _saved(row: Model, pk: int) -> None:
    row.pk = pk
    row._state.adding, row._state.db = False, connection.alias
