from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse

from .bundles import export_bundle
from .consent import OPERATOR_REFUSAL, SOURCE_ADMIN, may_operator_set, set_consent
from .designer.views import JourneyDesigner
from .models import (
    Consent,
    ConsentChange,
    Contact,
    Delivery,
    Interaction,
    Journey,
    JourneyVersion,
    Participant,
    ParticipantHistory,
    SendingPolicy,
    Step,
)
from .segment_admin import ContactImport, SegmentAdmin  # noqa: F401  (registers segments)


class ReadOnlyAdmin(admin.ModelAdmin):
    """History tables: written by the engine only, shown to people, never edited."""

    show_full_result_count = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OperatorConsentForm(forms.ModelForm):
    """A person in the admin records opt-outs and first consents; an opt-out is undone only
    by the contact (journeys.consent.may_operator_set), so that change is a form error."""

    def clean_status(self) -> str:
        status = self.cleaned_data["status"]
        stored = Consent.objects.filter(pk=self.instance.pk).values_list("status", flat=True).first()
        if self.instance.pk and not may_operator_set(stored, status):
            raise forms.ValidationError(OPERATOR_REFUSAL)
        return status


class ConsentInlineForm(OperatorConsentForm):
    class Meta:
        model = Consent
        fields = ("channel", "status")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # A row is the consent on one channel: only its status changes.
            self.fields["channel"].disabled = True


class ConsentInline(admin.TabularInline):
    """A contact's consent per channel. Saved through set_consent by ContactAdmin.save_formset;
    never deleted (an opt-out removed without a trace would let messages resume)."""

    model = Consent
    form = ConsentInlineForm
    extra = 0
    fields = ("channel", "status", "source", "changed_at")
    readonly_fields = ("source", "changed_at")
    can_delete = False


class ConsentHistoryInline(admin.TabularInline):
    """Every consent change of the contact, newest first: who opted out, and how they came back."""

    model = ConsentChange
    extra = 0
    fields = ("at", "channel", "status", "source")
    readonly_fields = fields
    can_delete = False
    verbose_name_plural = "Consent history"

    def has_view_permission(self, request, obj=None):
        # Whoever sees the contact sees its history (no role needs a permission of its own).
        return request.user.has_perm("journeys.view_contact")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Contact)
class ContactAdmin(ContactImport, admin.ModelAdmin):  # type: ignore[misc]
    list_display = ("external_id", "email", "phone", "first_name", "last_name", "time_zone", "updated_at")
    search_fields = ("=external_id", "email", "phone", "last_name")
    readonly_fields = ("created_at", "updated_at")
    inlines = [ConsentInline, ConsentHistoryInline]
    show_full_result_count = False

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        if formset.model is not Consent:
            return super().save_formset(request, form, formset, change)
        # commit=False fills new_objects and changed_objects (the admin's change message and
        # history read them) without writing; set_consent writes.
        formset.save(commit=False)
        changed = [consent for consent, fields in formset.changed_objects if "status" in fields]
        for consent in [*formset.new_objects, *changed]:
            _record_consent(form.instance, consent)
        return None

    def get_deleted_objects(self, objs, request: HttpRequest):
        # Erasing a contact erases their consent rows with them; consent rows cannot be
        # deleted on their own, which must not block deleting the person.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(str(Consent._meta.verbose_name))
        return deleted, counts, perms_needed, protected


def _record_consent(contact: Contact, consent: Consent) -> None:
    """Write a consent chosen in the admin through the one writer, and show what it wrote."""
    saved = set_consent(contact, consent.channel, consent.status, source=SOURCE_ADMIN)
    consent.pk, consent.contact, consent.source, consent.changed_at = saved.pk, contact, saved.source, saved.changed_at


@admin.register(Journey)
class JourneyAdmin(JourneyDesigner, admin.ModelAdmin):
    """Journeys: the list, and the designer (create, settings, canvas, publish, test) in place
    of the plain add and change forms."""

    list_display = ("name", "key", "type", "status", "updated_at")
    list_filter = ("status", "type")
    search_fields = ("name", "key")
    actions = ["export_selected"]

    def get_urls(self):
        # The designer's pages come first: the admin's own patterns end in a catch-all.
        return self.designer_urls() + super().get_urls()

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None) -> HttpResponse:
        return self.designer_add_view(request)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None) -> HttpResponse:
        return self.designer_change_view(request, object_id)

    @admin.action(description="Export selected journeys (JSON bundle)", permissions=["view"])
    def export_selected(self, request: HttpRequest, queryset) -> HttpResponse:
        response = JsonResponse(export_bundle(queryset.values_list("key", flat=True)), json_dumps_params={"indent": 2})
        response["Content-Disposition"] = 'attachment; filename="journeys.json"'
        return response


