"""The holdout group's lift: goal rates of the treatment and holdout groups, their
difference and its 95 % confidence interval (pure functions, no database).

The interval is **Newcombe's hybrid score interval** for a difference of two independent
proportions (Newcombe 1998, "Interval estimation for the difference between independent
proportions", method 10): each rate's Wilson score interval, combined. Unlike the Wald
interval (p1 - p2 ± z·√(p1q1/n1 + p2q2/n2), also given here for reference), it stays inside
[-1, 1] and keeps its coverage for small groups and rates near 0 or 1, which a holdout of a
few percent of a small journey is. Newcombe's example 56/70 vs 48/80 gives 0.2000 with
[0.0524, 0.3339] (Wald: [0.0575, 0.3425]); tests/analytics/test_lift.py checks both.
"""

from dataclasses import dataclass
from math import sqrt

Z95 = 1.959963984540054  # two-sided 95 %


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval for a proportion (0, 1 for an empty group)."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> tuple[float, float, float]:
    """p1 - p2 and its hybrid score interval (Newcombe's method 10)."""
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, z)
    l2, u2 = wilson(x2, n2, z)
    difference = p1 - p2
    low = difference - sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = difference + sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return difference, low, high


def wald(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> tuple[float, float, float]:
    """p1 - p2 and the Wald interval (for reference; `newcombe` is the one shown)."""
    p1, p2 = x1 / n1, x2 / n2
    half = z * sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return p1 - p2, p1 - p2 - half, p1 - p2 + half


@dataclass(frozen=True)
class Lift:
    """Goal figures per group and the lift of treatment over holdout (rates as fractions)."""

    treatment_entered: int
    treatment_goal_met: int
    holdout_entered: int
    holdout_goal_met: int
    method: str = "newcombe"

    @property
    def measurable(self) -> bool:
        return self.treatment_entered > 0 and self.holdout_entered > 0

    @property
    def treatment_rate(self) -> float | None:
        return self.treatment_goal_met / self.treatment_entered if self.treatment_entered else None

    @property
    def holdout_rate(self) -> float | None:
        return self.holdout_goal_met / self.holdout_entered if self.holdout_entered else None

    def _interval(self) -> tuple[float, float, float] | None:
        if not self.measurable:
            return None
        return newcombe(self.treatment_goal_met, self.treatment_entered, self.holdout_goal_met, self.holdout_entered)

    @property
    def difference(self) -> float | None:
        """Treatment rate - holdout rate (absolute lift, a fraction)."""
        interval = self._interval()
        return interval[0] if interval else None

    @property
    def interval(self) -> tuple[float, float] | None:
        """The 95 % confidence interval of `difference`."""
        interval = self._interval()
        return (interval[1], interval[2]) if interval else None

    @property
    def relative(self) -> float | None:
        """difference / holdout rate (None when the holdout rate is 0 or unknown)."""
        if self.difference is None or not self.holdout_rate:
            return None
        return self.difference / self.holdout_rate

    @property
    def significant(self) -> bool:
        """The interval excludes 0."""
        interval = self.interval
        return interval is not None and (interval[0] > 0 or interval[1] < 0)

    def as_dict(self) -> dict:
        def pct(value: float | None) -> float | None:
            return None if value is None else round(value * 100, 2)

        interval = self.interval
        return {
            "treatment": {
                "entered": self.treatment_entered,
                "goal_met": self.treatment_goal_met,
                "goal_percent": pct(self.treatment_rate),
            },
            "holdout": {
                "entered": self.holdout_entered,
                "goal_met": self.holdout_goal_met,
                "goal_percent": pct(self.holdout_rate),
            },
            "lift_points": pct(self.difference),
            "lift_relative_percent": pct(self.relative),
            "confidence_interval_points": [pct(interval[0]), pct(interval[1])] if interval else None,
            "confidence": 95,
            "method": "Newcombe hybrid score (Wilson) interval for a difference of two proportions",
            "significant": self.significant,
        }
