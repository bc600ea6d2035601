"""One row inserted unless a unique key says it exists: `INSERT … ON CONFLICT DO NOTHING
RETURNING id` (PostgreSQL, and SQLite since 3.24).

For the event path's hottest inserts (a new contact, a participant's entry): one statement,
with no savepoint around it, since a taken key is an answer rather than an error to roll
back; and SQL written once per model here instead of compiled by the ORM for every row.
PostgreSQL makes a concurrent insert of the same key wait for the other transaction to
commit (then this one inserts nothing) or roll back (then it inserts); SQLite has one writer.
"""

from functools import cache

from django.db import connection
from django.db.models import Field, Model


@cache
def _statement(model: type[Model], conflict: tuple[str, ...], vendor: str) -> tuple[str, list[Field]]:
    meta = model._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    by_name = {field.name: field for field in meta.concrete_fields}
    target = f"({', '.join(quote(by_name[name].column) for name in conflict)}) " if conflict else ""
    assert meta.pk is not None
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders}) "
        f"ON CONFLICT {target}DO NOTHING RETURNING {quote(meta.pk.column)}"
    )
    return sql, fields


def insert_unless_taken(row: Model, conflict: tuple[str, ...] = ()) -> bool:
    """Insert `row` unless a unique key (the one on the `conflict` fields; without them, any
    of the table's) already holds its values: True when this call inserted it, and then its
    id, its auto_now timestamps and its saved state are set as `save` would set them. Other
    errors (a foreign key, a check) raise as they would from `save`."""
    sql, fields = _statement(type(row), conflict, connection.vendor)
    values = [field.get_db_prep_save(field.pre_save(row, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        inserted = cursor.fetchone()
    if inserted is None:
        return False
    row.pk = inserted[0]
    row._state.adding, row._state.db = False, connection.alias
    return True
