"""Admin pages for segments and for importing contacts: member count and sample, the
preview count of conditions being edited, a rebuild action, and CSV imports with a
preview and per-row errors. Registered from journeys.admin."""

import json
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html_join

from .csv_import import CsvReading, import_contacts, import_members, read_contacts_csv, read_member_ids_csv
from .models import Segment, SegmentKind
from .segments import member_count, preview_count, sample, segment_problems, start_rebuild

PREVIEW_ROWS = 20


class SegmentForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ("name", "key", "description", "kind", "conditions")
        help_texts = {
            "conditions": 'A JSON list, e.g. [{"attribute": "contact.attributes.tier", "operator": "=", '
            '"value": "gold"}]. Operators are the journeys\' (=, !=, >, contains, in, exists, …).',
        }

    def clean(self) -> dict[str, Any]:
        data = cast(dict[str, Any], super().clean())  # a ModelForm's clean returns cleaned_data
        conditions = data.get("conditions") or []
        problems = segment_problems(conditions)
        if problems:
            raise ValidationError({"conditions": [f"{where}: {message}" for where, message in problems]})
        if data.get("kind") == SegmentKind.STATIC and conditions:
            raise ValidationError({"conditions": "A static segment is a list of contacts: leave conditions empty."})
        if data.get("kind") == SegmentKind.CONDITIONS and not conditions:
            raise ValidationError({"conditions": "Add at least one condition, or make the segment static."})
        return data


class CsvForm(forms.Form):
    file = forms.FileField(required=False, help_text="A CSV file with a header row.")
    text = forms.CharField(required=False, widget=forms.HiddenInput)
    replace = forms.BooleanField(required=False, label="Replace the current members (instead of adding)")

    def csv_text(self) -> str:
        upload = self.cleaned_data.get("file")
        if upload is not None:
            return upload.read().decode("utf-8-sig", errors="replace")
        return self.cleaned_data.get("text") or ""


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    form = SegmentForm
    list_display = ("name", "key", "kind", "members", "built", "updated_at")
    list_filter = ("kind",)
    search_fields = ("name", "key")
    prepopulated_fields = {"key": ("name",)}
    readonly_fields = ("members", "sample_members", "built")
    actions = ["rebuild_selected"]
    change_form_template = "admin/journeys/segment/change_form.html"

    @admin.display(description="Members")
    def members(self, segment: Segment) -> int | str:
        return member_count(segment) if segment.pk else "-"

    @admin.display(description="Sample (latest to join)")
    def sample_members(self, segment: Segment) -> str:
        if not segment.pk:
            return "-"
        contacts = sample(segment)
        if not contacts:
            return "nobody yet"
        return format_html_join(", ", "{}", ((c.external_id,) for c in contacts))

    @admin.display(description="Members up to date", boolean=True)
    def built(self, segment: Segment) -> bool:
        return segment.is_static or segment.built_at is not None

    def save_model(self, request: HttpRequest, obj: Segment, form, change: bool) -> None:
        conditions_changed = not change or {"conditions", "kind"} & set(form.changed_data)
        super().save_model(request, obj, form, change)
        if conditions_changed and not obj.is_static:
            start_rebuild(obj)
            self.message_user(request, "Its members are being rebuilt by the workers.", messages.INFO)

    @admin.action(description="Rebuild the members of the selected segments", permissions=["change"])
    def rebuild_selected(self, request: HttpRequest, queryset) -> None:
        segments = [s for s in queryset if not s.is_static]
        for segment in segments:
            start_rebuild(segment)
        self.message_user(request, f"{len(segments)} segment(s) are being rebuilt by the workers.")

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("preview/", wrap(self.preview_view), name="journeys_segment_preview"),
            path("<int:segment_id>/import/", wrap(self.import_members_view), name="journeys_segment_import"),
            *super().get_urls(),
        ]

    def preview_view(self, request: HttpRequest) -> JsonResponse:
        """How many contacts the conditions being edited select (POST conditions=<JSON>)."""
        if request.method != "POST" or not self.has_view_permission(request):
            raise PermissionDenied
        try:
            conditions = json.loads(request.POST.get("conditions") or "[]")
        except ValueError:
            return JsonResponse({"error": "conditions: not valid JSON"}, status=400)
        problems = segment_problems(conditions)
        if problems:
            return JsonResponse({"error": "; ".join(f"{w}: {m}" for w, m in problems)}, status=400)
        preview = preview_count(conditions)
        return JsonResponse({"count": preview.count, "complete": preview.complete, "scanned": preview.scanned})

    def import_members_view(self, request: HttpRequest, segment_id: int) -> HttpResponse:
        segment = get_object_or_404(Segment, pk=segment_id)
        if not self.has_change_permission(request, segment):
            raise PermissionDenied
        if not segment.is_static:
            messages.error(request, "Only a static segment takes a list of members.")
            return redirect("admin:journeys_segment_change", segment.pk)

        def save(reading: CsvReading, form: CsvForm) -> str:
            joined = import_members(segment, reading, replace=form.cleaned_data["replace"])
            return f"{joined} contact(s) joined {segment.name}."

        return csv_import_page(
            self,
            request,
            read_member_ids_csv,
            save,
            title=f"Import members of {segment.name}",
            done_url=reverse("admin:journeys_segment_change", args=[segment.pk]),
            with_replace=True,
        )


class ContactImport:
    """Mixin for ContactAdmin: Import contacts from CSV, with a preview."""

    change_list_template = "admin/journeys/contact/change_list.html"

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [path("import/", wrap(self.import_view), name="journeys_contact_import"), *super().get_urls()]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):  # type: ignore[attr-defined]  # mixed into a ModelAdmin
            raise PermissionDenied

        def save(reading: CsvReading, form: CsvForm) -> str:
            return f"{import_contacts(reading)} contact(s) saved."

        return csv_import_page(
            self,
            request,
            read_contacts_csv,
            save,
            title="Import contacts",
            done_url=reverse("admin:journeys_contact_changelist"),
            with_replace=False,
        )


def csv_import_page(model_admin, request, read, save, *, title: str, done_url: str, with_replace: bool):
    """Upload -> preview (rows, per-row errors) -> Import: writes the valid rows only."""
    form = CsvForm(request.POST or None, request.FILES or None)
    reading = None
    if request.method == "POST" and form.is_valid():
        text = form.csv_text()
        reading = read(text)
        if reading.problem:
            form.add_error("file", reading.problem)
            reading = None
        elif "confirm" in request.POST:
            model_admin.message_user(request, save(reading, form) + f" {len(reading.rejected)} row(s) skipped.")
            return redirect(done_url)
        else:
            form = CsvForm(initial={"text": text, "replace": form.cleaned_data["replace"]})
    if not with_replace:
        form.fields.pop("replace")
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": title,
        "form": form,
        "reading": reading,
        "preview_rows": reading.rows[:PREVIEW_ROWS] if reading else [],
        "done_url": done_url,
    }
    return TemplateResponse(request, "admin/journeys/csv_import.html", context)
