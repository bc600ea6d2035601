"""An index on Contact.phone: a STOP or START text reply names only the phone number, and
apply_text_reply looks the contacts up by it.

On PostgreSQL the index is built CONCURRENTLY: the contacts table holds every customer and
the events API writes to it all the time, which a plain CREATE INDEX would block while it
builds. Elsewhere (SQLite in tests and development) it is a plain index.
"""

from django.db import migrations, models


class AddIndexConcurrentlyOnPostgres(migrations.AddIndex):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if schema_editor.connection.vendor == "postgresql" and self.allow_migrate_model(
            schema_editor.connection.alias, model
        ):
            schema_editor.add_index(model, self.index, concurrently=True)
        else:
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if schema_editor.connection.vendor == "postgresql" and self.allow_migrate_model(
            schema_editor.connection.alias, model
        ):
            schema_editor.remove_index(model, self.index, concurrently=True)
        else:
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("journeys", "0003_advance_participants_schedule"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="contact",
            index=models.Index(fields=["phone"], name="contact_phone"),
        ),
    ]
