from django.contrib import admin

from .models import Content, Email, PushNotification, TextMessage

COMMON_FIELDS = ("name", "key", "status", "purpose", "description")


class ChannelContentAdmin(admin.ModelAdmin):
    list_display = ("name", "key", "status", "purpose", "updated_at")
    list_filter = ("status", "purpose")
    search_fields = ("name", "key")
    prepopulated_fields = {"key": ("name",)}
    readonly_fields = ("created_at", "updated_at")


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
