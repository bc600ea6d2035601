"""Stable buckets: the same text always lands in the same bucket, on every machine and
release (no stored state). Split paths, A/B variants and the holdout group draw from it;
each names its own text, so the same participant is bucketed independently by each."""

import hashlib


def stable_bucket(text: str, buckets: int) -> int:
    """0 to buckets - 1, from the first 8 bytes of the text's SHA-256 (pure)."""
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:8], "big") % buckets
