import json
from dataclasses import replace
from typing import ClassVar, cast

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from .checks import check_content
from .design_forms import EmailForm
from .designing import apply_design, rerender_designs
from .designs import BLOCKS, InvalidDesign, clean_design
from .errors import RenderError, SendError
from .images import image_url, store_image
from .lifecycle import ContentInUse, ContentNotReady, mark_ready, reopen_for_editing
from .mail import add_preheader
from .models import Brand, Content, Email, PushNotification, TextMessage
from .personalisation import personalisation_fields
from .previews import as_dark, preview, send_test
from .rendering import TemplateSyntaxError, render
from .samples import SAMPLE_CONTEXT
from .segments import count_segments

COMMON_FIELDS = ("name", "key", "status", "purpose", "description")


# A list inside an admin message: the admin styles every `.messagelist li` as a message of its
# own (icon, padding, green), so the items reset that inline.
_LIST = '<ul style="margin:.4em 0 0;padding-left:1.4em">{}</ul>'
_ITEM = (
    '<li style="display:list-item;list-style:disc;background:none;border:0;margin:0;padding:0;'
    'font-size:inherit;color:inherit">{}</li>'
)


def _bullets(items) -> str:
    return format_html(_LIST, format_html_join("", _ITEM, ((str(item),) for item in items)))


def _problem_list(problems) -> str:
    return _bullets(problems)


class ChannelContentAdmin(admin.ModelAdmin):
    """A channel's messages. Draft content is edited here; Ready content is read-only until a
    marketer presses Edit (which moves it back to Draft unless a live journey sends it)."""

    list_display: tuple[str, ...] = ("name", "key", "status", "purpose", "updated_at")
    list_filter = ("status", "purpose")
    search_fields: ClassVar[tuple[str, ...]] = ("name", "key")
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
            format_html("“{}” has {} problem(s):{}", content, len(problems), _problem_list(problems)),
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
                format_html("“{}” stays in Draft; fix these first:{}", content, _problem_list(error.problems)),
                messages.ERROR,
            )
            return
        self.message_user(request, f"“{content}” is ready to send.", messages.SUCCESS)
        if warnings:
            self.message_user(request, format_html("Warnings:{}", _problem_list(warnings)), messages.WARNING)

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
                    "“{}” cannot be edited while live journeys send it:{}",
                    content,
                    _bullets(error.usages),
                ),
                messages.ERROR,
            )
            return
        self.message_user(request, f"“{content}” is back in Draft and can be edited.", messages.SUCCESS)

    # --- The change form: Save and check, Save and mark ready; read-only when ready ----------

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.is_ready:
            # Nothing to save on Ready content: the only way to change it is Edit (back to Draft).
            context.update(show_save=False, show_save_and_continue=False, show_save_and_add_another=False)
        can_save = self.has_add_permission(request) if add else self.has_change_permission(request, obj)
        context["show_check_buttons"] = can_save and (obj is None or not obj.is_ready)
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST" and object_id:
            obj = self.get_object(request, unquote(object_id))
            if obj is not None and obj.is_ready and self.has_change_permission(request, obj):
                # A stale form (opened before someone marked the message ready) must not
                # overwrite Ready content: nothing is saved.
                self.message_user(
                    request, f"“{obj}” is ready to send and read-only: press Edit to change it.", messages.ERROR
                )
                return HttpResponseRedirect(self._change_url(obj))
        return super().changeform_view(request, object_id, form_url, extra_context)

    def response_add(self, request: HttpRequest, obj: Content, post_url_continue=None) -> HttpResponse:
        return self._after_save(request, obj) or super().response_add(request, obj, post_url_continue)

    def response_change(self, request: HttpRequest, obj: Content) -> HttpResponse:
        return self._after_save(request, obj) or super().response_change(request, obj)

    def _after_save(self, request: HttpRequest, obj: Content) -> HttpResponse | None:
        """ "Save and check content" and "Save and mark ready to send" stay on the message."""
        if "_check" in request.POST:
            self._report_check(request, obj)
        elif "_mark_ready" in request.POST:
            self._mark_ready(request, obj)
        else:
            return None
        return HttpResponseRedirect(self._change_url(obj))

    # --- Pages: preview and test send, and Edit ------------------------------------------------

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/preview/", wrap(self.preview_view), name=f"{prefix}_preview"),
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
        width = 375 if request.GET.get("width") == "375" else 600
        dark = request.GET.get("scheme") == "dark"
        if rendered is not None and dark:
            rendered = replace(rendered, html=as_dark(rendered.html))
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
            "width": width,
            "dark": dark,
        }
        return TemplateResponse(request, "content/admin/preview.html", context, status=400 if test_error else 200)


