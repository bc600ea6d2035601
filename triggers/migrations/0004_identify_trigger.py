"""The built-in `identify` trigger: Segment `identify` calls are stored as its events.

It has no attributes (the traits go to the event's contact fields) and cannot be raised
through POST /api/v1/events. Written out here, not imported: migrations are history.
"""

from django.db import migrations


def create_identify_trigger(apps, schema_editor):
    Trigger = apps.get_model("triggers", "Trigger")
    Trigger.objects.update_or_create(
        key="identify",
        defaults={
            "name": "Contact identified",
            "description": "A website identified a contact and sent its traits (Segment identify).",
            "status": "ready",
            "builtin": True,
        },
    )


def remove_identify_trigger(apps, schema_editor):
    apps.get_model("triggers", "Trigger").objects.filter(key="identify", builtin=True).delete()


class Migration(migrations.Migration):
    dependencies = [("triggers", "0003_rate_limit_counters")]

    operations = [migrations.RunPython(create_identify_trigger, remove_identify_trigger)]
