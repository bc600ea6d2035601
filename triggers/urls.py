from django.urls import path

from .api.segment import SegmentBatchView, SegmentIdentifyView, SegmentTrackView
from .api.views import EventBatchView, EventView

app_name = "triggers"

urlpatterns = [
    path("api/v1/events", EventView.as_view(), name="events"),
    path("api/v1/events/batch", EventBatchView.as_view(), name="events-batch"),
    path("api/segment/v1/track", SegmentTrackView.as_view(), name="segment-track"),
    path("api/segment/v1/identify", SegmentIdentifyView.as_view(), name="segment-identify"),
    path("api/segment/v1/batch", SegmentBatchView.as_view(), name="segment-batch"),
]
