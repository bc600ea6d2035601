"""Delivery.updated_at: when the row was last written (analytics' rollup refresh finds the
deliveries that changed since its last run by it).

Existing rows get the time of the migration: a rollup built after it (refresh_analytics
--rebuild, or the first scheduled refresh) counts them from scratch anyway. On PostgreSQL
11+ adding a column with a constant default does not rewrite the table.
"""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("journeys", "0004_contact_phone_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="delivery",
            name="updated_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
    ]
