"""Images uploaded in the designer: only PNG, JPEG, GIF and WebP (recognised by their first
bytes, never by the name or the browser's word; no SVG, which can carry scripts), at most 2 MB."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.urls import reverse

from .models import DesignImage

MAX_IMAGE_BYTES = 2 * 1024 * 1024
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}


def sniff_image(data: bytes) -> str | None:
    """The image's content type from its signature, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def store_image(upload: UploadedFile) -> DesignImage:
    """Keep an uploaded image; raises ValidationError saying what is wrong with it."""
    if upload.size is not None and upload.size > MAX_IMAGE_BYTES:
        raise ValidationError(f"The image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB.")
    data = upload.read(MAX_IMAGE_BYTES + 1)
    if len(data) > MAX_IMAGE_BYTES:
        raise ValidationError(f"The image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB.")
    content_type = sniff_image(data)
    if content_type is None:
        raise ValidationError("Upload a PNG, JPEG, GIF or WebP image.")
    return DesignImage.objects.create(
        name=(upload.name or "")[:200], content_type=content_type, data=data, size=len(data)
    )


def image_url(image: DesignImage) -> str:
    """The absolute address mail clients load the image from."""
    path = reverse("content:design-image", kwargs={"key": image.key, "ext": EXTENSIONS[image.content_type]})
    return f"{settings.SITE_URL}{path}"
