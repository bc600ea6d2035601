from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from .checks import check_content
from .errors import RenderError, SendError
from .lifecycle import ContentInUse, ContentNotReady, mark_ready, reopen_for_editing
from .models import Content, Email, PushNotification, TextMessage
from .previews import preview, send_test
from .rendering import TemplateSyntaxError
from .segments import count_segments

COMMON_FIELDS = ("name", "key", "status", "purpose", "description")


def _problem_list(problems) -> str:
    return format_html_join("", "<li>{}</li>", ((str(p),) for p in problems))


class ChannelContentAdmin(admin.ModelAdmin):
    """A channel's messages. Draft content is edited here; Ready content is read-only until a
    marketer presses Edit (which moves it back to Draft unless a live journey sends it)."""

    list_display = ("name", "key", "status", "purpose", "updated_at")
    list_filter = ("status", "purpose")
    search_fields = ("name", "key")
    prepopulated_fields = {"key": ("name",)}
    readonly_fields = ("status", "created_at", "updated_at")
    actions = ["check_selected", "mark_selected_ready", "edit_selected"]
    change_form_template = "content/admin/change_form.html"

    # --- Read-only when ready ---------------------------------------------------------------

    def get_readonly_fields(self, request: HttpRequest, obj: Content | None = None):
        if obj is not None and obj.is_ready:
            return [field for fieldset in self.get_fieldsets(request, obj) for field in fieldset[1]["fields"]]
        return self.readonly_fields

    def get_prepopulated_fields(self, request: HttpRequest, obj: Content | None = None):
        return self.prepopulated_fields if obj is None else {}

    # --- Actions -----------------------------------------------------------------------------

    @admin.action(description="Check content", permissions=["view"])
    def check_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        for content in queryset:
            self._report_check(request, content)

    @admin.action(description="Mark ready to send", permissions=["change"])
    def mark_selected_ready(self, request: HttpRequest, queryset: QuerySet) -> None:
        for content in queryset:
            self._mark_ready(request, content)

    @admin.action(description="Edit (move back to Draft)", permissions=["change"])
    def edit_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        for content in queryset:
            self._reopen(request, content)

    def _report_check(self, request: HttpRequest, content: Content) -> None:
        problems = check_content(content)
        if not problems:
            self.message_user(request, f"“{content}”: no problems found.", messages.SUCCESS)
            return
        level = messages.ERROR if any(p.is_error for p in problems) else messages.WARNING
        self.message_user(
            request,
            format_html("“{}” has {} problem(s):<ul>{}</ul>", content, len(problems), _problem_list(problems)),
            level,
        )

    def _mark_ready(self, request: HttpRequest, content: Content) -> None:
        if content.is_ready:
            self.message_user(request, f"“{content}” is already ready to send.", messages.INFO)
            return
        try:
            warnings = mark_ready(content)
        except ContentNotReady as error:
            self.message_user(
                request,
                format_html("“{}” stays in Draft; fix these first:<ul>{}</ul>", content, _problem_list(error.problems)),
                messages.ERROR,
            )
            return
        self.message_user(request, f"“{content}” is ready to send.", messages.SUCCESS)
        if warnings:
            self.message_user(request, format_html("Warnings:<ul>{}</ul>", _problem_list(warnings)), messages.WARNING)

    def _reopen(self, request: HttpRequest, content: Content) -> None:
        if not content.is_ready:
            self.message_user(request, f"“{content}” is already a draft.", messages.INFO)
            return
        try:
            reopen_for_editing(content)
        except ContentInUse as error:
            self.message_user(
                request,
                format_html(
                    "“{}” cannot be edited while live journeys send it:<ul>{}</ul>",
                    content,
                    format_html_join("", "<li>{}</li>", ((u,) for u in error.usages)),
                ),
                messages.ERROR,
            )
            return
        self.message_user(request, f"“{content}” is back in Draft and can be edited.", messages.SUCCESS)

    # --- Pages: preview and test send, and the change form's buttons ------------------------

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/preview/", wrap(self.preview_view), name=f"{prefix}_preview"),
            path("<path:object_id>/mark-ready/", wrap(self.mark_ready_view), name=f"{prefix}_mark_ready"),
            path("<path:object_id>/edit/", wrap(self.edit_view), name=f"{prefix}_edit"),
            *super().get_urls(),
        ]

    def _object(self, request: HttpRequest, object_id: str, *, change: bool) -> Content:
        obj = get_object_or_404(self.model, pk=object_id)
        allowed = self.has_change_permission(request, obj) if change else self.has_view_permission(request, obj)
        if not allowed:
            raise PermissionDenied
        return obj

    def _change_url(self, obj: Content) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[obj.pk])

    def mark_ready_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return require_POST(self._mark_ready_post)(request, object_id)

    def _mark_ready_post(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self._object(request, object_id, change=True)
        self._mark_ready(request, obj)
        return HttpResponseRedirect(self._change_url(obj))

    def edit_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return require_POST(self._edit_post)(request, object_id)

    def _edit_post(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self._object(request, object_id, change=True)
        self._reopen(request, obj)
        return HttpResponseRedirect(self._change_url(obj))

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Check results, the message rendered with sample data, and the Test send form."""
        obj = self._object(request, object_id, change=False)
        can_send = self.has_change_permission(request, obj)
        test_address, test_error = "", ""
        if request.method == "POST":
            if not can_send:
                raise PermissionDenied
            test_address = request.POST.get("address", "")
            try:
                send_test(obj, test_address)
            except ValidationError as error:
                test_error = f"address: {' '.join(error.messages)}"
            except (SendError, TemplateSyntaxError, RenderError) as error:
                test_error = f"The test could not be sent: {error}"
            else:
                self.message_user(request, f"Test sent to {test_address.strip()}.", messages.SUCCESS)
                return HttpResponseRedirect(request.path)
        rendered, render_error = None, ""
        try:
            rendered = preview(obj)
        except (TemplateSyntaxError, RenderError) as error:
            render_error = str(error)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": obj,
            "title": f"Preview: {obj}",
            "problems": check_content(obj),
            "preview": rendered,
            "render_error": render_error,
            "segments": count_segments(rendered.text) if rendered and obj.channel == "text" else None,
            "can_send": can_send,
            "test_address": test_address,
            "test_error": test_error,
            "change_url": self._change_url(obj),
        }
        return TemplateResponse(request, "content/admin/preview.html", context, status=400 if test_error else 200)


@admin.register(Email)
class EmailAdmin(ChannelContentAdmin):
    list_display = ("name", "key", "subject", "status", "purpose", "updated_at")
    search_fields = ("name", "key", "subject")
    fieldsets = (
        (None, {"fields": COMMON_FIELDS}),
        ("Message", {"fields": ("subject", "preheader", "from_name", "from_email", "reply_to")}),
        ("Body", {"fields": ("html_body", "text_body")}),
        ("History", {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )


@admin.register(TextMessage)
class TextMessageAdmin(ChannelContentAdmin):
    fieldsets = (
        (None, {"fields": COMMON_FIELDS}),
        ("Message", {"fields": ("body", "sender")}),
        ("History", {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )


@admin.register(PushNotification)
class PushNotificationAdmin(ChannelContentAdmin):
    list_display = ("name", "key", "title", "status", "purpose", "updated_at")
    search_fields = ("name", "key", "title")
    fieldsets = (
        (None, {"fields": COMMON_FIELDS}),
        ("Message", {"fields": ("title", "body", "image_url", "link_url")}),
        ("History", {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )


@admin.register(Content)
class ContentAdmin(admin.ModelAdmin):
    """Every message across channels, read-only: each is edited on its channel's page."""

    list_display = ("name", "key", "channel", "status", "purpose", "updated_at")
    list_filter = ("channel", "status", "purpose")
    search_fields = ("name", "key")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
