from django.contrib import admin, messages

from .models import ApiKey, Event, Trigger, TriggerAttribute


class TriggerAttributeInline(admin.TabularInline):
    model = TriggerAttribute
    extra = 0
    fields = ("position", "name", "type", "required", "description")


@admin.register(Trigger)
class TriggerAdmin(admin.ModelAdmin):
    list_display = ("name", "key", "status", "builtin", "daily_quota", "updated_at")
    list_filter = ("status", "builtin")
    search_fields = ("name", "key", "description")
    prepopulated_fields = {"key": ("name",)}
    inlines = [TriggerAttributeInline]

    def get_readonly_fields(self, request, obj=None):
        # Built-in interaction triggers are raised by the product; their shape is fixed.
        if obj is not None and obj.builtin:
            return ("key", "name", "description", "status")
        return ()

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


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """The event store, read-only. The big table: no COUNT(*) and no per-row joins."""

    list_display = ("received_at", "trigger", "contact_key", "source", "event_id", "binding_id", "processed_at")
    list_filter = ("trigger",)
    search_fields = ("=contact_key", "=event_id", "=binding_id")
    list_select_related = ("trigger",)
    date_hierarchy = "received_at"
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "scope", "source", "created_at", "last_used_at", "revoked_at")
    list_filter = ("scope",)
    search_fields = ("name", "prefix")
    readonly_fields = ("prefix", "created_at", "created_by", "last_used_at", "revoked_at")

    def save_model(self, request, obj, form, change):
        if not change:
            raw, obj.prefix, obj.hashed_key = ApiKey.generate()
            obj.created_by = request.user
            super().save_model(request, obj, form, change)
            # The only time the key is shown: only its hash is stored.
            messages.warning(request, f"Copy the key now, it will not be shown again: {raw}")
            return
        super().save_model(request, obj, form, change)


@admin.register(TriggerAttribute)
class TriggerAttributeAdmin(admin.ModelAdmin):
    list_display = ("trigger", "name", "type", "required", "description")
    list_filter = ("type", "required", "trigger")
    search_fields = ("name", "trigger__key")
    list_select_related = ("trigger",)
