"""Import and export journey bundles (the JSON format of journeys.definition) to and from
the database. An import writes everything or, when anything is wrong, nothing."""

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import time
from typing import Any

from django.db import transaction

from content.models import Content, Email, PushNotification, TextMessage
from triggers.models import Trigger, TriggerAttribute

from .definition import (
    Bundle,
    BundleError,
    Catalogue,
    ContentSpec,
    JourneySpec,
    SegmentSpec,
    StepSpec,
    TriggerSpec,
    bundle_to_dict,
    journey_to_dict,
    parse_bundle,
)
from .models import Journey, JourneyVersion, Segment, SegmentKind, Step, VersionState
from .publishing import PublishError, new_version_number, publish
from .spec import CONFLICT, INVALID, NOT_JSON, NOT_PUBLISHABLE, TOO_DEEP, UNKNOWN, SpecError, SpecPath
from .steps import References, kind_of

CONTENT_MODELS = {"email": Email, "text": TextMessage, "push": PushNotification}
# Bundle field name -> model field name, where they differ.
CONTENT_FIELD_NAMES = {"html": "html_body", "text": "text_body", "link": "link_url"}


@dataclass
class ImportReport:
    lines: list[str] = field(default_factory=list)


def catalogue_from_database() -> Catalogue:
    schemas: dict[str, dict[str, str]] = {key: {} for key in Trigger.objects.values_list("key", flat=True)}
    for key, name, type_ in TriggerAttribute.objects.values_list("trigger__key", "name", "type"):
        schemas[key][name] = type_
    return Catalogue(
        trigger_schemas=schemas,
        content_channels=dict(Content.objects.values_list("key", "channel")),
        segments=set(Segment.objects.values_list("key", flat=True)),
    )


# A bundle nests a level of JSON per object and list: a branch inside a branch adds four.
# Deeper than this is refused before anything walks it recursively (the format's parser,
# the designer), so a hostile file is an error message, not a RecursionError.
MAX_BUNDLE_DEPTH = 200


class NotJson(BundleError):
    """The bundle's text is not JSON at all."""


