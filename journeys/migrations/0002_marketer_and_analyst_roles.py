"""The two roles of the product, as groups with model permissions.

Marketer: builds content, triggers, journeys and audiences; reads what ran.
Analyst: reads everything, changes nothing.
Permissions are created here (they normally appear after migrate) so the groups are
complete on a fresh database.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

EDITABLE = {
    "content": ["content", "email", "textmessage", "pushnotification"],
    "triggers": ["trigger", "triggerattribute", "apikey"],
    "journeys": ["journey", "journeyversion", "step", "contact", "consent", "segment", "sendingpolicy"],
}
READ_ONLY = {
    "triggers": ["event"],
    "journeys": ["participant", "participanthistory", "delivery", "interaction"],
}
# API keys are secrets of the integration: analysts do not see them.
HIDDEN_FROM_ANALYSTS = {("triggers", "apikey")}


def create_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    def perms(app_label, model, actions):
        codenames = [f"{action}_{model}" for action in actions]
        return list(
            Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
        )

    marketer, _ = Group.objects.get_or_create(name="Marketer")
    analyst, _ = Group.objects.get_or_create(name="Analyst")
    marketer_perms, analyst_perms = [], []
    for app_label, models in EDITABLE.items():
        for model in models:
            marketer_perms += perms(app_label, model, ["add", "change", "delete", "view"])
            if (app_label, model) not in HIDDEN_FROM_ANALYSTS:
                analyst_perms += perms(app_label, model, ["view"])
    for app_label, models in READ_ONLY.items():
        for model in models:
            marketer_perms += perms(app_label, model, ["view"])
            analyst_perms += perms(app_label, model, ["view"])
    marketer.permissions.set(marketer_perms)
    analyst.permissions.set(analyst_perms)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["Marketer", "Analyst"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("journeys", "0001_initial"),
        ("content", "0001_initial"),
        ("triggers", "0002_builtin_triggers"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
