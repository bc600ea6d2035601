"""Deliveries' pages keep a fifth free on PostgreSQL (fillfactor 80), for in-place updates.

Sending marks each message's attempt started (journeys.deliveries.begin_attempt) on its row
just inserted. That update changes no indexed column, so PostgreSQL can write the new version
on the same page without touching the table's eight indexes (a HOT update), but only if the
page has room: a page the INSERT filled to the brim sends it to another page and into every
index. Only pages written from now on keep the room; existing rows stay as they are.
"""

from django.db import migrations


def _set_fillfactor(value: int):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            table = schema_editor.quote_name(apps.get_model("journeys", "Delivery")._meta.db_table)
            schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {value})")

    return apply


class Migration(migrations.Migration):
    dependencies = [
        ("journeys", "0014_drop_fk_indexes_covered_by_composites"),
    ]

    operations = [
        migrations.RunPython(_set_fillfactor(80), _set_fillfactor(100), elidable=False),
    ]
