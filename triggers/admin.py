"""The triggers admin: trigger definitions with their schema, snippet and volumes; the event
store (read-only, no COUNT(*)); API keys (shown once, revocable, with their limits)."""

from datetime import timedelta
from typing import ClassVar

from django.conf import settings
from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join

from .definitions import mark_triggers_ready
from .keys import create_api_key, revoke_api_keys
from .models import ApiKey, Event, Trigger, TriggerAttribute
from .snippets import example_event, integration_snippets
from .validation import AttributeSpec

VOLUME_WINDOWS = {"last_24_hours": timedelta(hours=24), "last_30_days": timedelta(days=30)}


def volume_subquery(window: timedelta) -> Coalesce:
    """Events of the outer trigger received within `window`: an index range scan of
    (trigger, received_at) per trigger shown, never a scan of the whole table."""
    counts = (
        Event.objects.filter(trigger=OuterRef("pk"), received_at__gte=timezone.now() - window)
        .order_by()
        .values("trigger")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(counts, output_field=IntegerField()), Value(0))


class TriggerAttributeInline(admin.TabularInline):
    model = TriggerAttribute
    extra = 0
    fields = ("position", "name", "type", "required", "description")


@admin.register(Trigger)
class TriggerAdmin(admin.ModelAdmin):
    list_display = ("name", "key", "status", "builtin", "daily_quota", "events_last_24_hours", "events_last_30_days")
    list_filter = ("status", "builtin")
    search_fields = ("name", "key", "description")
    prepopulated_fields = {"key": ("name",)}
    inlines = [TriggerAttributeInline]
    actions = ["move_to_ready"]
    fieldsets = [
        (None, {"fields": ("name", "key", "description", "status", "daily_quota")}),
        ("Volume", {"fields": ("volume",)}),
        ("Integration", {"fields": ("integration_snippet",), "description": "Send this from your website."}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Trigger]:
        # Correlated subqueries: evaluated for the triggers of the page only.
        return (
            super()
            .get_queryset(request)
            .annotate(**{f"events_{name}": volume_subquery(window) for name, window in VOLUME_WINDOWS.items()})
        )

    @admin.display(description="Events, 24 h", ordering="events_last_24_hours")
    def events_last_24_hours(self, trigger: Trigger) -> int:
        return trigger.events_last_24_hours  # type: ignore[attr-defined]  # annotated by get_queryset

    @admin.display(description="Events, 30 days", ordering="events_last_30_days")
    def events_last_30_days(self, trigger: Trigger) -> int:
        return trigger.events_last_30_days  # type: ignore[attr-defined]  # annotated by get_queryset

    @admin.display(description="Events received")
    def volume(self, trigger: Trigger) -> str:
        if trigger.pk is None:
            return "-"
        return format_html(
            "{} in the last 24 hours, {} in the last 30 days",
            trigger.events_last_24_hours,  # type: ignore[attr-defined]  # annotated by get_queryset
            trigger.events_last_30_days,  # type: ignore[attr-defined]  # annotated by get_queryset
        )

    @admin.display(description="Snippet")
    def integration_snippet(self, trigger: Trigger) -> str:
        if trigger.pk is None:
            return "Save the trigger to see how to raise it."
        if trigger.builtin:
            return "The product raises this trigger itself; it cannot be sent through the API."
        specs = [AttributeSpec(a.name, a.type, a.required) for a in trigger.attributes.all()]
        snippets = integration_snippets(settings.SITE_URL, example_event(trigger.key, specs))
        note = "" if trigger.is_ready else "Move the trigger to Ready to use first: drafts are refused (400). "
        return format_html(
            '<p>{}Create a key with the events:write scope under API keys. Docs: <a href="/api/docs/">/api/docs/</a>.'
            "</p>{}",
            note,
            format_html_join(
                "",
                '<h4 style="margin:8px 0 4px">{}</h4><pre class="integration-snippet" data-language="{}" '
                'style="white-space:pre;overflow:auto;max-width:60em">{}</pre>',
                (
                    ("curl", "curl", snippets["curl"]),
                    ("JavaScript fetch", "javascript", snippets["javascript"]),
                    ("Python requests", "python", snippets["python"]),
                ),
            ),
        )

    def get_readonly_fields(self, request, obj=None):
        # Built-in interaction triggers are raised by the product; their shape is fixed.
        if obj is not None and obj.builtin:
            return ("key", "name", "description", "status", "volume", "integration_snippet")
        return ("volume", "integration_snippet")

    def get_prepopulated_fields(self, request, obj=None):
        # A read-only key cannot be prepopulated (the form would miss the field).
        return {} if obj is not None and obj.builtin else self.prepopulated_fields

    def get_inlines(self, request, obj):
        return [] if obj is not None and obj.builtin else self.inlines

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.builtin:
            return False
        return super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs, request):
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Bulk "delete selected" must not reach the built-in triggers either.
        protected += [f"Built-in trigger: {obj}" for obj in objs if obj.builtin]
        return deleted, model_count, perms_needed, protected

    @admin.action(description="Move to Ready to use", permissions=["change"])
    def move_to_ready(self, request: HttpRequest, queryset: QuerySet[Trigger]) -> None:
        moved = mark_triggers_ready(queryset)
        self.message_user(request, f"{moved} trigger(s) moved to Ready to use; websites can raise them now.")


