"""Buckets are a promise kept across releases: a contact stays in its holdout group and a
participant on its split path after an upgrade. These pin the values."""

from journeys.buckets import stable_bucket
from journeys.holdout import in_holdout
from journeys.steps.paths import split_bucket


def test_the_same_text_lands_in_the_same_bucket_on_every_release():
    assert stable_bucket("42:split-1", 100) == split_bucket(42, "split-1")
    assert [split_bucket(n, "split-1") for n in range(1, 9)] == PINNED_SPLIT
    assert [n for n in range(40) if in_holdout("abandoned-cart", f"c{n}", 10)] == PINNED_HOLDOUT


# Computed with the formulas as they were first released (SHA-256 of the text, first 8 bytes).
PINNED_SPLIT = [21, 14, 75, 53, 76, 9, 31, 4]
PINNED_HOLDOUT = [10, 25, 29, 31]
