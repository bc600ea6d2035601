"""The designer's admin pages, mounted by JourneyAdmin through get_urls().

Every page checks the journey permissions of the person: view to see a journey (Analyst),
change to alter it (Marketer); a POST without change permission is refused with 403.
Every change goes through the engine's own functions: a draft is changed as a spec
(`version_to_spec` → edit → validate → `write_version`), and the lifecycle through
`journeys.publishing`.
"""

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.text import slugify

from content.models import Content
from triggers.models import Trigger

from ..abtest import ab_test_states
from ..bundles import (
    catalogue_from_database,
    export_bundle,
    import_bundle,
    load_bundle_text,
    version_to_spec,
    write_version,
)
from ..definition import BundleError, JourneySpec
from ..durations import format_duration
from ..models import Journey, JourneyStatus, JourneyVersion, Participant, Segment, SegmentEntry, VersionState
from ..publishing import (
    LifecycleError,
    PublishError,
    discard_draft,
    open_draft,
    pause,
    publish,
    publish_problems,
    resume,
    stop,
)
from ..simulation import SimulationError, parse_event, simulate
from ..spec import Problem, SpecPath
from ..steps import kind_of, kinds
from .canvas import Names, build_canvas, describe_condition, summarize
from .editing import (
    EditError,
    Location,
    SpecError,
    earlier_messages,
    find,
    insert_step,
    remove_step,
    replace_step,
    sequence,
    spec_errors,
    unique_id,
    walk,
)
from .forms import (
    CONDITIONS_PREFIX,
    BaseConditionFormSet,
    ConditionFormSet,
    CreateJourneyForm,
    ImportForm,
    SettingsForm,
    SimulationForm,
    StepForm,
    condition_initial,
    operator_types,
    posted_conditions,
    trigger_schemas,
)

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

    # The mixin is only ever used in JourneyAdmin, a ModelAdmin for Journey.
    _DesignerBase = ModelAdmin[Journey]
else:
    _DesignerBase = object

T = "admin/journeys/designer/"
# Codes of the designer's own problems with a change (besides the format's).
NO_DRAFT = "no_draft"
EDIT_CONFLICT = "edit_conflict"
# On the canvas URL after a refused Publish: list what stands in the way.
PROBLEMS_PARAMETER = "problems"
# The name of the step form's "Show its attributes" button (used without scripts).
REDRAW = "redraw"


def shown_version(journey: Journey) -> JourneyVersion | None:
    """The version the designer draws: the draft being edited, else the live one, else the newest."""
    versions = journey.versions.all()
    return (
        versions.filter(state=VersionState.DRAFT).first()
        or versions.filter(state=VersionState.PUBLISHED).first()
        or versions.order_by("-number").first()
    )


def names() -> Names:
    contents = list(Content.objects.values_list("key", "name", "status"))
    return Names(
        triggers=dict(Trigger.objects.values_list("key", "name")),
        content={key: name for key, name, _ in contents},
        content_ready={key: status == "ready" for key, _, status in contents},
        segments=dict(Segment.objects.values_list("key", "name")),
    )


def schema_of(trigger_key: str | None) -> dict[str, str]:
    if not trigger_key:
        return {}
    return dict(
        Trigger.objects.get(key=trigger_key).attributes.order_by("position", "name").values_list("name", "type")
    )


def problem_link(where: str, settings_url: str) -> str:
    """Where a publish problem is: a settings anchor or a tile anchor on the canvas."""
    if where in ("start", "goal", "exit"):
        return f"{settings_url}#{where}"
    if where.startswith("step "):
        return f"#step-{where[5:]}"
    return "#steps"


