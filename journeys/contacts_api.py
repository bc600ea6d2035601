"""The contacts API: PUT and GET /api/v1/contacts/{id}, POST /api/v1/contacts/batch.

A website (key scope `events:write`) creates or updates its customers without raising a
trigger; a reporting tool (scope `read`) reads one back with its consent and segments.
Validation is the event contact's (triggers.validation.validate_contact); the change is
journeys.contacts.put_contact, which keeps segment membership in the same transaction.
"""

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from triggers.api.errors import error_response
from triggers.api.parsing import read_json_object
from triggers.api.permissions import HasEventsWriteScope, HasReadScope
from triggers.api.serializers import ErrorSerializer, FieldErrorSerializer
from triggers.api.views import ERRORS, IngestView, read_events, take_rate
from triggers.validation import FieldError, _Errors, validate_contact

from .contacts import PutResult, put_contact
from .models import Contact
from .segments import segment_keys

CONTACT_FIELDS = ("email", "phone", "push_token", "first_name", "last_name", "time_zone")


class ContactFieldsSerializer(serializers.Serializer):
    email = serializers.EmailField(required=False)
    phone = serializers.CharField(required=False, help_text="E.164, e.g. +15551234567.")
    push_token = serializers.CharField(required=False)
    first_name = serializers.CharField(required=False)
    last_name = serializers.CharField(required=False)
    time_zone = serializers.CharField(required=False, help_text="IANA name, e.g. Europe/Paris.")
    attributes = serializers.DictField(
        required=False, help_text="Merged into the stored attributes; a key set to null is removed."
    )


class BatchContactSerializer(ContactFieldsSerializer):
    id = serializers.CharField(max_length=255, help_text="Your own id for this customer.")


class StoredContactSerializer(serializers.Serializer):
    id = serializers.CharField(source="external_id")
    email = serializers.CharField()
    phone = serializers.CharField()
    push_token = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    time_zone = serializers.CharField()
    attributes = serializers.DictField()
    consent = serializers.SerializerMethodField()
    segments = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_consent(self, contact: Contact) -> dict[str, dict[str, Any]]:
        return {
            c.channel: {"status": c.status, "source": c.source, "changed_at": c.changed_at.isoformat()}
            for c in contact.consents.order_by("channel")
        }

    def get_segments(self, contact: Contact) -> list[str]:
        return segment_keys(contact)


def validate(external_id: Any, body: Any) -> tuple[dict[str, Any] | None, list[FieldError]]:
    """The contact's fields cleaned, or the errors; `id` in the body must match the path's."""
    errors = _Errors()
    if isinstance(body, dict) and "id" in body and str(body["id"]) != str(external_id):
        errors.add("id", "id_mismatch", "The id in the body differs from the one in the path; leave it out.")
        return None, errors.items
    contact = {**body, "id": external_id} if isinstance(body, dict) else body
    cleaned = validate_contact(contact, errors)
    if cleaned is None:
        return None, [FieldError(e.field.removeprefix("contact."), e.code, e.message) for e in errors.items]
    cleaned.pop("id")
    # validate_contact drops nulls of the text fields; attributes keep theirs (null removes).
    return cleaned, []


class ReadOrWrite(BasePermission):
    """GET needs the `read` scope, PUT `events:write`."""

    def has_permission(self, request: Request, view: Any) -> bool:
        scope = HasReadScope() if request.method in ("GET", "HEAD") else HasEventsWriteScope()
        return scope.has_permission(request, view)


PUT_ANSWER = inline_serializer(
    "ContactPutResult",
    {"id": serializers.CharField(), "created": serializers.BooleanField(), "changed": serializers.BooleanField()},
)


def put_answer(result: PutResult) -> dict[str, Any]:
    return {"id": result.contact.external_id, "created": result.created, "changed": result.changed}


