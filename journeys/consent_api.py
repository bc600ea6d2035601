"""POST /api/v1/contacts/{id}/consent: the contact's own consent, sent by the website.

This is how a contact who unsubscribed comes back (the admin may not do it for them): a new
opt-in, e.g. from the shop's sign-up form, recorded with its source as "api: <source>". The
website's key (scope `events:write`) sends it; `{id}` is the website's own contact id.
"""

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from content.models import Channel
from triggers.api.errors import ApiError
from triggers.api.parsing import read_json_object
from triggers.api.serializers import ErrorSerializer
from triggers.api.views import IngestView, take_rate
from triggers.validation import FieldError, find_unstorable

from .consent import SOURCE_API, set_consent
from .models import ConsentStatus, Contact

MAX_SOURCE_LENGTH = 100 - len(SOURCE_API) - 2


class ConsentRequestSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Channel.choices)
    status = serializers.ChoiceField(choices=ConsentStatus.choices, default=ConsentStatus.SUBSCRIBED)
    source = serializers.CharField(
        max_length=MAX_SOURCE_LENGTH, help_text="Where the contact gave it, e.g. sign-up form, preference page."
    )


class ConsentAnswerSerializer(serializers.Serializer):
    contact = serializers.CharField()
    channel = serializers.CharField()
    status = serializers.CharField()
    source = serializers.CharField()
    changed_at = serializers.DateTimeField()


def _clean(body: dict[str, Any]) -> tuple[str, str, str]:
    errors: list[FieldError] = []
    unstorable = find_unstorable(body)
    if unstorable is not None:
        raise ApiError(400, "invalid_consent", "Fix the fields listed in errors.", [unstorable])
    for name in body:
        if name not in ("channel", "status", "source"):
            errors.append(FieldError(name, "unknown_field", "Unknown field; send channel, status and source."))
    channel, status, source = body.get("channel"), body.get("status", ConsentStatus.SUBSCRIBED), body.get("source")
    if channel not in Channel.values:
        errors.append(FieldError("channel", "invalid_choice", f"One of {', '.join(Channel.values)}."))
    if status not in ConsentStatus.values:
        errors.append(FieldError("status", "invalid_choice", f"One of {', '.join(ConsentStatus.values)}."))
    if not isinstance(source, str) or not source.strip():
        errors.append(FieldError("source", "required", "Where the contact gave it, e.g. sign-up form."))
    elif len(source) > MAX_SOURCE_LENGTH:
        errors.append(FieldError("source", "too_long", f"At most {MAX_SOURCE_LENGTH} characters."))
    if errors:
        raise ApiError(400, "invalid_consent", "Fix the fields listed in errors.", errors)
    return channel, status, source.strip()  # type: ignore[return-value,union-attr]


class ContactConsentView(IngestView):
    @extend_schema(
        operation_id="set_contact_consent",
        summary="Record a contact's own consent (a new opt-in undoes an opt-out)",
        request=ConsentRequestSerializer,
        responses={
            200: ConsentAnswerSerializer,
            400: OpenApiResponse(ErrorSerializer, "Invalid body; `errors` names each field."),
            401: OpenApiResponse(ErrorSerializer, "Missing, unknown or revoked API key."),
            403: OpenApiResponse(ErrorSerializer, "The key lacks the events:write scope."),
            404: OpenApiResponse(ErrorSerializer, "No contact has this id."),
            429: OpenApiResponse(ErrorSerializer, "Rate limit reached; see the Retry-After header."),
        },
        tags=["contacts"],
    )
    def post(self, request: Request, contact_id: str) -> Response:
        """Record the consent the contact gave on one channel, with where they gave it."""
        channel, status, source = _clean(read_json_object(request))
        take_rate(request, 1)
        contact = (
            Contact.objects.filter(external_id=contact_id).first() if find_unstorable(contact_id) is None else None
        )
        if contact is None:
            raise ApiError(404, "not_found", "No contact has this id; raise a trigger for them first.")
        consent = set_consent(contact, channel, status, source=f"{SOURCE_API}: {source}")
        return Response(
            {
                "contact": contact.external_id,
                "channel": consent.channel,
                "status": consent.status,
                "source": consent.source,
                "changed_at": consent.changed_at,
            }
        )
