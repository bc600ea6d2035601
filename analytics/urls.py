"""Pages under /analytics/ (config/urls.py mounts them); the JSON API is in api_urls."""

from django.urls import path

from . import views

app_name = "analytics"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("journeys/<slug:key>/", views.journey_page, name="journey"),
    path("journeys/<slug:key>/steps.csv", views.steps_csv, name="steps-csv"),
    path("journeys/<slug:key>/messages.csv", views.messages_csv, name="messages-csv"),
]
