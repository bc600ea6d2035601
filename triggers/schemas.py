"""Loading trigger schemas for validation: the only database read of the ingest path
besides the API key, and with Redis not even that (triggers.caching keeps them per process)."""

from collections.abc import Iterable

from django.db import connection

from .caching import TRIGGER_SCHEMAS
from .models import Trigger, TriggerAttribute, TriggerStatus
from .validation import AttributeSpec, TriggerSchema, find_unstorable


def _schema_sql(keys: int, names: int) -> str:
    """Each trigger with its attributes, in one statement (a LEFT JOIN: a trigger without
    attributes comes back once, with NULLs). Written as SQL because it runs on every request
    of the ingest API, where building it through the ORM cost more than running it."""
    quote = connection.ops.quote_name
    trigger, attribute = quote(Trigger._meta.db_table), quote(TriggerAttribute._meta.db_table)
    placeholders = ", ".join(["%s"] * max(keys, 1))
    condition = f"t.{quote('key')} IN ({placeholders})"
    if names:
        # Segment's `event`: a key or a display name, in any case (LOWER, as Django's Lower).
        condition = f"({condition} OR LOWER(t.{quote('name')}) IN ({', '.join(['%s'] * names)}))"
    return (
        f"SELECT t.id, t.{quote('key')}, t.{quote('name')}, t.status, t.builtin, t.daily_quota, "
        f"a.{quote('name')}, a.{quote('type')}, a.required "
        f"FROM {trigger} t LEFT JOIN {attribute} a ON a.trigger_id = t.id "
        f"WHERE {condition} ORDER BY t.id, a.position, a.{quote('name')}"
    )


def load_schemas(keys: Iterable[str] = (), *, names: Iterable[str] = ()) -> dict[str, TriggerSchema]:
    """Schemas of the triggers with these keys, and of those whose key or display name matches
    one of `names` case-insensitively (Segment's `event`). One query whatever the count.

    The result maps each key, and each lower-cased display name, to its schema.
    """
    # A name no column can hold (NUL, a lone surrogate) names no trigger: validation refuses
    # its event for the character, and the query never sees it.
    lowered = tuple(sorted({name.lower() for name in names if _storable(name)}))
    wanted = tuple(sorted({key for key in keys if _storable(key)} | set(lowered)))
    if not wanted:
        return {}
    # A copy: callers may add to the dict, never to the cached one.
    return dict(TRIGGER_SCHEMAS.get((wanted, lowered), _query_schemas) or {})


def _query_schemas(request: tuple[tuple[str, ...], tuple[str, ...]]) -> dict[str, TriggerSchema]:
    keys, lowered = request
    with connection.cursor() as cursor:
        cursor.execute(_schema_sql(len(keys), len(lowered)), [*keys, *lowered])
        rows = cursor.fetchall()
    triggers: dict[int, tuple] = {}
    specs: dict[int, list[AttributeSpec]] = {}
    for *trigger, attribute_name, type_, required in rows:
        triggers.setdefault(trigger[0], tuple(trigger))
        if attribute_name is not None:
            specs.setdefault(trigger[0], []).append(AttributeSpec(attribute_name, type_, bool(required)))
    by_key = {
        key: TriggerSchema(
            id=trigger_id,
            key=key,
            name=name,
            ready=status == TriggerStatus.READY,
            builtin=bool(builtin),
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


def _storable(text: str) -> bool:
    return find_unstorable(text) is None