@admin.register(Email)
class EmailAdmin(ChannelContentAdmin):
    form = EmailForm
    list_display = ("name", "key", "subject", "editor", "status", "purpose", "updated_at")
    search_fields = ("name", "key", "subject")
    change_form_template = "content/admin/email_change_form.html"

    @admin.display(description="editor")
    def editor(self, obj: Email) -> str:
        return "Designer" if obj.is_designed else "Raw HTML"

    def get_fieldsets(self, request: HttpRequest, obj: Email | None = None):
        common = (None, {"fields": COMMON_FIELDS})
        message = ("Message", {"fields": ("subject", "preheader", "from_name", "from_email", "reply_to")})
        history = ("History", {"fields": ("created_at", "updated_at"), "classes": ("collapse",)})
        if obj is None:
            body = (
                "Body",
                {
                    "fields": ("start_from", "html_body", "text_body"),
                    "description": "Start from a design (edited with the designer once saved), or choose "
                    "Raw HTML and write both bodies by hand.",
                },
            )
            return (common, message, body)
        if obj.is_designed:
            fields = ["design", "custom_text", "text_body"]
            if not obj.is_ready:
                fields[1:1] = ["add_block"]
                fields.append("switch_to_raw_html")
            return (common, message, ("Design", {"fields": fields, "classes": ("email-design",)}), history)
        return (common, message, ("Body", {"fields": ("html_body", "text_body")}), history)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.is_designed and not obj.is_ready:
            context["designer"] = {
                "previewUrl": reverse("admin:content_email_design_preview", args=[obj.pk]),
                "imageUploadUrl": reverse("admin:content_email_design_image", args=[obj.pk]),
                "blocks": {kind.type: {"label": kind.label, "default": kind.default()} for kind in BLOCKS.values()},
                "fields": personalisation_fields(obj),
            }
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/design-preview/",
                wrap(self.design_preview_view),
                name="content_email_design_preview",
            ),
            path(
                "<path:object_id>/design-image/",
                wrap(self.design_image_view),
                name="content_email_design_image",
            ),
            *super().get_urls(),
        ]

    def design_image_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The designer's image upload: keeps the image and answers its public address."""
        if request.method != "POST":
            return JsonResponse({"error": "POST an image"}, status=405)
        self._object(request, object_id, change=True)
        upload = request.FILES.get("image")
        if upload is None:
            return JsonResponse({"error": "Choose an image to upload."}, status=400)
        try:
            image = store_image(upload)
        except ValidationError as error:
            return JsonResponse({"error": " ".join(error.messages)}, status=400)
        return JsonResponse({"url": image_url(image)})

    def design_preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The editor's live preview: the unsaved design rendered with sample data, and its checks."""
        if request.method != "POST":
            return JsonResponse({"error": "POST the design"}, status=405)
        email = cast(Email, self._object(request, object_id, change=False))  # EmailAdmin's object
        try:
            payload = json.loads(request.body)
            email.design = clean_design(payload.get("design"))
        except (ValueError, AttributeError) as error:
            errors = [str(e) for e in error.errors] if isinstance(error, InvalidDesign) else ["Not a design."]
            return JsonResponse({"errors": errors}, status=400)
        for field in ("subject", "preheader"):
            if isinstance(payload.get(field), str):
                setattr(email, field, payload[field])
        apply_design(email)
        try:
            shown = preview(email)
        except (TemplateSyntaxError, RenderError) as error:
            return JsonResponse({"errors": [f"The message could not be rendered: {error}"]}, status=400)
        html = add_preheader(shown.html, " ".join(render(email.preheader, SAMPLE_CONTEXT, html=False).split()))
        return JsonResponse(
            {
                "subject": shown.subject,
                "html": html,
                "dark_html": as_dark(html),
                "text": shown.text,
                "text_body": email.text_body,  # the generated plain-text part, before personalisation
                "problems": [
                    {"field": p.field, "message": p.message, "severity": p.severity} for p in check_content(email)
                ],
            }
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


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    """One row: logo, colours, font and width applied to every designed email."""

    list_display = ("name", "primary_color", "font", "width")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not Brand.objects.exists() and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Brand | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Brand, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        count = rerender_designs()
        self.message_user(request, f"The brand is applied to {count} designed email(s).", messages.INFO)
