"""The demo catalogue for designer tests, and the rows migrations add (put back after a
transactional test emptied the tables)."""

import copy
import json
from importlib import import_module

from django.apps import apps as django_apps

from journeys.bundles import import_bundle
from journeys.demo import SEED_BUNDLE


class _Registry:
    """The app registry as a data migration sees it, minus the app configs: permissions
    exist again after a flush, so the roles migration only has to make the groups."""

    get_model = staticmethod(django_apps.get_model)

    def get_app_configs(self) -> list:
        return []


def restore_migration_rows() -> None:
    """Transactional tests start from emptied tables: put back the rows migrations add,
    the interaction triggers (Email opened) and the Marketer and Analyst roles."""
    import_module("triggers.migrations.0002_builtin_triggers").create_builtin_triggers(django_apps, None)
    import_module("journeys.migrations.0002_marketer_and_analyst_roles").create_roles(_Registry(), None)


def seed_catalogue() -> None:
    """Import the seed bundle's triggers and content only; the text message is a draft."""
    restore_migration_rows()
    data = json.loads(SEED_BUNDLE.read_text())
    content = copy.deepcopy(data["content"])
    for item in content:
        if item["channel"] == "text":
            item["status"] = "draft"
    import_bundle({"triggers": data["triggers"], "content": content, "journeys": []})


def seed_journey(*, publish: bool = False) -> None:
    """The whole seed bundle (journey included), as a draft or published."""
    import_bundle(json.loads(SEED_BUNDLE.read_text()), publish_journeys=publish)
