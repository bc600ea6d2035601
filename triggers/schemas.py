"""Loading trigger schemas for validation: the only database reads of the ingest path."""

from collections.abc import Iterable

from django.db.models import Q
from django.db.models.functions import Lower

from .models import Trigger, TriggerStatus
from .validation import AttributeSpec, TriggerSchema


def load_schemas(keys: Iterable[str] = (), *, names: Iterable[str] = ()) -> dict[str, TriggerSchema]:
    """Schemas of the triggers with these keys, and of those whose key or display name matches
    one of `names` case-insensitively (Segment's `event`). One query whatever the count.

    The result maps each key, and each lower-cased display name, to its schema.
    """
    keys = set(keys)
    lowered = {name.lower() for name in names}
    if not keys and not lowered:
        return {}
    condition = Q(key__in=keys)
    if lowered:
        condition |= Q(key__in=lowered) | Q(lower_name__in=lowered)
    # One query: each trigger with its attributes (a LEFT JOIN, so a trigger without any
    # comes back once with NULLs). It runs on every request of the ingest API.
    rows = (
        Trigger.objects.annotate(lower_name=Lower("name"))
        .filter(condition)
        .values_list(
            "id",
            "key",
            "name",
            "status",
            "builtin",
            "daily_quota",
            "attributes__name",
            "attributes__type",
            "attributes__required",
        )
        .order_by("id", "attributes__position", "attributes__name")
    )
    triggers: dict[int, tuple] = {}
    specs: dict[int, list[AttributeSpec]] = {}
    for *trigger, attribute_name, type_, required in rows:
        triggers.setdefault(trigger[0], tuple(trigger))
        if attribute_name is not None:
            specs.setdefault(trigger[0], []).append(AttributeSpec(attribute_name, type_, required))
    by_key = {
        key: TriggerSchema(
            id=trigger_id,
            key=key,
            name=name,
            ready=status == TriggerStatus.READY,
            builtin=builtin,
            attributes=tuple(specs.get(trigger_id, ())),
            daily_quota=daily_quota,
        )
        for trigger_id, key, name, status, builtin, daily_quota in triggers.values()
    }
    schemas: dict[str, TriggerSchema] = {}
    if lowered:
        for schema in by_key.values():
            schemas.setdefault(schema.name.lower(), schema)
    schemas.update(by_key)  # A key wins over another trigger's display name.
    return schemas