class EventPaginator(Paginator):
    """Counts at most CAP rows: the event store grows without bound and COUNT(*) on it would
    scan the whole table on every page. The list shows 'more than …' past the cap."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list.values("pk")[: self.CAP + 1].count()  # type: ignore[attr-defined]  # the admin passes a QuerySet


class ReceivedFilter(admin.SimpleListFilter):
    """Time windows on the received_at index (the date hierarchy would DISTINCT the table)."""

    title = "received"
    parameter_name = "received"
    WINDOWS = {"1h": ("Last hour", timedelta(hours=1)), "24h": ("Last 24 hours", timedelta(hours=24))}
    WINDOWS |= {"7d": ("Last 7 days", timedelta(days=7)), "30d": ("Last 30 days", timedelta(days=30))}

    def lookups(self, request, model_admin):
        return [(value, label) for value, (label, _) in self.WINDOWS.items()]

    def queryset(self, request, queryset):
        window = self.WINDOWS.get(self.value() or "")
        return queryset.filter(received_at__gte=timezone.now() - window[1]) if window else queryset


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """The event store, read-only. The big table: no COUNT(*) and no per-row joins."""

    list_display = ("received_at", "trigger", "contact_key", "source", "event_id", "binding_id", "processed_at")
    list_filter = (ReceivedFilter, "trigger")
    # Exact contact id only: it is the leading column of an index, so the search stays cheap.
    search_fields = ("=contact_key",)
    search_help_text = "The contact's id (exact)."
    list_select_related = ("trigger",)
    paginator = EventPaginator
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "scope", "source", "rate_per_second", "burst", "last_used_at", "revoked_at")
    list_filter = ("scope",)
    search_fields = ("name", "prefix")
    fields: ClassVar[tuple[str, ...]] = (
        "name",
        "scope",
        "source",
        "rate_per_second",
        "burst",
        "prefix",
        "created_at",
        "created_by",
    )
    fields += ("last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "created_by", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        limits = {"rate_per_second": obj.rate_per_second, "burst": obj.burst}
        api_key, raw = create_api_key(obj.name, scope=obj.scope, source=obj.source, created_by=request.user, **limits)
        obj.pk, obj.prefix, obj.hashed_key = api_key.pk, api_key.prefix, api_key.hashed_key
        obj._state.adding = False
        request._new_api_key = raw  # For response_add only: never stored, logged or put in a message.

    def response_add(self, request: HttpRequest, obj: ApiKey, post_url_continue=None) -> HttpResponse:
        """The only time the key is shown: a page of its own rather than a redirect."""
        raw = getattr(request, "_new_api_key", None)
        if raw is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Copy your new API key",
            "api_key": obj,
            "raw_key": raw,
            "site_url_base": settings.SITE_URL,
        }
        response = TemplateResponse(request, "admin/triggers/apikey/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = revoke_api_keys(queryset)
        level = messages.SUCCESS if revoked else messages.WARNING
        self.message_user(request, f"{revoked} key(s) revoked; they are refused from the next request on.", level)


@admin.register(TriggerAttribute)
class TriggerAttributeAdmin(admin.ModelAdmin):
    list_display = ("trigger", "name", "type", "required", "description")
    list_filter = ("type", "required", "trigger")
    search_fields = ("name", "trigger__key")
    list_select_related = ("trigger",)
