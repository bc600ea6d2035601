"""Public pages of the content app: the designer's uploaded images, for mail clients."""

from uuid import UUID

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from .images import EXTENSIONS
from .models import DesignImage


@require_GET
def design_image(request: HttpRequest, key: UUID, ext: str) -> HttpResponse:
    image = DesignImage.objects.filter(key=key).only("content_type", "data").first()
    if image is None or EXTENSIONS.get(image.content_type) != ext:
        raise Http404("No such image.")
    response = HttpResponse(bytes(image.data), content_type=image.content_type)
    # An image never changes under its key: mail clients and proxies may keep it.
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response