class DesignerOwned:
    """Versions and their steps (with their conditions and paths) are shown here, never
    changed: the designer's Edit -> draft -> Publish is the one way a journey changes, so
    every publish check applies. A POST to these change, add or delete pages is a 403."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class StepInline(DesignerOwned, admin.TabularInline):
    model = Step
    extra = 0
    fk_name = "version"
    fields = ("key", "kind", "parent", "path", "position", "content", "to", "duration", "until", "trigger", "of_step")
    raw_id_fields = ("parent", "of_step")


@admin.register(JourneyVersion)
class JourneyVersionAdmin(DesignerOwned, admin.ModelAdmin):
    list_display = ("journey", "number", "state", "start_trigger", "repeat", "published_at")
    list_filter = ("state",)
    list_select_related = ("journey", "start_trigger")
    search_fields = ("journey__name", "journey__key")
    filter_horizontal = ("exit_triggers",)
    inlines = [StepInline]


class HistoryInline(admin.TabularInline):
    model = ParticipantHistory
    extra = 0
    fields = ("at", "step_key", "outcome", "detail")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class DeliveryInline(HistoryInline):
    model = Delivery  # type: ignore[assignment]
    fields = ("created_at", "step", "channel", "address", "status", "reason", "sent_at")  # type: ignore[assignment]
    readonly_fields = fields  # type: ignore[assignment]


@admin.register(Participant)
class ParticipantAdmin(ReadOnlyAdmin):
    list_display = ("contact", "journey", "version", "state", "current_step", "wake_at", "entered_at", "goal_met_at")
    list_filter = ("state", "journey")
    list_select_related = ("contact", "journey", "version__journey", "current_step")
    search_fields = ("=contact__external_id", "=binding_id")
    inlines = [HistoryInline, DeliveryInline]


@admin.register(ParticipantHistory)
class ParticipantHistoryAdmin(ReadOnlyAdmin):
    list_display = ("at", "participant", "step_key", "outcome")
    list_filter = ("outcome",)
    list_select_related = ("participant__contact", "participant__journey")
    search_fields = ("=participant__contact__external_id",)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "contact", "channel", "content", "address", "status", "reason", "sent_at")
    list_filter = ("channel", "status")
    list_select_related = ("contact", "content")
    search_fields = ("=contact__external_id", "address", "=provider_message_id")


@admin.register(Interaction)
class InteractionAdmin(ReadOnlyAdmin):
    list_display = ("at", "delivery", "kind", "url")
    list_filter = ("kind",)
    list_select_related = ("delivery",)


@admin.register(SendingPolicy)
class SendingPolicyAdmin(admin.ModelAdmin):
    list_display = ("channel", "cap_count", "cap_window", "quiet_hours_start", "quiet_hours_end")


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    """Consent rows are written by journeys.consent.set_consent only, with source "admin"
    here; who made the change is in the row's admin history."""

    list_display = ("contact", "channel", "status", "source", "changed_at")
    list_filter = ("channel", "status")
    search_fields = ("=contact__external_id", "contact__email")
    list_select_related = ("contact",)
    raw_id_fields = ("contact",)
    fields = ("contact", "channel", "status", "source", "changed_at")
    form = OperatorConsentForm

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> tuple[str, ...]:
        # A row is one contact's consent on one channel: only its status changes.
        return ("contact", "channel", "source", "changed_at") if obj else ("source", "changed_at")

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # An opt-out deleted without a trace would let messages resume: set it to Subscribed instead.
        return False

    def save_model(self, request: HttpRequest, obj: Consent, form, change: bool) -> None:
        if change and "status" not in form.changed_data:
            return  # nothing changed: keep when and where the consent was last given
        _record_consent(obj.contact, obj)


@admin.register(Step)
class StepAdmin(DesignerOwned, admin.ModelAdmin):
    list_display = ("key", "kind", "version", "parent", "path", "position", "content", "duration")
    list_filter = ("kind",)
    search_fields = ("key", "version__journey__key")
    list_select_related = ("version__journey", "parent", "content")
    raw_id_fields = ("version", "parent", "of_step")
