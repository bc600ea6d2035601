from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

# Each app owns its own routes; this file only mounts them.
urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("triggers.urls")),
    path("", include("content.urls")),
    path("", include("journeys.urls")),
    path("analytics/", include("analytics.urls")),
    path("", include("analytics.api_urls")),
]

# JSON 404s under /api/ (triggers.api.errors.not_found); the admin's page elsewhere.
handler404 = "triggers.api.errors.not_found"
