"""POST /api/v1/events and /api/v1/events/batch: websites raise triggers.

Thin views: read the body within the limits, check the key's rate, call `triggers.ingest`,
and turn its per-event results into HTTP answers. See docs/api.md.
"""

from collections.abc import Sequence
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import APIException
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from triggers.caching import current_token, defer_token_check, pending_token, shared_client, token_checked
from triggers.ingest import RateLimited, Result, StaleKey, check_rate, ingest
from triggers.validation import MAX_BATCH_EVENTS

from .authentication import ApiKeyAuthentication, event_source
from .errors import ApiError, api_exception_handler, error_response
from .parsing import read_json_object
from .permissions import HasEventsWriteScope
from .serializers import (
    AcceptedSerializer,
    BatchResultSerializer,
    BatchSerializer,
    ErrorSerializer,
    EventSerializer,
)

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, "Malformed body or invalid event; `errors` names each field."),
    401: OpenApiResponse(ErrorSerializer, "Missing, unknown or revoked API key."),
    403: OpenApiResponse(ErrorSerializer, "The key lacks the events:write scope."),
    409: OpenApiResponse(ErrorSerializer, "The event_id was already stored with a different body."),
    413: OpenApiResponse(ErrorSerializer, "Over 32 KB per event, 512 KB per request or 500 events per batch."),
    429: OpenApiResponse(ErrorSerializer, "Rate or daily quota reached; see the Retry-After header."),
}


class IngestView(APIView):
    """Base of the ingest endpoints: API key auth, the events:write scope, one error shape.

    The key may come from the process's cache unchecked (triggers.caching): `take_rate`
    checks it in the rate limit's round trip, and an answer given before that (a malformed
    body, a refused scope) checks it first, so a revoked or changed key is never answered
    for as if it were current.
    """

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasEventsWriteScope]
    # The views read the body themselves (triggers.api.parsing); this tells the OpenAPI
    # schema the one content type they take, so it advertises no form or multipart bodies.
    parser_classes = [JSONParser]

    def get_exception_handler(self):
        return api_exception_handler

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        defer_token_check()
        super().initial(request, *args, **kwargs)

    def permission_denied(self, request: Request, message: str | None = None, code: str | None = None) -> None:
        if check_deferred_key(request) and all(p.has_permission(request, self) for p in self.get_permissions()):
            return  # The key was stale; as loaded now, it may.
        super().permission_denied(request, message, code)

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[JSONRenderer, str]:
        # What websites send (no Accept, */* or JSON) is answered in JSON without DRF's
        # negotiation, which parses the header against every renderer on every request
        # (~5 % of a single event's CPU); anything else is negotiated as before.
        if request.META.get("HTTP_ACCEPT", "*/*") in ("*/*", "application/json"):
            return JSONRenderer(), JSONRenderer.media_type
        return super().perform_content_negotiation(request, force)

    def handle_exception(self, exc: Exception) -> Response:
        if pending_token() is not None:
            try:
                check_deferred_key(self.request)
            except APIException as refused:  # Revoked or changed meanwhile: that is the answer.
                exc = refused
        if isinstance(exc, RateLimited):
            return rate_limited_response(exc)
        return super().handle_exception(exc)


def check_deferred_key(request: Request) -> bool:
    """Check the request's unchecked key against the token now; True if it was loaded again.
    Raises AuthenticationFailed or PermissionDenied if the key, as it is now, is refused."""
    client = shared_client()
    if pending_token() is None or client is None:
        return False
    if token_checked(current_token(client)):
        return False
    reauthenticate(request)
    return True


def reauthenticate(request: Request) -> None:
    """Load the request's key again (it changed since this process cached it) and check it."""
    request._authenticate()  # DRF's own step: sets request.user and request.auth, or raises 401.
    view = request.parser_context["view"]
    view.check_permissions(request)


def take_rate(request: Request, cost: int) -> None:
    """`check_rate` for the ingest views: a stale key is loaded again and checked (revoked:
    401, scope: 403), then charged unless its stale copy's limits already let the events in."""
    try:
        check_rate(request.auth, cost)
    except StaleKey as stale:
        reauthenticate(request)
        if not stale.charged:
            check_rate(request.auth, cost)


