"""Read API: what journeys did to whom, for the website team and for tests.

GET /api/v1/participants/?journey=KEY&contact=ID (scope `read`), paginated as
{"count", "next", "previous", "results"}.
"""

from datetime import datetime
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.exceptions import ValidationError as ParameterError
from rest_framework.generics import ListAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

from triggers.api.authentication import ApiKeyAuthentication
from triggers.api.errors import api_exception_handler
from triggers.api.permissions import HasReadScope
from triggers.api.serializers import ErrorSerializer
from triggers.validation import TIMESTAMP_RULE, parse_timestamp

from .models import Delivery, Participant, ParticipantHistory, ParticipantState


class HistorySerializer(serializers.ModelSerializer):
    step = serializers.CharField(source="step_key")
    variant = serializers.SerializerMethodField()

    class Meta:
        model = ParticipantHistory
        fields = ["step", "outcome", "at", "variant"]

    def get_variant(self, row: ParticipantHistory) -> str | None:
        """The variant an A/B test step sent the participant down (null on other rows)."""
        return row.detail.get("variant") if isinstance(row.detail, dict) else None


class DeliverySerializer(serializers.ModelSerializer):
    step = serializers.CharField(source="step.key")
    reason = serializers.SerializerMethodField()
    at = serializers.DateTimeField(source="created_at")

    class Meta:
        model = Delivery
        fields = ["step", "channel", "status", "reason", "at", "sent_at", "response_code"]

    def get_reason(self, delivery: Delivery) -> str | None:
        return delivery.reason or None


class ParticipantSerializer(serializers.ModelSerializer):
    journey = serializers.CharField(source="journey.key")
    version = serializers.IntegerField(source="version.number")
    contact = serializers.CharField(source="contact.external_id")
    current_step = serializers.SerializerMethodField()
    goal_met = serializers.BooleanField()
    history = HistorySerializer(many=True)
    deliveries = DeliverySerializer(many=True)

    class Meta:
        model = Participant
        fields = [
            "journey",
            "version",
            "contact",
            "binding_id",
            "state",
            "group",
            "current_step",
            "goal_met",
            "entered_at",
            "finished_at",
            "exit_reason",
            "history",
            "deliveries",
        ]

    def get_current_step(self, participant: Participant) -> str | None:
        if participant.state != ParticipantState.ACTIVE or participant.current_step is None:
            return None
        return participant.current_step.key


class BoundedDateTimeField(forms.CharField):
    """An ISO 8601 date and time within the bounds every store reads back (years 1900-2999,
    offsets within ±15:59): the rule of the ingest API's timestamps."""

    def to_python(self, value: Any) -> datetime | None:  # type: ignore[override]
        text = super().to_python(value)
        if text in self.empty_values:
            return None
        parsed = parse_timestamp(text)
        if parsed is None:
            raise ValidationError(TIMESTAMP_RULE, code="invalid_datetime")
        return parsed


class BoundedDateTimeFilter(django_filters.Filter):
    field_class = BoundedDateTimeField


class ParticipantFilterForm(forms.Form):
    def clean(self) -> dict:
        data = super().clean() or {}
        for name in self.fields:
            if self.data.get(name) == "":
                # An empty parameter is a client's bug (a blank variable), not "no filter".
                self.add_error(name, "Leave the parameter out, or give it a value.")
        return data


class ParticipantFilter(django_filters.FilterSet):
    journey = django_filters.CharFilter(field_name="journey__key", help_text="Journey key.")
    contact = django_filters.CharFilter(field_name="contact__external_id", help_text="The website's contact id.")
    state = django_filters.ChoiceFilter(choices=ParticipantState.choices)
    binding_id = django_filters.CharFilter()
    entered_after = BoundedDateTimeFilter(
        field_name="entered_at", lookup_expr="gte", help_text="ISO 8601, years 1900-2999, offset within ±15:59."
    )

    class Meta:
        model = Participant
        fields = ["journey", "contact", "state", "binding_id", "entered_after"]
        form = ParticipantFilterForm


class ParticipantPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_number(self, request: Request, paginator: Any) -> int | str:
        raw = request.query_params.get(self.page_query_param)
        if raw is not None and not (raw.isascii() and raw.isdigit() and int(raw) >= 1) and raw != "last":
            raise ParameterError({self.page_query_param: ["A page number from 1 (or last)."]})
        return super().get_page_number(request, paginator)

    def get_page_size(self, request: Request) -> int:
        # DRF falls back to the default on a page_size it cannot read; a client asking for
        # `page_size=abc` has a bug, so it is told (400) rather than silently given 50.
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None and not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= self.max_page_size):
            raise ParameterError({"page_size": [f"A whole number from 1 to {self.max_page_size}."]})
        return super().get_page_size(request)


@extend_schema_view(
    get=extend_schema(
        operation_id="list_participants",
        tags=["participants"],
        responses={
            200: ParticipantSerializer(many=True),
            400: OpenApiResponse(ErrorSerializer, "A parameter is invalid; `errors` names it."),
            401: OpenApiResponse(ErrorSerializer, "Missing, unknown or revoked API key."),
            403: OpenApiResponse(ErrorSerializer, "The key lacks the read scope."),
            404: OpenApiResponse(ErrorSerializer, "No such page."),
        },
    )
)
class ParticipantList(ListAPIView):
    """Participants with their step history and deliveries, newest first."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasReadScope]
    serializer_class = ParticipantSerializer

    def get_exception_handler(self):
        return api_exception_handler  # {"code", "message", "errors"} like every API answer

    filterset_class = ParticipantFilter
    pagination_class = ParticipantPagination
    queryset = (
        Participant.objects.select_related("journey", "version", "contact", "current_step")
        .prefetch_related(
            Prefetch("history", queryset=ParticipantHistory.objects.order_by("at", "pk")),
            Prefetch("deliveries", queryset=Delivery.objects.select_related("step").order_by("created_at", "pk")),
        )
        .order_by("-entered_at", "-pk")
    )
