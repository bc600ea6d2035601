"""Segment-based journeys: members enter in bounded worker batches (placeholder)."""


def on_segment_joined(segment_id: int, contact_ids: list[int]) -> int:
    return 0


def enter_batch(entry_id: int) -> int:
    return 0
