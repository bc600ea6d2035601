"""Loading trigger schemas for validation: the only database reads of the ingest path."""

from collections.abc import Iterable

from django.db.models import Q
from django.db.models.functions import Lower

from .models import Trigger, TriggerAttribute, TriggerStatus
from .validation import AttributeSpec, TriggerSchema


def load_schemas(keys: Iterable[str] = (), *, names: Iterable[str] = ()) -> dict[str, TriggerSchema]:
    """Schemas of the triggers with these keys, and of those whose key or display name matches
    one of `names` case-insensitively (Segment's `event`). Two queries whatever the count.

    The result maps each key, and each lower-cased display name, to its schema.
    """
    keys = set(keys)
    lowered = {name.lower() for name in names}
    if not keys and not lowered:
        return {}
    condition = Q(key__in=keys)
    if lowered:
        condition |= Q(key__in=lowered) | Q(lower_name__in=lowered)
    triggers = list(
        Trigger.objects.annotate(lower_name=Lower("name"))
        .filter(condition)
        .values_list("id", "key", "name", "status", "builtin", "daily_quota")
    )
    specs: dict[int, list[AttributeSpec]] = {}
    for trigger_id, name, type_, required in TriggerAttribute.objects.filter(
        trigger_id__in=[row[0] for row in triggers]
    ).values_list("trigger_id", "name", "type", "required"):
        specs.setdefault(trigger_id, []).append(AttributeSpec(name, type_, required))
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
        for trigger_id, key, name, status, builtin, daily_quota in triggers
    }
    schemas: dict[str, TriggerSchema] = {}
    if lowered:
        for schema in by_key.values():
            schemas.setdefault(schema.name.lower(), schema)
    schemas.update(by_key)  # A key wins over another trigger's display name.
    return schemas
