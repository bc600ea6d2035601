from datetime import timedelta

import pytest

from journeys.conditions import evaluate
from journeys.durations import DurationError, describe_duration, format_duration, parse_duration, parse_wait

ATTRS = {
    "cart_total": 80.5,
    "cart": {"currency": "EUR", "items": 3, "skus": ["A1", "B2"]},
    "name": "Winter Sale",
    "flag": True,
    "at": "2026-11-28T12:00:00Z",
}


@pytest.mark.parametrize(
    ("attribute", "operator", "value", "expected"),
    [
        ("cart_total", ">", 50, True),
        ("cart_total", ">", 80.5, False),
        ("cart_total", ">=", 80.5, True),
        ("cart_total", "<", 100, True),
        ("cart_total", "<=", 80, False),
        ("cart_total", "=", 80.5, True),
        ("cart_total", "!=", 80.5, False),
        ("cart_total", ">", "50", False),
        ("cart.currency", "=", "EUR", True),
        ("cart.currency", "in", ["USD", "EUR"], True),
        ("cart.currency", "not_in", ["USD", "EUR"], False),
        ("cart.skus", "contains", "B2", True),
        ("cart.skus", "not_contains", "C3", True),
        ("name", "contains", "sale", True),
        ("name", "starts_with", "winter", True),
        ("name", "not_contains", "Summer", True),
        ("flag", "=", True, True),
        ("flag", "=", 1, False),
        ("cart", "exists", None, True),
        ("cart.coupon", "exists", None, False),
        ("cart.coupon", "not_exists", None, True),
        ("cart.coupon", "!=", "X", False),
        ("at", "before", "2026-12-01T00:00:00+00:00", True),
        ("at", "after", "2026-12-01T00:00:00+00:00", False),
        ("at", "=", "2026-11-28T13:00:00+01:00", True),
    ],
)
def test_operators(attribute, operator, value, expected):
    assert evaluate({"attribute": attribute, "operator": operator, "value": value}, ATTRS) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("2w", timedelta(weeks=2)),
        ("P1D", timedelta(days=1)),
        ("PT90M", timedelta(minutes=90)),
        ("P1DT12H", timedelta(days=1, hours=12)),
    ],
)
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "1y", "P", "PT", "-1d", "one day", "1.5h"])
def test_bad_durations_are_refused(text):
    with pytest.raises(DurationError):
        parse_duration(text)


def test_waits_are_positive_and_at_most_90_days():
    assert parse_wait("90d") == timedelta(days=90)
    with pytest.raises(DurationError, match="90-day limit"):
        parse_wait("13w")
    with pytest.raises(DurationError, match="longer than zero"):
        parse_wait("0s")


def test_durations_are_written_in_their_shortest_exact_form():
    assert format_duration(timedelta(hours=24)) == "1d"
    assert format_duration(timedelta(hours=36)) == "36h"
    assert format_duration(timedelta(seconds=90)) == "90s"
    assert describe_duration(timedelta(days=1)) == "1 day"
    assert describe_duration(timedelta(hours=36)) == "36 hours"
