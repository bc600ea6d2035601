"""GET /api/v1/journeys/KEY/analytics (scope `read`): the journey page's figures as JSON.

Parameters as on the page (analytics.filters): period, since, until, version. Bad
parameters get 400 in the API's error shape, each parameter and its rule in `errors`:
{"code": "invalid_parameters", "message": …, "errors": [{"field": "since", "code": "invalid", "message": …}]}.
"""

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from journeys.models import Journey
from triggers.api.authentication import ApiKeyAuthentication
from triggers.api.errors import api_exception_handler, error_response
from triggers.api.permissions import HasReadScope
from triggers.api.serializers import ErrorSerializer
from triggers.validation import FieldError

from .exports import report_json
from .figures import journey_report
from .filters import DEFAULT_PERIOD, AnalyticsFilter

PARAMETERS = ("period", "since", "until", "version")


class JourneyAnalytics(APIView):
    """A journey's entries, goal and per-step figures for participants who entered in the period."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasReadScope]

    def get_exception_handler(self):
        return api_exception_handler  # {"code", "message"} like every API answer

    @extend_schema(
        parameters=[
            OpenApiParameter("period", str, enum=["24h", "7d", "30d", "custom"], description="Default 7d."),
            OpenApiParameter("since", str, description="First day of a custom period, YYYY-MM-DD."),
            OpenApiParameter("until", str, description="Last day (included) of a custom period, YYYY-MM-DD."),
            OpenApiParameter("version", int, description="Only this version's participants."),
        ],
        responses={
            200: OpenApiResponse(description="The journey's figures (docs/api.md)."),
            400: OpenApiResponse(ErrorSerializer, "A parameter is invalid; `errors` names it."),
            401: OpenApiResponse(ErrorSerializer, "Missing, unknown or revoked API key."),
            403: OpenApiResponse(ErrorSerializer, "The key lacks the read scope."),
            404: OpenApiResponse(ErrorSerializer, "No journey has this key."),
        },
        operation_id="journey_analytics",
        tags=["analytics"],
    )
    def get(self, request: Request, key: str) -> Response:
        journey = Journey.objects.filter(key=key).first()
        if journey is None:
            return error_response(404, "not_found", "No journey has this key.")
        filters = AnalyticsFilter(request.query_params, journey=journey)
        blank = [name for name in PARAMETERS if request.query_params.get(name) == ""]
        if blank:
            # The page's form sends empty fields; an API client sending one has a bug.
            errors = [FieldError(name, "blank", "Leave the parameter out, or give it a value.") for name in blank]
            return error_response(400, "invalid_parameters", "Fix the parameters listed in errors.", errors)
        if not filters.is_valid():
            errors = [
                FieldError(name, "invalid", message)
                for name, messages in filters.error_messages().items()
                for message in messages
            ]
            return error_response(400, "invalid_parameters", "Fix the parameters listed in errors.", errors)
        report = journey_report(filters.cohort(), timezone.now())
        return Response(report_json(report, filters.form.cleaned_data.get("period") or DEFAULT_PERIOD))
