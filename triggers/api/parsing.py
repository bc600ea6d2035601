"""Reading a JSON request body within the API's limits, with a 400/413 for every way it fails.

The views read the raw body themselves rather than through DRF's parsers: the limits and the
error messages are part of the API's contract, and a wrong content type is a 400 here.
"""

import gzip
import json
import zlib
from typing import Any

from django.core.exceptions import RequestDataTooBig
from rest_framework.request import Request

from triggers.validation import MAX_JSON_DEPTH, MAX_REQUEST_BYTES, BadNumber, parse_float

from .errors import ApiError


def too_large(message: str) -> ApiError:
    return ApiError(413, "too_large", message)


def read_json_object(request: Request, max_bytes: int = MAX_REQUEST_BYTES) -> dict[str, Any]:
    """The request's body as a JSON object, or an ApiError saying what is wrong with it."""
    limit = f"A request may be at most {max_bytes // 1024} KB."
    content_type = request.content_type.split(";")[0].strip().lower()
    if content_type != "application/json":
        raise ApiError(
            400, "unsupported_content_type", f"Send JSON with 'Content-Type: application/json' (got {content_type!r})."
        )
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > max_bytes:
        raise too_large(limit)
    try:
        raw = request._request.body
    except RequestDataTooBig as error:  # Chunked bodies without Content-Length.
        raise too_large(limit) from error
    if len(raw) > max_bytes:
        raise too_large(limit)
    if request.META.get("HTTP_CONTENT_ENCODING", "").lower() == "gzip":
        raw = _gunzip(raw, max_bytes, limit)
    try:
        # A number with no finite value (1e400, NaN, Infinity) is kept as a BadNumber for
        # validation to refuse in its own event: one bad event never fails a whole batch.
        body = json.loads(raw, parse_float=parse_float, parse_constant=BadNumber)
    except (ValueError, UnicodeDecodeError) as error:
        # ValueError covers JSONDecodeError and integers over Python's 4,300 digits.
        raise ApiError(400, "malformed_json", f"The body is not valid JSON: {error}.") from error
    except RecursionError as error:
        # Nested several hundred levels deep: the parser gives up before any limit is checked.
        raise ApiError(
            400, "too_deep", f"The body nests too deep; an event may nest at most {MAX_JSON_DEPTH} levels."
        ) from error
    if not isinstance(body, dict):
        raise ApiError(400, "not_an_object", "The body must be a JSON object.")
    return body


def _gunzip(raw: bytes, max_bytes: int, limit: str) -> bytes:
    # Decompress at most max_bytes + 1: a small bomb cannot expand into memory.
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = decompressor.decompress(raw, max_bytes + 1)
    except (zlib.error, gzip.BadGzipFile) as error:
        raise ApiError(400, "malformed_body", "The body is not valid gzip.") from error
    if len(data) > max_bytes or decompressor.unconsumed_tail:
        raise too_large(limit)
    return data
