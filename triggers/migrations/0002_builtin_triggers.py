"""The interaction triggers the product raises itself (opens, clicks, deliveries, bounces).

They carry which delivery they are about, so a journey can wait for the opening of one
particular email. The list is written out here, not imported: migrations are history.
"""

from django.db import migrations

COMMON = [
    ("delivery_id", "text", True, "The delivery this interaction is about."),
    ("journey", "text", False, "Key of the journey that sent the message."),
    ("step", "text", False, "Key of the step that sent the message."),
    ("content", "text", False, "Key of the message content."),
]

BUILTINS = {
    "email_delivered": ("Email delivered", "The email provider accepted delivery to the inbox.", []),
    "email_opened": ("Email opened", "The contact opened an email (tracking pixel loaded).", []),
    "email_clicked": (
        "Email clicked",
        "The contact followed a tracked link in an email.",
        [("url", "text", False, "The link that was followed.")],
    ),
    "email_bounced": (
        "Email bounced",
        "The email could not be delivered.",
        [("reason", "text", False, "What the provider said.")],
    ),
    "text_delivered": ("Text message delivered", "The SMS provider reported delivery.", []),
    "push_opened": ("Push notification opened", "The contact opened a push notification.", []),
}


def create_builtin_triggers(apps, schema_editor):
    Trigger = apps.get_model("triggers", "Trigger")
    TriggerAttribute = apps.get_model("triggers", "TriggerAttribute")
    for key, (name, description, extra) in BUILTINS.items():
        trigger, _ = Trigger.objects.update_or_create(
            key=key,
            defaults={"name": name, "description": description, "status": "ready", "builtin": True},
        )
        for position, (attr, type_, required, help_text) in enumerate(COMMON + extra):
            TriggerAttribute.objects.update_or_create(
                trigger=trigger,
                name=attr,
                defaults={"type": type_, "required": required, "description": help_text, "position": position},
            )


def remove_builtin_triggers(apps, schema_editor):
    apps.get_model("triggers", "Trigger").objects.filter(key__in=BUILTINS, builtin=True).delete()


class Migration(migrations.Migration):
    dependencies = [("triggers", "0001_initial")]

    operations = [migrations.RunPython(create_builtin_triggers, remove_builtin_triggers)]