class JourneyDesigner(_DesignerBase):
    """Mixin for JourneyAdmin: the designer's pages and their URLs."""

    def designer_urls(self) -> list:
        wrap: Callable = self.admin_site.admin_view
        name = f"{self.model._meta.app_label}_{self.model._meta.model_name}"
        return [
            path("import/", wrap(self.import_view), name=f"{name}_import"),
            path("<path:object_id>/settings/", wrap(self.settings_view), name=f"{name}_settings"),
            path("<path:object_id>/steps/add/", wrap(self.add_step_view), name=f"{name}_add_step"),
            path(
                "<path:object_id>/steps/<slug:step_id>/remove/", wrap(self.remove_step_view), name=f"{name}_remove_step"
            ),
            path("<path:object_id>/steps/<slug:step_id>/", wrap(self.edit_step_view), name=f"{name}_edit_step"),
            path("<path:object_id>/publish/", wrap(self.publish_view), name=f"{name}_publish"),
            path("<path:object_id>/lifecycle/<str:action>/", wrap(self.lifecycle_view), name=f"{name}_lifecycle"),
            path("<path:object_id>/test/", wrap(self.test_view), name=f"{name}_test"),
            path("<path:object_id>/export/", wrap(self.export_view), name=f"{name}_export"),
        ]

    # --- Helpers -----------------------------------------------------------------------------

    def _url(self, name: str, *args: Any) -> str:
        return reverse(f"admin:journeys_journey_{name}", args=args, current_app=self.admin_site.name)

    def _journey(self, request: HttpRequest, object_id: str, *, change: bool = False) -> Journey:
        journey = self.get_object(request, unquote(object_id))
        if journey is None:
            raise Http404("No such journey.")
        if not self.has_view_permission(request, journey):
            raise PermissionDenied
        if (change or request.method == "POST") and not self.has_change_permission(request, journey):
            raise PermissionDenied
        return journey

    def _context(self, request: HttpRequest, journey: Journey | None, title: str, **extra: Any) -> dict:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "journey": journey,
            "original": journey,
            "title": title,
            "has_view_permission": self.has_view_permission(request, journey),
            "can_change": self.has_change_permission(request, journey),
            "can_add": self.has_add_permission(request),
        }
        if journey is not None:
            context["canvas_url"] = self._url("change", journey.pk)
            context["settings_url"] = self._url("settings", journey.pk)
        context.update(extra)
        return context

    def _draft(self, request: HttpRequest, journey: Journey) -> JourneyVersion | None:
        draft = journey.versions.filter(state=VersionState.DRAFT).first()
        if draft is None:
            messages.warning(request, "This journey has no draft. Press Edit to open a new draft version.")
        return draft

    def _change_draft(self, journey: Journey, change: Callable[[JourneySpec], object]) -> list[SpecError]:
        """Apply `change` to the draft's spec and save it, or return why not (nothing saved)."""
        with transaction.atomic():
            # One designer change at a time per journey: the draft is rewritten as a whole.
            Journey.objects.select_for_update().get(pk=journey.pk)
            draft = journey.versions.filter(state=VersionState.DRAFT).first()
            if draft is None:
                # Discarded or published in another tab meanwhile.
                return [SpecError(SpecPath(), NO_DRAFT, "This journey has no draft any more; press Edit to open one.")]
            spec = version_to_spec(draft)
            try:
                change(spec)
            except EditError as error:  # the place or step is gone (changed in another tab)
                return [SpecError(SpecPath(), EDIT_CONFLICT, str(error))]
            errors = spec_errors(spec, catalogue_from_database())
            if errors:
                return errors
            write_version(draft, spec)
        return []

    # --- Create --------------------------------------------------------------------------------

    def designer_add_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = CreateJourneyForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            journey = self._create(form.cleaned_data)
            messages.success(request, f"“{journey.name}” is created as a draft. Set its start, goal and exit.")
            return redirect(self._url("settings", journey.pk))
        return TemplateResponse(
            request, T + "create.html", self._context(request, None, "Create a journey", form=form, add=True)
        )

    def _create(self, data: dict) -> Journey:
        base = slugify(data["name"])[:90] or "journey"
        key, n = base, 2
        while Journey.objects.filter(key=key).exists():
            key, n = f"{base}-{n}", n + 1
        with transaction.atomic():
            journey = Journey.objects.create(key=key, name=data["name"], type=data["type"])
            draft = open_draft(journey)
            spec = version_to_spec(draft)
            if data["type"] == "segment":
                spec.segment = data["segment"].key
            else:
                spec.start_trigger = data["start_trigger"].key
            write_version(draft, spec)
        return journey

    # --- Canvas -----------------------------------------------------------------------------

    def designer_change_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        journey = self._journey(request, object_id)
        version = shown_version(journey)
        spec = version_to_spec(version) if version else None
        can_change = self.has_change_permission(request, journey)
        editable = bool(version and version.state == VersionState.DRAFT and can_change)
        problems = None
        if PROBLEMS_PARAMETER in request.GET and version is not None and version.state == VersionState.DRAFT:
            # After a refused Publish: what stands in the way now (it may have been fixed since).
            problems = self._publish_problems(journey, version)
        tile_problems: dict[str, list[str]] = {}
        for problem in problems or []:
            if problem["step"]:
                tile_problems.setdefault(problem["step"], []).append(problem["message"])
        lookup = names()
        live = journey.versions.filter(state=VersionState.PUBLISHED).first()
        lookup.ab_tests = ab_test_states(live or version, timezone.now())
        context = self._context(
            request,
            journey,
            journey.name,
            version=version,
            live=live,
            # A draft with an earlier version to go back to can be discarded.
            has_earlier=editable and journey.versions.exclude(state=VersionState.DRAFT).exists(),
            spec=spec,
            canvas=build_canvas(spec, lookup, tile_problems) if spec else None,
            editable=editable,
            start=self._start_summary(spec, lookup) if spec else None,
            problems=problems,
            participants=Participant.objects.filter(journey=journey)
            .select_related("contact", "current_step")
            .order_by("-entered_at")[:10],
            participants_url=reverse("admin:journeys_participant_changelist") + f"?journey__id__exact={journey.pk}",
            # Segment-based: the passes of members into the journey, with their progress.
            segment_entries=SegmentEntry.objects.filter(version__journey=journey).order_by("-occurrence")[:5],
            statuses=JourneyStatus,
        )
        return TemplateResponse(request, T + "canvas.html", context)

    def _publish_problems(self, journey: Journey, version: JourneyVersion) -> list[dict]:
        """Publish problems, each with a link to where it is and, when the fix is elsewhere
        (content not Ready to send, a trigger not Ready to use), a link to that too."""
        settings_url = self._url("settings", journey.pk)
        found = []
        for problem in publish_problems(version):
            entry = {
                "where": problem.where,
                "step": problem.step,
                "message": problem.message,
                "url": problem_link(problem.where, settings_url),
            }
            entry.update(_fix_link(problem))
            found.append(entry)
        return found

    def _start_summary(self, spec: JourneySpec, lookup: Names) -> dict:
        segment = Segment.objects.filter(key=spec.segment).first() if spec.segment else None
        return {
            "segment": segment,
            "segment_mode": spec.segment_mode,
            "excluded": spec.exclude_segments,
            "trigger": lookup.triggers.get(spec.start_trigger or "", "(no trigger chosen)"),
            "conditions": [describe_condition(c) for c in spec.start_conditions],
            "goal": (
                f"{lookup.triggers.get(spec.goal_trigger, spec.goal_trigger)}, {spec.goal_target_percent:g} % of people"
                if spec.goal_trigger and spec.goal_target_percent is not None
                else (lookup.triggers.get(spec.goal_trigger or "") or "")
            ),
            "exits": [lookup.triggers.get(k, k) for k in spec.exit_triggers],
            "holdout_percent": spec.holdout_percent,
            "repeat": dict(cast(Any, SettingsForm.base_fields["repeat"]).choices).get(spec.repeat, spec.repeat),
            "time_zone": spec.time_zone,
        }

    # --- Settings -------------------------------------------------------------------------------

    def settings_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        journey = self._journey(request, object_id)
        # A journey always has a version (its draft is opened when it is created).
        version = cast(JourneyVersion, shown_version(journey))
        spec = version_to_spec(version)
        editable = version.state == VersionState.DRAFT and self.has_change_permission(request, journey)
        if request.method == "POST" and not editable:
            self._draft(request, journey)  # explains that Edit opens a draft
            return redirect(self._url("change", journey.pk))
        form, formset, schema = self._settings_forms(request, journey, spec)
        if not editable:
            for field in form.fields.values():
                field.disabled = True
        errors: list[SpecError] = []
        if form.is_bound and form.is_valid() and formset.is_valid():
            data = form.cleaned_data

            def change(s: JourneySpec) -> None:
                if journey.type == "segment":
                    s.segment = data["segment"].key
                    s.segment_mode = data["segment_mode"]
                    recurring = s.segment_mode == "recurring"
                    s.segment_every = data["segment_every"] if recurring else None
                    s.segment_at = data["segment_at"] if recurring else None
                else:
                    s.start_trigger = data["start_trigger"].key
                s.exclude_segments = sorted(seg.key for seg in data["exclude_segments"])
                s.entry_starts_at, s.entry_ends_at = data["entry_starts_at"], data["entry_ends_at"]
                s.entry_per_hour = data["entry_per_hour"]
                s.start_conditions = formset.conditions() if journey.type != "segment" else []
                s.repeat = data["repeat"]
                s.time_zone = data["time_zone"]
                s.goal_trigger = data["goal_trigger"].key if data["goal_trigger"] else None
                percent = data["goal_target_percent"]
                s.goal_target_percent = (
                    None if percent is None else (int(percent) if percent == int(percent) else float(percent))
                )
                s.exit_triggers = sorted(t.key for t in data["exit_triggers"])
                s.holdout_percent = data["holdout_percent"] or 0

            errors = self._change_draft(journey, change)
            if not errors:
                Journey.objects.filter(pk=journey.pk).update(name=data["name"], description=data["description"])
                messages.success(request, "The journey's settings are saved.")
                return redirect(self._url("change", journey.pk))
        context = self._context(
            request,
            journey,
            f"Settings of {journey.name}",
            form=form,
            formset=formset,
            attribute_types=schema,
            # Every start trigger's attributes (the select sends its id), so the picker
            # follows a change of start trigger.
            schemas=trigger_schemas(cast(forms.ModelChoiceField, form.fields["start_trigger"]).queryset, by="pk"),
            operators=operator_types(),
            errors=errors,
            editable=editable,
            version=version,
        )
        return TemplateResponse(request, T + "settings.html", context)

    def _settings_forms(
        self, request: HttpRequest, journey: Journey, spec: JourneySpec
    ) -> tuple[SettingsForm, BaseConditionFormSet, dict[str, str]]:
        """The settings form and its start conditions, checked against the start trigger
        chosen in the form. Redrawn (unbound, as posted) when the marketer asks for another
        trigger's attributes without scripts."""
        chosen = [spec.start_trigger, spec.goal_trigger, *spec.exit_triggers]
        initial: dict[str, Any] = {
            "name": journey.name,
            "description": journey.description,
            "start_trigger": Trigger.objects.filter(key=spec.start_trigger).first(),
            "repeat": spec.repeat,
            "time_zone": spec.time_zone,
            "goal_trigger": Trigger.objects.filter(key=spec.goal_trigger).first() if spec.goal_trigger else None,
            "goal_target_percent": spec.goal_target_percent,
            "holdout_percent": spec.holdout_percent,
            "exit_triggers": list(Trigger.objects.filter(key__in=spec.exit_triggers)),
            "segment": Segment.objects.filter(key=spec.segment).first() if spec.segment else None,
            "segment_mode": spec.segment_mode,
            "segment_every": format_duration(spec.segment_every) if spec.segment_every else "",
            "segment_at": spec.segment_at or "",
            "exclude_segments": list(Segment.objects.filter(key__in=spec.exclude_segments)),
            "entry_starts_at": spec.entry_starts_at.isoformat() if spec.entry_starts_at else "",
            "entry_ends_at": spec.entry_ends_at.isoformat() if spec.entry_ends_at else "",
            "entry_per_hour": spec.entry_per_hour,
        }
        redraw = _redrawing(request)
        data = request.POST if request.method == "POST" and not redraw else None
        if redraw:
            initial = {
                **dict(request.POST.items()),
                "exit_triggers": request.POST.getlist("exit_triggers"),
                "exclude_segments": request.POST.getlist("exclude_segments"),
            }
        form = SettingsForm(data, initial=initial, chosen=chosen, journey_type=journey.type)
        trigger = _start_trigger_chosen(form, request.POST.get("start_trigger") if request.method == "POST" else None)
        key = trigger.key if trigger else spec.start_trigger
        schema = schema_of(key)
        rows = condition_initial(spec.start_conditions)
        if redraw:
            posted = posted_conditions(request.POST)
            rows = [row for row in posted if row["attribute"] in schema]
            name = trigger.name if trigger else "the start trigger"
            messages.info(request, f"The conditions now offer the attributes of {name}. Nothing is saved yet.")
            for row in posted:
                if row["attribute"] not in schema:
                    messages.warning(
                        request, f"{name} has no attribute {row['attribute']}: the condition on it was left out."
                    )
        formset = cast(
            BaseConditionFormSet,
            ConditionFormSet(
                data,
                initial=rows,
                prefix=CONDITIONS_PREFIX,
                form_kwargs={"schema": schema, "trigger_name": trigger.name if trigger else _trigger_name(key)},
            ),
        )
        return form, formset, schema

    # --- Steps ------------------------------------------------------------------------------------

    def _step_form(self, request: HttpRequest, spec: JourneySpec, kind: str, where: Location, step=None) -> StepForm:
        lookup = names()
        earlier = [
            (
                s.id,
                f"{kind_of(s.type).label}: {lookup.content.get(s.content or '', s.content)} ({s.id})",
                kind_of(s.type).channel,
            )
            for s in earlier_messages(spec, where)
        ]
        options = {
            "kind": kind,
            "step": step,
            "earlier": earlier,
            "attributes": schema_of(spec.start_trigger),
            "time_zone": spec.time_zone,
        }
        if _redrawing(request):
            form = StepForm.redrawn(request.POST, **options)
            self._explain_redraw(request, form)
            return form
        return StepForm(request.POST if request.method == "POST" else None, **options)

    def _explain_redraw(self, request: HttpRequest, form: StepForm) -> None:
        if form.conditions is None:  # only a form with conditions on a chosen trigger redraws
            return
        trigger = form.chosen_trigger
        if trigger is None:
            messages.info(request, "Nothing is saved yet: choose a trigger, then press Save step.")
            return
        messages.info(request, f"The conditions now offer the attributes of {trigger.name}. Nothing is saved yet.")
        for row in form.dropped_conditions:
            messages.warning(
                request,
                f"{trigger.name} has no attribute {row['attribute']}: the condition on it was left out.",
            )

    def _step_context(self, form: StepForm) -> dict:
        """What the step template needs besides the form: the kind's names and layout, and the
        condition picker of a form with conditions (a wait-for's)."""
        kind = form.step_kind
        context: dict[str, Any] = {
            "kind": kind.name,
            "kind_label": kind.label,
            "kind_icon": kind.icon_svg(),
            "kind_accent": kind.accent,
            "form_template": kind.form_template,
        }
        if form.conditions is None:
            return context
        return {
            **context,
            "formset": form.conditions,
            "attribute_types": form.condition_schema,
            "schemas": form.trigger_schemas,
            "operators": operator_types(),
        }

    def _location(self, request: HttpRequest) -> Location:
        source = request.POST if request.method == "POST" else request.GET
        try:
            position = int(source.get("position", "0"))
        except ValueError:
            raise Http404("No such place in the journey.") from None
        return Location(source.get("parent") or None, source.get("path", ""), position)

    def add_step_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        journey = self._journey(request, object_id, change=True)
        draft = self._draft(request, journey)
        if draft is None:
            return redirect(self._url("change", journey.pk))
        spec = version_to_spec(draft)
        where = self._location(request)
        try:
            place = find(spec, where.parent)[0] if where.parent else None
            steps_here = len(_sequence(spec, where))
        except EditError:
            raise Http404("No such place in the journey.") from None
        if not 0 <= where.position <= steps_here:
            raise Http404("No such place in the journey.")
        kind = (request.POST if request.method == "POST" else request.GET).get("kind", "")
        context = self._context(
            request,
            journey,
            "Add a step",
            where=where,
            place=place,
            version=draft,
            editable=True,
        )
        if kind not in [k.name for k in kinds()]:
            context["kinds"] = [(k.name, k.label, k.help, k.icon_svg(), k.accent) for k in kinds()]
            return TemplateResponse(request, T + "choose_step.html", context)
        form = self._step_form(request, spec, kind, where)
        if request.method == "POST" and form.is_bound and form.is_valid():
            new = form.to_spec(unique_id(spec, form.suggested_id()))
            errors = self._change_draft(journey, lambda s: insert_step(s, where, new))
            if not errors:
                messages.success(request, f"Added: {kind_of(kind).label}.")
                return HttpResponseRedirect(self._url("change", journey.pk) + f"#step-{new.id}")
            _attach(form, errors, new.id)
        context.update(
            form=form,
            title=f"Add a step: {kind_of(kind).label}",
            **self._step_context(form),
        )
        return TemplateResponse(request, T + "step.html", context)

    def edit_step_view(self, request: HttpRequest, object_id: str, step_id: str) -> HttpResponse:
        journey = self._journey(request, object_id)
        # A journey always has a version (its draft is opened when it is created).
        version = cast(JourneyVersion, shown_version(journey))
        spec = version_to_spec(version)
        try:
            step, where = find(spec, step_id)
        except EditError:
            raise Http404("No such step.") from None
        editable = version.state == VersionState.DRAFT and self.has_change_permission(request, journey)
        if request.method == "POST" and not editable:
            self._draft(request, journey)
            return redirect(self._url("change", journey.pk))
        form = self._step_form(request, spec, step.type, where, step)
        if not editable:
            for field in form.fields.values():
                field.disabled = True
        if request.method == "POST" and form.is_bound and form.is_valid():
            new = form.to_spec(step.id)
            errors = self._change_draft(journey, lambda s: replace_step(s, step.id, new))
            if not errors:
                messages.success(request, f"Saved: {kind_of(step.type).label}.")
                return HttpResponseRedirect(self._url("change", journey.pk) + f"#step-{step.id}")
            _attach(form, errors, step.id)
        context = self._context(
            request,
            journey,
            f"{kind_of(step.type).label} step",
            form=form,
            step=step,
            editable=editable,
            version=version,
            **self._step_context(form),
        )
        return TemplateResponse(request, T + "step.html", context)

    def remove_step_view(self, request: HttpRequest, object_id: str, step_id: str) -> HttpResponse:
        journey = self._journey(request, object_id, change=True)
        draft = self._draft(request, journey)
        if draft is None:
            return redirect(self._url("change", journey.pk))
        spec = version_to_spec(draft)
        try:
            step, _ = find(spec, step_id)
        except EditError:
            raise Http404("No such step.") from None
        inside = [s for s in walk([step]) if s is not step]
        errors: list[SpecError] = []
        if request.method == "POST":
            errors = self._change_draft(journey, lambda s: remove_step(s, step_id))
            if not errors:
                messages.success(request, f"Removed: {kind_of(step.type).label} ({step.id}).")
                return redirect(self._url("change", journey.pk))
        lookup = names()
        context = self._context(
            request,
            journey,
            "Remove a step",
            step=step,
            summary=summarize(step, lookup),
            inside=[summarize(s, lookup) for s in inside],
            errors=[_explain(e, step_id) for e in errors],
            version=draft,
        )
        return TemplateResponse(request, T + "remove_step.html", context)

    # --- Publish and lifecycle -----------------------------------------------------------------

    def publish_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        journey = self._journey(request, object_id, change=True)
        if request.method != "POST":
            return redirect(self._url("change", journey.pk))
        draft = self._draft(request, journey)
        if draft is None:
            return redirect(self._url("change", journey.pk))
        try:
            version = publish(draft)
        except PublishError:
            # Post/redirect/get: the canvas lists the problems (each linked to where it is)
            # and marks the tiles, and a reload does not publish again.
            return redirect(self._url("change", journey.pk) + f"?{PROBLEMS_PARAMETER}=1#publish-problems")
        except LifecycleError as error:
            messages.error(request, str(error))
            return redirect(self._url("change", journey.pk))
        messages.success(request, f"Version {version.number} is published: new participants enter it.")
        return redirect(self._url("change", journey.pk))

    def lifecycle_view(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        journey = self._journey(request, object_id, change=True)
        if action not in ("pause", "resume", "stop", "edit", "discard"):
            raise Http404("No such action.")
        if request.method != "POST":
            if action == "stop":
                active = journey.participants.filter(state="active").exists()
                return TemplateResponse(
                    request,
                    T + "stop.html",
                    self._context(request, journey, f"Stop {journey.name}", active=active),
                )
            if action == "discard":
                return self._confirm_discard(request, journey)
            return redirect(self._url("change", journey.pk))
        if action == "discard":
            return self._discard(request, journey)
        try:
            if action == "pause":
                pause(journey)
                messages.success(request, "Paused: participants stay where they are and no one new enters.")
            elif action == "resume":
                resume(journey)
                messages.success(request, "Resumed: participants move on and new people enter again.")
            elif action == "stop":
                count = stop(journey)
                messages.success(request, f"Stopped: {count} participant(s) left the journey.")
            else:
                draft = open_draft(journey)
                live = journey.versions.filter(state=VersionState.PUBLISHED).first()
                note = f" Version {live.number} keeps running until you publish." if live else ""
                messages.success(request, f"Version {draft.number} is a draft you can edit.{note}")
        except LifecycleError as error:
            messages.error(request, f"Cannot {action}: {error}.")
        return redirect(self._url("change", journey.pk))

    def _confirm_discard(self, request: HttpRequest, journey: Journey) -> HttpResponse:
        versions = journey.versions.order_by("-number")
        draft = versions.filter(state=VersionState.DRAFT).first()
        kept = versions.exclude(state=VersionState.DRAFT).first()
        context = self._context(
            request, journey, f"Discard the draft of {journey.name}", draft=draft, kept=kept, version=draft
        )
        return TemplateResponse(request, T + "discard.html", context)

    def _discard(self, request: HttpRequest, journey: Journey) -> HttpResponse:
        draft = journey.versions.filter(state=VersionState.DRAFT).first()
        try:
            discard_draft(journey)
        except LifecycleError as error:
            messages.error(request, f"The draft was not discarded: {error}.")
            return redirect(self._url("change", journey.pk))
        # The draft existed (it was just discarded) and the journey keeps its other versions.
        draft, shown = cast(JourneyVersion, draft), cast(JourneyVersion, shown_version(journey))
        messages.success(
            request,
            f"Version {draft.number} (draft) is discarded; the canvas shows version {shown.number}"
            f" ({shown.get_state_display().lower()}).",
        )
        return redirect(self._url("change", journey.pk))

    # --- Test, export, import ---------------------------------------------------------------------

    def test_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        journey = self._journey(request, object_id, change=request.method == "POST")
        # A journey always has a version (its draft is opened when it is created).
        version = cast(JourneyVersion, shown_version(journey))
        spec = version_to_spec(version)
        form = SimulationForm(
            request.POST if request.method == "POST" else None, initial={"events": _sample_events(spec)}
        )
        timeline = None
        if request.method == "POST" and form.is_valid():
            try:
                events = [parse_event(line) for line in form.cleaned_data["events"].splitlines() if line.strip()]
                timeline = [e.as_dict() for e in simulate(journey.key, form.contact(), events)]
            except (SimulationError, BundleError) as error:
                form.add_error("events", str(error))
        context = self._context(request, journey, f"Test {journey.name}", form=form, timeline=timeline, version=version)
        return TemplateResponse(request, T + "test.html", context)

    def export_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        journey = self._journey(request, object_id)
        response = JsonResponse(export_bundle([journey.key]), json_dumps_params={"indent": 2})
        response["Content-Disposition"] = f'attachment; filename="{journey.key}.json"'
        return response

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportForm(*((request.POST, request.FILES) if request.method == "POST" else ()))
        problems: list[str] = []
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data.get("file")
            raw = upload.read().decode("utf-8", "replace") if upload else form.cleaned_data["text"]
            try:
                report = import_bundle(load_bundle_text(raw))
            except BundleError as error:
                problems = error.errors
            else:
                messages.success(request, "Imported: " + "; ".join(report.lines or ["nothing to change"]) + ".")
                return redirect(reverse("admin:journeys_journey_changelist"))
        context = self._context(request, None, "Import journeys", form=form, problems=problems)
        return TemplateResponse(request, T + "import.html", context)


def _fix_link(problem: Problem) -> dict[str, str]:
    """When the fix is elsewhere (content not Ready to send, a trigger not Ready to use), a
    link to it."""
    if problem.fix is None:
        return {}
    what, key = problem.fix
    if what == "content":
        content = Content.objects.filter(key=key).first()
        if content is None:
            return {}
        return {
            "fix_url": reverse(f"admin:content_{content.specific._meta.model_name}_change", args=[content.pk]),
            "fix_label": f"Open {content.name}",
        }
    trigger = Trigger.objects.filter(key=key).first()
    if trigger is None:
        return {}
    return {
        "fix_url": reverse("admin:triggers_trigger_change", args=[trigger.pk]),
        "fix_label": f"Open trigger {trigger.name}",
    }


def _redrawing(request: HttpRequest) -> bool:
    """The form was sent to show the attributes of the trigger chosen, not to be saved."""
    return request.method == "POST" and REDRAW in request.POST


def _start_trigger_chosen(form: SettingsForm, posted: str | None) -> Trigger | None:
    """The start trigger the form sends, when it is one the form offers."""
    if not posted:
        return None
    try:
        # A ModelChoiceField whose queryset SettingsForm.__init__ sets.
        return cast(Any, form.fields["start_trigger"]).queryset.filter(pk=int(posted)).first()
    except ValueError:
        return None


def _trigger_name(key: str | None) -> str:
    if not key:
        return ""
    return Trigger.objects.filter(key=key).values_list("name", flat=True).first() or ""


def _sequence(spec: JourneySpec, where: Location) -> list:
    return sequence(spec, where.parent, where.path)


_FORM_FIELDS = {
    "content": "content",
    "to": "to",
    "within": "amount",
    "duration": "amount",
    "trigger": "trigger",
    "of_step": "of_step",
}


def _attach(form: StepForm, errors: list[SpecError], step_id: str) -> None:
    """Put the format's errors on the form: on their field when they are about this step."""
    for error in errors:
        if error.where != step_id:
            form.add_error(None, _explain(error, step_id))
            continue
        parts = error.field_parts
        if parts[:1] == ("conditions",) and len(parts) >= 2 and isinstance(parts[1], int) and form.conditions:
            # ("conditions", 1, "value") -> the message on the second condition's row.
            rows = form.conditions.condition_forms()
            if parts[1] < len(rows):
                row, name = rows[parts[1]], str(parts[2]) if len(parts) > 2 else ""
                row.add_error(name if name in row.fields else None, error.message)
                continue
        field = _FORM_FIELDS.get(error.field)
        form.add_error(field if field in form.fields else None, error.message)


def _explain(error: SpecError, step_id: str) -> str:
    if not str(error.path):
        return error.message
    where = "the journey's settings" if error.where in ("start", "goal", "exit", "settings") else f"step {error.where}"
    field = f" ({error.field})" if error.field else ""
    return f"In {where}{field}: {error.message}"


def _sample_events(spec: JourneySpec) -> str:
    """A first event line the marketer can run at once: the start trigger with sample attributes."""
    if not spec.start_trigger:
        return ""
    samples = {"number": 100, "text": "sample", "boolean": True, "datetime": "2026-01-01T09:00:00+00:00"}
    attributes: dict[str, Any] = {}
    for name, type_ in schema_of(spec.start_trigger).items():
        if "." in name or type_ not in samples:
            continue
        attributes[name] = samples[type_]
    return f"0 {spec.start_trigger} {json.dumps(attributes)}"