class ContactView(IngestView):
    permission_classes = [ReadOrWrite]

    @extend_schema(
        operation_id="put_contact",
        summary="Create or update a contact",
        request=ContactFieldsSerializer,
        responses={
            200: OpenApiResponse(PUT_ANSWER, "Updated (or unchanged)."),
            201: OpenApiResponse(PUT_ANSWER, "Created."),
            **ERRORS,
        },
        tags=["contacts"],
    )
    def put(self, request: Request, external_id: str) -> Response:
        """Fields given replace the stored ones; attributes are merged (null removes a key).
        Idempotent: repeating a call answers `changed: false`."""
        body = read_json_object(request)
        take_rate(request, 1)
        cleaned, errors = validate(external_id, body)
        if cleaned is None:
            return error_response(
                400, "invalid_contact", "The contact was not saved: fix the fields in errors.", errors
            )
        result = put_contact(str(external_id), cleaned)
        return Response(put_answer(result), status=201 if result.created else 200)

    @extend_schema(
        operation_id="get_contact",
        summary="Read a contact",
        responses={
            200: StoredContactSerializer,
            401: ERRORS[401],
            403: OpenApiResponse(ErrorSerializer, "The key lacks the read scope."),
            404: OpenApiResponse(ErrorSerializer, "No contact with this id."),
        },
        tags=["contacts"],
    )
    def get(self, request: Request, external_id: str) -> Response:
        """Its fields, attributes, consent per channel and the keys of its segments."""
        contact = Contact.objects.filter(external_id=external_id).first()
        if contact is None:
            return error_response(404, "not_found", f"No contact with id {external_id!r}.")
        return Response(StoredContactSerializer(contact).data)


BATCH_RESULT = inline_serializer(
    "ContactBatchResult",
    {
        "saved": serializers.IntegerField(),
        "rejected": serializers.IntegerField(),
        "results": inline_serializer(
            "ContactBatchItem",
            {
                "index": serializers.IntegerField(),
                "id": serializers.CharField(),
                "status": serializers.ChoiceField(["created", "updated", "unchanged", "rejected"]),
                "errors": FieldErrorSerializer(many=True, required=False),
            },
            many=True,
        ),
    },
)


class ContactBatchView(IngestView):
    @extend_schema(
        operation_id="put_contacts_batch",
        summary="Create or update up to 500 contacts",
        request=inline_serializer("ContactBatch", {"contacts": BatchContactSerializer(many=True)}),
        responses={
            200: OpenApiResponse(BATCH_RESULT, "Every contact saved."),
            207: OpenApiResponse(BATCH_RESULT, "Some saved, some rejected: see results."),
            400: OpenApiResponse(
                ErrorSerializer,
                "Malformed body, or every contact rejected: then also `saved`, `rejected` and `results`.",
            ),
            **{k: v for k, v in ERRORS.items() if k != 400},
        },
        tags=["contacts"],
    )
    def post(self, request: Request) -> Response:
        """Each contact is validated and saved on its own: a rejected one keeps none of its
        siblings from being saved."""
        items = read_events(read_json_object(request), "contacts")
        take_rate(request, max(len(items), 1))
        results = [self._one(index, item) for index, item in enumerate(items)]
        rejected = sum(r["status"] == "rejected" for r in results)
        saved = len(results) - rejected
        status = 200 if not rejected else 207 if saved else 400
        body: dict[str, Any] = {"saved": saved, "rejected": rejected, "results": results}
        if status == 400:
            # The error shape every 400 of the API has, with the per-contact results beside it.
            message = f"None of the {rejected} contacts was saved: see errors in results."
            body = {"code": "contacts_rejected", "message": message, **body}
        return Response(body, status=status)

    def _one(self, index: int, item: Any) -> dict[str, Any]:
        external_id = item.get("id") if isinstance(item, dict) else None
        fields = {k: v for k, v in item.items() if k != "id"} if isinstance(item, dict) else item
        if external_id is None or external_id == "":
            cleaned, errors = None, [FieldError("id", "required", "Your own id for this customer is required.")]
        else:
            cleaned, errors = validate(external_id, fields)
        if cleaned is None:
            return {
                "index": index,
                "id": external_id,
                "status": "rejected",
                "errors": [e.as_dict() for e in errors],
            }
        result = put_contact(str(external_id), cleaned)
        status = "created" if result.created else "updated" if result.changed else "unchanged"
        return {"index": index, "id": result.contact.external_id, "status": status}