def rate_limited_response(exc: RateLimited) -> Response:
    key = exc.api_key
    if exc.cost > key.burst:
        message = f"{exc.cost} events in one request exceed this key's burst of {key.burst}; send smaller batches."
    else:
        message = (
            f"Rate limit of {key.rate_per_second} events per second (burst {key.burst}) reached; nothing was stored."
        )
    return error_response(429, "rate_limited", message, headers={"Retry-After": str(exc.retry_after)})


def single_response(result: Result) -> Response:
    """The answer of POST /api/v1/events for its one event."""
    if result.status in ("accepted", "duplicate"):
        return Response(
            {"id": result.id, "event_id": result.event_id, "duplicate": result.status == "duplicate"}, status=202
        )
    if result.status == "conflict":
        return error_response(
            409, "event_id_conflict", "The event was not stored: its event_id is taken.", result.errors, id=result.id
        )
    if result.code == "daily_quota_exceeded":
        return error_response(
            429,
            "daily_quota_exceeded",
            result.errors[0].message,
            result.errors,
            headers={"Retry-After": str(result.retry_after)},
        )
    if [error.code for error in result.errors] == ["too_large"]:
        return error_response(413, "too_large", result.errors[0].message)
    return error_response(
        400, "invalid_event", "The event was not stored: fix the fields listed in errors.", result.errors
    )


def batch_response(results: Sequence[Result], success_status: int = 202) -> Response:
    """Per-index results. 202: all stored; 207: some stored, some not; 4xx: none stored."""
    stored = sum(r.status in ("accepted", "duplicate") for r in results)
    failed = [r for r in results if r.status in ("rejected", "conflict")]
    body: dict[str, Any] = {
        "accepted": sum(r.status == "accepted" for r in results),
        "duplicates": sum(r.status == "duplicate" for r in results),
        "rejected": len(failed),
        "results": [result.as_dict(index) for index, result in enumerate(results)],
    }
    if failed:
        # Also for Segment's libraries, which log an error answer's `code` and `message`.
        body = {
            "code": "events_rejected",
            "message": f"{len(failed)} of {len(results)} events were not stored: see errors in results.",
            **body,
        }
    retry_after = max((r.retry_after for r in failed), default=0)
    headers = {"Retry-After": str(retry_after)} if retry_after else {}
    if not failed:
        status = success_status
    elif stored:
        status = 207
    elif all(r.code == "daily_quota_exceeded" for r in failed):
        status = 429
    elif all(r.status == "conflict" for r in failed):
        status = 409
    else:
        status = 400
    return Response(body, status=status, headers=headers)


def read_events(body: dict[str, Any], key: str) -> list[Any]:
    """The list of events of a batch body, within the batch limit."""
    events = body.get(key)
    if not isinstance(events, list):
        raise ApiError(400, "invalid_batch", f"Expected {{{key!r}: [ … ]}} with a list of events.")
    if len(events) > MAX_BATCH_EVENTS:
        raise ApiError(413, "too_large", f"A batch may hold at most {MAX_BATCH_EVENTS} events, got {len(events)}.")
    return events


class EventView(IngestView):
    @extend_schema(
        operation_id="raise_trigger",
        summary="Raise a trigger for a contact",
        request=EventSerializer,
        responses={
            202: AcceptedSerializer,
            **ERRORS,
        },
        tags=["events"],
    )
    def post(self, request: Request) -> Response:
        """Store one event once it is valid; a repeated event_id is answered as a duplicate."""
        body = read_json_object(request)
        take_rate(request, 1)
        [result] = ingest(event_source(request.auth), [body])
        return single_response(result)


class EventBatchView(IngestView):
    @extend_schema(
        operation_id="raise_triggers_batch",
        summary="Raise up to 500 triggers at once",
        request=BatchSerializer,
        responses={
            202: BatchResultSerializer,
            207: OpenApiResponse(BatchResultSerializer, "Some events were stored, others not: see results."),
            **ERRORS,
        },
        tags=["events"],
    )
    def post(self, request: Request) -> Response:
        """Validate each event on its own; store the valid ones; answer per index."""
        events = read_events(read_json_object(request), "events")
        take_rate(request, max(len(events), 1))
        return batch_response(ingest(event_source(request.auth), events))
