"""One error shape for every answer that is not a success (documented in docs/api.md):

    {"code": "invalid_event", "message": "…", "errors": [{"field": "…", "code": "…", "message": "…"}]}

`errors` lists per-field problems when there are any.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from triggers.validation import FieldError


class ApiError(Exception):
    """Raised by the request-reading helpers; turned into an error response by the views."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        errors: Iterable[FieldError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.errors = list(errors)
        self.headers = dict(headers or {})

    def response(self) -> Response:
        return error_response(self.status_code, self.code, self.message, self.errors, self.headers)


def error_response(
    status_code: int,
    code: str,
    message: str,
    errors: Iterable[FieldError] = (),
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {"code": code, "message": message, **extra}
    field_errors = [error.as_dict() for error in errors]
    if field_errors:
        body["errors"] = field_errors
    return Response(body, status=status_code, headers=dict(headers or {}))


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's own errors (401, 403, 405 …) in the same shape as ours."""
    if isinstance(exc, ApiError):
        return exc.response()
    if isinstance(exc, (OperationalError, InterfaceError)):
        # The database went away (a restart, a failover, a connection it closed). Django drops
        # the broken connection when this request ends and the next one reconnects. Whether
        # the INSERT committed is unknown, so the website retries with the same event_id: a
        # stored event then answers 202 as a duplicate, a lost one is stored.
        return error_response(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "service_unavailable",
            "The event store is unavailable for a moment. Retry with the same event_id.",
            headers={"Retry-After": "1"},
        )
    response = exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, exceptions.ValidationError) and isinstance(exc.detail, dict):
        # Query parameters a filter refused (the read APIs): each in `errors`, by name.
        errors = [
            FieldError(str(name), getattr(message, "code", "invalid") or "invalid", str(message))
            for name, messages in exc.detail.items()
            for message in (messages if isinstance(messages, list) else [messages])
        ]
        return error_response(
            response.status_code, "invalid_parameters", "Fix the parameters listed in errors.", errors
        )
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    codes = exc.get_codes()
    code = codes if isinstance(codes, str) else exc.default_code
    if response.status_code == status.HTTP_401_UNAUTHORIZED and code == "not_authenticated":
        detail = "Authentication required: send your API key as 'Authorization: Bearer <key>'."
    response.data = {"code": code, "message": detail}
    return response


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The project's 404 (config.urls.handler404): JSON in the API's shape under /api/, the
    admin's page elsewhere. A path no route matches is still an API answer for an API client."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "not_found", "message": "No such resource."}, status=404)
    return page_not_found(request, exception)