def load_bundle_text(text: str) -> object:
    """The bundle in `text` as JSON data; NotJson if it is not JSON, BundleError if it
    nests deeper than MAX_BUNDLE_DEPTH."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise NotJson(
            [SpecError(SpecPath(), NOT_JSON, f"The bundle is not JSON: {error.msg} (line {error.lineno}).")]
        ) from error
    except ValueError as error:  # an integer of over 4,300 digits
        raise NotJson([SpecError(SpecPath(), NOT_JSON, f"The bundle is not JSON: {error}.")]) from error
    except RecursionError as error:
        raise BundleError(
            [SpecError(SpecPath(), TOO_DEEP, f"The bundle nests deeper than {MAX_BUNDLE_DEPTH} levels.")]
        ) from error
    _check_depth(data)
    return data


def _check_depth(data: object) -> None:
    stack = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_BUNDLE_DEPTH:
            raise BundleError(
                [SpecError(SpecPath(), TOO_DEEP, f"The bundle nests deeper than {MAX_BUNDLE_DEPTH} levels.")]
            )
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)


def import_bundle(data: object, *, publish_journeys: bool = False) -> ImportReport:
    """Create or update, by key, the bundle's triggers, content and journeys.

    A journey's settings and steps go to its draft version (created when it has none); an
    import identical to the current version changes nothing. With `publish_journeys`, each
    journey's draft is published. Raises BundleError, having written nothing, on any problem.
    """
    _check_depth(data)
    bundle = parse_bundle(data, catalogue_from_database())
    _check_against_database(bundle)
    report = ImportReport()
    with transaction.atomic():
        for trigger in bundle.triggers:
            report.lines.append(_save_trigger(trigger))
        not_ready: list[SpecError] = []
        for index, content in enumerate(bundle.content):
            report.lines.append(_save_content(content))
            not_ready += _ready_problems(content, index)
        if not_ready:
            raise BundleError(not_ready)  # rolls the import back
        for segment in bundle.segments:
            report.lines.append(_save_segment(segment))
        for index, journey in enumerate(bundle.journeys):
            report.lines.append(_save_journey(journey, index, publish_journeys))
    return report


def _check_against_database(bundle: Bundle) -> None:
    errors: list[SpecError] = []
    builtin = set(Trigger.objects.filter(builtin=True).values_list("key", flat=True))
    for i, spec in enumerate(bundle.triggers):
        if spec.key in builtin:
            errors.append(
                SpecError(
                    SpecPath(("triggers", i, "key")),
                    CONFLICT,
                    f"{spec.key!r} is a built-in trigger and cannot be changed",
                )
            )
    channels = dict(Content.objects.filter(key__in=[c.key for c in bundle.content]).values_list("key", "channel"))
    for i, content in enumerate(bundle.content):
        if content.key in channels and channels[content.key] != content.channel:
            errors.append(
                SpecError(
                    SpecPath(("content", i, "channel")),
                    CONFLICT,
                    f"{spec.key!r} exists as {channels[spec.key]} content",
                )
            )
    if errors:
        raise BundleError(errors)


def _save_trigger(spec: TriggerSpec) -> str:
    trigger, created = Trigger.objects.update_or_create(
        key=spec.key, defaults={"name": spec.name, "description": spec.description, "status": spec.status}
    )
    trigger.attributes.all().delete()
    TriggerAttribute.objects.bulk_create(
        TriggerAttribute(
            trigger=trigger, name=a.name, type=a.type, required=a.required, description=a.description, position=i
        )
        for i, a in enumerate(spec.attributes)
    )
    return f"trigger {spec.key}: {'created' if created else 'updated'}"


def _save_content(spec: ContentSpec) -> str:
    model = CONTENT_MODELS[spec.channel]
    values = _content_values(spec)
    values.update(name=spec.name, status=spec.status)
    _, created = model.objects.update_or_create(key=spec.key, defaults=values)
    return f"content {spec.key}: {'created' if created else 'updated'}"


def _save_segment(spec: SegmentSpec) -> str:
    """Create or update a segment; new conditions rebuild its members through the workers."""
    from .segments import start_rebuild

    kind = SegmentKind.STATIC if spec.static else SegmentKind.CONDITIONS
    segment = Segment.objects.filter(key=spec.key).first()
    if segment is None:
        segment = Segment.objects.create(
            key=spec.key, name=spec.name, description=spec.description, kind=kind, conditions=spec.conditions
        )
        if not spec.static:
            start_rebuild(segment)
        return f"segment {spec.key}: created"
    rebuild = (segment.kind, segment.conditions) != (kind, spec.conditions) and not spec.static
    segment.name, segment.description, segment.kind, segment.conditions = (
        spec.name,
        spec.description,
        kind,
        spec.conditions,
    )
    segment.save()
    if rebuild:
        start_rebuild(segment)
    return f"segment {spec.key}: updated" + (", rebuilding its members" if rebuild else "")


def _save_journey(spec: JourneySpec, index: int, publish_journeys: bool) -> str:
    journey, created = Journey.objects.update_or_create(
        key=spec.key, defaults={"name": spec.name, "description": spec.description, "type": spec.type}
    )
    journey = Journey.objects.select_for_update().get(pk=journey.pk)
    draft = journey.versions.filter(state=VersionState.DRAFT).first()
    published = journey.versions.filter(state=VersionState.PUBLISHED).first()
    wanted = journey_to_dict(spec)
    if draft is None and published is not None and journey_to_dict(version_to_spec(published)) == wanted:
        return f"journey {spec.key}: unchanged (version {published.number} is live)"
    if draft is None:
        draft = JourneyVersion.objects.create(journey=journey, number=new_version_number(journey))
    write_version(draft, spec)
    outcome = f"journey {spec.key}: {'created' if created else 'updated'}, version {draft.number} draft"
    if publish_journeys:
        try:
            publish(draft)
        except PublishError as e:
            raise BundleError(
                [
                    SpecError(SpecPath(("journeys", index)), NOT_PUBLISHABLE, f"cannot publish: {problem}")
                    for problem in e.problems
                ]
            ) from e
        outcome = f"journey {spec.key}: {'created' if created else 'updated'}, version {draft.number} published"
    return outcome


def write_version(version: JourneyVersion, spec: JourneySpec) -> None:
    """Replace a draft version's settings and steps with the spec's."""
    assert version.state == VersionState.DRAFT, "only drafts are written; published versions are history"
    triggers = {t.key: t for t in Trigger.objects.all()}
    segments = {s.key: s for s in Segment.objects.all()}
    version.time_zone = spec.time_zone
    version.segment = segments.get(spec.segment) if spec.segment else None
    version.segment_mode = spec.segment_mode
    version.segment_every = spec.segment_every
    version.segment_at = _time_of_day(spec.segment_at)
    version.entry_starts_at = spec.entry_starts_at
    version.entry_ends_at = spec.entry_ends_at
    version.entry_per_hour = spec.entry_per_hour
    version.start_trigger = triggers.get(spec.start_trigger) if spec.start_trigger else None
    version.start_conditions = spec.start_conditions
    version.repeat = spec.repeat
    version.goal_trigger = triggers.get(spec.goal_trigger) if spec.goal_trigger else None
    version.goal_target_percent = spec.goal_target_percent
    version.goal_window = spec.goal_window
    version.holdout_percent = spec.holdout_percent
    version.save()
    version.exit_triggers.set([triggers[key] for key in spec.exit_triggers])
    version.exclude_segments.set([segments[key] for key in spec.exclude_segments])
    # Children before parents is what CASCADE needs; of_step is PROTECT, so clear it first.
    version.steps.update(of_step=None)
    version.steps.all().delete()
    created: dict[str, Step] = {}
    contents = {c.key: c for c in Content.objects.all()}
    refs = References(triggers=triggers, contents=contents, steps=created, segments=segments)
    _create_steps(version, spec.steps, None, "", refs, created)


def _time_of_day(text: str | None) -> time | None:
    if not text:
        return None
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _create_steps(
    version: JourneyVersion,
    specs: list[StepSpec],
    parent: Step | None,
    path: str,
    refs: References,
    created: dict[str, Step],
) -> None:
    for position, spec in enumerate(specs):
        kind = kind_of(spec.type)
        step = Step.objects.create(
            version=version,
            key=spec.id,
            kind=spec.type,
            parent=parent,
            path=path,
            position=position,
            **kind.to_model(spec, refs),
        )
        created[spec.id] = step
        for child_path, children in kind.children(spec):
            _create_steps(version, children, step, child_path, refs, created)


def version_to_spec(version: JourneyVersion) -> JourneySpec:
    journey = version.journey
    steps = list(version.steps.select_related("content", "trigger", "of_step", "segment"))
    by_parent: dict[tuple[int | None, str], list[Step]] = {}
    for step in steps:
        by_parent.setdefault((step.parent_id, step.path), []).append(step)
    for siblings in by_parent.values():
        siblings.sort(key=lambda s: s.position)

    def build(parent_id: int | None, path: str) -> list[StepSpec]:
        return [to_spec(step) for step in by_parent.get((parent_id, path), [])]

    def to_spec(step: Step) -> StepSpec:
        spec = StepSpec(id=step.key, type=step.kind)
        kind_of(step.kind).from_model(step, spec, lambda path: build(step.pk, path))
        return spec

    percent = version.goal_target_percent
    return JourneySpec(
        key=journey.key,
        name=journey.name,
        type=journey.type,
        description=journey.description,
        time_zone=version.time_zone,
        start_trigger=version.start_trigger.key if version.start_trigger else None,
        start_conditions=version.start_conditions,
        repeat=version.repeat,
        segment=version.segment.key if version.segment else None,
        goal_trigger=version.goal_trigger.key if version.goal_trigger else None,
        goal_target_percent=(int(percent) if percent == int(percent) else float(percent))
        if percent is not None
        else None,
        goal_window=version.goal_window,
        exit_triggers=sorted(version.exit_triggers.values_list("key", flat=True)),
        steps=build(None, ""),
        segment_mode=version.segment_mode,
        segment_every=version.segment_every,
        segment_at=version.segment_at.strftime("%H:%M") if version.segment_at else None,
        exclude_segments=sorted(version.exclude_segments.values_list("key", flat=True)),
        entry_starts_at=version.entry_starts_at,
        entry_ends_at=version.entry_ends_at,
        entry_per_hour=version.entry_per_hour,
        holdout_percent=version.holdout_percent,
    )


def export_bundle(journey_keys: Iterable[str] = ()) -> dict:
    """The named journeys (all when none are named), each as its newest version, with the
    custom triggers and content they use."""
    journeys = Journey.objects.order_by("key")
    keys = list(journey_keys)
    if keys:
        missing = sorted(set(keys) - set(journeys.filter(key__in=keys).values_list("key", flat=True)))
        if missing:
            raise BundleError(
                [SpecError(SpecPath(("journeys",)), UNKNOWN, f"no journey with key {key!r}") for key in missing]
            )
        journeys = journeys.filter(key__in=keys)
    specs = []
    for journey in journeys:
        version = journey.versions.order_by("-number").first()
        if version is not None:
            specs.append(version_to_spec(version))
    trigger_keys: set[str] = set()
    content_keys: set[str] = set()
    segment_keys: set[str] = set()
    for spec in specs:
        trigger_keys.update(filter(None, [spec.start_trigger, spec.goal_trigger, *spec.exit_triggers]))
        segment_keys.update(filter(None, [spec.segment, *spec.exclude_segments]))
        for step in _walk(spec.steps):
            trigger_keys.update(filter(None, [step.trigger]))
            content_keys.update(filter(None, [step.content]))
            segment_keys.update(filter(None, [step.segment]))
    triggers = (
        Trigger.objects.filter(key__in=trigger_keys, builtin=False).order_by("key").prefetch_related("attributes")
    )
    contents = [c.specific for c in Content.objects.filter(key__in=content_keys).order_by("key")]
    bundle = Bundle(
        triggers=[_trigger_spec(t) for t in triggers],
        content=[_content_spec(c) for c in contents],
        journeys=specs,
        segments=[
            SegmentSpec(s.key, s.name, s.description, s.conditions, s.is_static)
            for s in Segment.objects.filter(key__in=segment_keys).order_by("key")
        ],
    )
    return bundle_to_dict(bundle)


def _ready_problems(spec: ContentSpec, index: int) -> list[SpecError]:
    """Content imported as Ready to send passes the checks marking it Ready would make
    (content.checks), so an import cannot make Ready what the admin would refuse. Checked as
    saved (what a save derives, such as a design's HTML, included)."""
    from content.checks import check_content, errors

    if spec.status != "ready":
        return []
    content = CONTENT_MODELS[spec.channel].objects.get(key=spec.key)
    format_names = {v: k for k, v in CONTENT_FIELD_NAMES.items()}
    return [
        SpecError(
            SpecPath(("content", index, format_names.get(problem.field, problem.field))),
            INVALID,
            f"cannot be Ready to send: {problem.message}",
        )
        for problem in errors(check_content(content))
    ]


def _content_values(spec: ContentSpec) -> dict[str, Any]:
    values: dict[str, Any] = {CONTENT_FIELD_NAMES.get(k, k): v for k, v in spec.fields.items()}
    if "design" in values:
        # A designed email's HTML is rendered from the design; a text given with it is kept.
        values.pop("html_body", None)
        values["custom_text"] = "text_body" in values
    return values


def _walk(steps: list[StepSpec]) -> Iterable[StepSpec]:
    for step in steps:
        yield step
        for _, children in step.children():
            yield from _walk(children)


def _trigger_spec(trigger: Trigger) -> TriggerSpec:
    from .definition import AttributeSpec

    return TriggerSpec(
        key=trigger.key,
        name=trigger.name,
        status=trigger.status,
        description=trigger.description,
        attributes=[AttributeSpec(a.name, a.type, a.required, a.description) for a in trigger.attributes.all()],
    )


def _content_spec(content: Content) -> ContentSpec:
    from .definition import CHANNEL_FIELDS

    model_names = {v: k for k, v in CONTENT_FIELD_NAMES.items()}
    fields = {}
    for model_field in content._meta.concrete_fields:
        name = model_names.get(model_field.name, model_field.name)
        if name in CHANNEL_FIELDS[content.channel]:
            value = getattr(content, model_field.name)
            if value or name in ("subject", "from_email", "body", "title", "html", "text", "purpose"):
                fields[name] = value
    if getattr(content, "design", None) is not None:
        fields["design"] = content.design  # type: ignore[attr-defined]
        fields.pop("html", None)
        if not content.custom_text:  # type: ignore[attr-defined]
            fields.pop("text", None)
    if content.description:
        fields["description"] = content.description
    return ContentSpec(
        key=content.key, channel=content.channel, name=content.name, status=content.status, fields=fields
    )
