"""GET /api/v1/journeys/KEY/analytics (scope `read`): the journey page's figures as JSON.

Parameters as on the page (analytics.filters): period, since, until, version. Bad
parameters get 400 with the field and the rule, e.g. {"since": ["Give the first day …"]}.
"""

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from journeys.models import Journey
from triggers.api.authentication import ApiKeyAuthentication
from triggers.api.permissions import HasReadScope

from .exports import report_json
from .figures import journey_report
from .filters import DEFAULT_PERIOD, AnalyticsFilter


class JourneyAnalytics(APIView):
    """A journey's entries, goal and per-step figures for participants who entered in the period."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasReadScope]

    @extend_schema(
        parameters=[
            OpenApiParameter("period", str, enum=["24h", "7d", "30d", "custom"], description="Default 7d."),
            OpenApiParameter("since", str, description="First day of a custom period, YYYY-MM-DD."),
            OpenApiParameter("until", str, description="Last day (included) of a custom period, YYYY-MM-DD."),
            OpenApiParameter("version", int, description="Only this version's participants."),
        ],
        responses={200: dict},
    )
    def get(self, request: Request, key: str) -> Response:
        journey = get_object_or_404(Journey, key=key)
        filters = AnalyticsFilter(request.query_params, journey=journey)
        if not filters.is_valid():
            return Response(filters.error_messages(), status=400)
        report = journey_report(filters.cohort(), timezone.now())
        return Response(report_json(report, filters.form.cleaned_data.get("period") or DEFAULT_PERIOD))
