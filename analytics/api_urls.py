"""The analytics JSON API, mounted at the site root by config/urls.py."""

from django.urls import path

from . import api

app_name = "analytics-api"

urlpatterns = [
    path("api/v1/journeys/<slug:key>/analytics", api.JourneyAnalytics.as_view(), name="journey"),
]
