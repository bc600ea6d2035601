"""Rows inserted unless a unique key says they exist: `INSERT … ON CONFLICT DO NOTHING
RETURNING id` (PostgreSQL, and SQLite since 3.35), one row or many in one statement.

For the event path's hottest inserts (a new contact, a participant's entry): one statement,
with no savepoint around it, since a taken key is an answer rather than an error to roll
back; and SQL written once per model here instead of compiled by the ORM for every row.
PostgreSQL makes a concurrent insert of the same key wait for the other transaction to
commit (then this one inserts nothing) or roll back (then it inserts); SQLite has one writer.
"""

from collections.abc import Sequence
from functools import cache
from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Field, Model

M = TypeVar("M", bound=Model)


# Rows per statement in `insert_many_unless_taken` (SQLite allows 999 parameters in older
# builds; a contact has ten columns).
MANY_ROWS = 90


@cache
def _statement(model: type[Model], conflict: tuple[str, ...], vendor: str, rows: int = 1) -> tuple[str, list[Field]]:
    meta = model._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
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
        cursor.execute(sql, _values(row, fields))
        inserted = cursor.fetchone()
    if inserted is None:
        return False
    _saved(row, inserted[0])
    return True


def insert_many_unless_taken(rows: list[M], conflict: tuple[str, ...]) -> list[M]:
    """`insert_unless_taken` for many rows of one model in one statement (per `MANY_ROWS`),
    in the order given (concurrent writers that insert the same keys in the same order wait
    for each other instead of deadlocking). Returns the rows this call inserted, with their
    ids set; the `conflict` fields must tell the rows apart (a unique key)."""
    inserted: list[M] = []
    for start in range(0, len(rows), MANY_ROWS):
        chunk = rows[start : start + MANY_ROWS]
        sql, fields = _statement(type(chunk[0]), conflict, connection.vendor, len(chunk))
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
    for start in range(0, len(rows), MANY_ROWS):
        chunk = rows[start : start + MANY_ROWS]
        for row in chunk:  # a related row saved after this one was built: take its id
            row._prepare_related_fields_for_save(operation_name="insert_many")  # type: ignore[attr-defined]
        sql, fields = _statement(type(chunk[0]), None, connection.vendor, len(chunk))
        with connection.cursor() as cursor:
            cursor.execute(sql, _parameters(chunk, fields))
            returned = cursor.fetchall()
        for row, (pk,) in zip(chunk, returned, strict=True):
            _saved(row, pk)


def _parameters(rows: Sequence[Model], fields: list[Field]) -> list:
    """The statement's parameters: each row's values in turn, or on PostgreSQL (several rows)
    one list per column, for UNNEST."""
    values = [_values(row, fields) for row in rows]
    if _by_column(connection.vendor, len(rows)):
        return [list(column) for column in zip(*values, strict=True)]
    return [value for row_values in values for value in row_values]


def _values(row: Model, fields: list[Field]) -> list:
    # The connection itself, not django.db.connection: every field's preparation reads
    # connection.ops or .features, and through the proxy each read is a thread-local lookup
    # (a third of preparing a group's rows).
    # NULL needs no preparation (a new delivery's ten empty timestamps).
    own = connections[DEFAULT_DB_ALIAS]
    values = [field.pre_save(row, True) for field in fields]
    return [
        None if value is None else field.get_db_prep_save(value, own)
        for field, value in zip(fields, values, strict=True)
    ]


def _saved(row: Model, pk: int) -> None:
    row.pk = pk
    row._state.adding, row._state.db = False, connection.alias
