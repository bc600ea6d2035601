"""Segment-compatible endpoints: POST /api/segment/v1/track, /v1/identify and /v1/batch.

Authenticated with the write key (an API key with the events:write scope) as the HTTP Basic
user name, as Segment's libraries send it. Answers are those of /api/v1/events, with 200.
"""

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from triggers.ingest import Result, ingest
from triggers.schemas import load_schemas
from triggers.segment import IDENTIFY_TRIGGER, event_names, in_segment_words, to_event

from .authentication import ApiKeyAuthentication, SegmentWriteKeyAuthentication, event_source
from .parsing import read_json_object
from .serializers import BatchResultSerializer, SegmentBatchSerializer, SegmentMessageSerializer
from .views import ERRORS, IngestView, batch_response, read_events, single_response, take_rate


def ingest_segment(request: Request, messages: list[Any], default_type: str) -> list[Result]:
    """Map Segment messages to events, ingest them, and speak Segment's field names in errors."""
    take_rate(request, max(len(messages), 1))
    schemas = load_schemas([IDENTIFY_TRIGGER], names=event_names(messages, default_type))
    mapped = [to_event(message, schemas, default_type) for message in messages]
    wanted = [m for m in mapped if m.payload is not None]
    stored = iter(
        ingest(
            event_source(request.auth),
            [m.payload for m in wanted],
            schemas=schemas,
            builtin_allowed=[m.builtin for m in wanted],
        )
    )
    results = []
    for m in mapped:
        if m.error is not None:
            results.append(Result("rejected", errors=[m.error]))
            continue
        if m.payload is None:
            results.append(Result("ignored"))
            continue
        result = next(stored)
        result.errors = [in_segment_words(error) for error in result.errors]
        results.append(result)
    return results


class SegmentView(IngestView):
    authentication_classes = [SegmentWriteKeyAuthentication, ApiKeyAuthentication]
    default_type = "track"

    def post(self, request: Request) -> Response:
        [result] = ingest_segment(request, [read_json_object(request)], self.default_type)
        response = single_response(result)
        if response.status_code == 202:
            response.status_code = 200  # Segment's API answers 200.
            response.data = {"success": True, **response.data}
        return response


SEGMENT_RESPONSES = {200: OpenApiResponse(description="Stored (or a duplicate)."), **ERRORS}


class SegmentTrackView(SegmentView):
    default_type = "track"

    @extend_schema(
        operation_id="segment_track", request=SegmentMessageSerializer, responses=SEGMENT_RESPONSES, tags=["segment"]
    )
    def post(self, request: Request) -> Response:
        """Segment `track`: `event` names the trigger."""
        return super().post(request)


class SegmentIdentifyView(SegmentView):
    default_type = "identify"

    @extend_schema(
        operation_id="segment_identify", request=SegmentMessageSerializer, responses=SEGMENT_RESPONSES, tags=["segment"]
    )
    def post(self, request: Request) -> Response:
        """Segment `identify`: stored as an event of the built-in `identify` trigger."""
        return super().post(request)


class SegmentBatchView(IngestView):
    authentication_classes = [SegmentWriteKeyAuthentication, ApiKeyAuthentication]

    @extend_schema(
        operation_id="segment_batch",
        request=SegmentBatchSerializer,
        responses={200: BatchResultSerializer, 207: BatchResultSerializer, **ERRORS},
        tags=["segment"],
    )
    def post(self, request: Request) -> Response:
        """Segment `batch` (what the libraries send): track and identify calls; others are ignored."""
        messages = read_events(read_json_object(request), "batch")
        return batch_response(ingest_segment(request, messages, "track"), success_status=200)
