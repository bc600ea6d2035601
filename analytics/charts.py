"""Inline SVG charts, rendered on the server (pure functions of their data).

No JavaScript and no CDN: each bar or point carries a `<title>` the browser shows as a
tooltip. Colours come from CSS classes that templates/analytics/base.html maps to the
admin's CSS variables, so the charts follow the admin's light and dark themes.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 34


@dataclass(frozen=True)
class Bar:
    label: str  # tick label under the bar ("" for none)
    value: int
    overlay: int  # drawn over the bar, from its foot (e.g. goal met among entries)
    tooltip: str


def _nice_max(value: float) -> float:
    """A round upper bound for an axis (1, 2, 5 x 10^n)."""
    if value <= 0:
        return 1
    magnitude = 10 ** (len(str(int(value))) - 1)
    for factor in (1, 2, 5, 10):
        if value <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def _frame(title: str, top_value: float, unit: str) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for i in range(5):
        value = top_value * i / 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        text = f"{value:g}{unit}" if value < 10_000 else f"{value / 1000:g}k{unit}"
        parts.append(f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{text}</text>')
    return parts


def bar_chart(bars: Sequence[Bar], title: str) -> SafeString:
    """Vertical bars with an overlay from the foot of each bar."""
    top_value = _nice_max(max((b.value for b in bars), default=0))
    parts = _frame(title, top_value, "")
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(bars), 1)
    gap = min(slot * 0.2, 4)
    every = max(1, round(len(bars) / 12))  # at most about 12 tick labels
    for i, bar in enumerate(bars):
        x = LEFT + i * slot + gap / 2
        height = plot_h * bar.value / top_value
        overlay = plot_h * bar.overlay / top_value
        base = TOP + plot_h
        parts.append("<g>")
        parts.append(f"<title>{escape(bar.tooltip)}</title>")
        # A transparent full-height target, so that small bars still show their tooltip.
        parts.append(f'<rect class="hit" x="{x:.1f}" y="{TOP}" width="{slot - gap:.1f}" height="{plot_h}"/>')
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{base - height:.1f}" width="{slot - gap:.1f}" height="{height:.1f}"/>'
        )
        if bar.overlay:
            parts.append(
                f'<rect class="bar-overlay" x="{x:.1f}" y="{base - overlay:.1f}" '
                f'width="{slot - gap:.1f}" height="{overlay:.1f}"/>'
            )
        parts.append("</g>")
        if bar.label and i % every == 0:
            parts.append(
                f'<text class="axis" x="{x + (slot - gap) / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" '
                f'text-anchor="middle">{escape(bar.label)}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text above is escaped


def percent_line_chart(points: Sequence[tuple[str, float | None, str]], target: float | None, title: str) -> SafeString:
    """A line of percentages (label, value or None for no data, tooltip) and a target line."""
    top_value = 100.0
    parts = _frame(title, top_value, "%")
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(points), 1)
    every = max(1, round(len(points) / 12))

    def y_of(value: float) -> float:
        return TOP + plot_h - plot_h * value / top_value

    if target is not None:
        y = y_of(target)
        parts.append(
            f'<g><title>Target: {target:g}%</title><line class="target" x1="{LEFT}" x2="{WIDTH - RIGHT}" '
            f'y1="{y:.1f}" y2="{y:.1f}"/></g>'
        )
    coordinates = [
        (LEFT + (i + 0.5) * slot, y_of(value)) for i, (_, value, _) in enumerate(points) if value is not None
    ]
    if len(coordinates) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coordinates)
        parts.append(f'<polyline class="line" points="{path}"/>')
    for i, (label, value, tooltip) in enumerate(points):
        x = LEFT + (i + 0.5) * slot
        if value is not None:
            parts.append(
                f'<g><title>{escape(tooltip)}</title><circle class="point" cx="{x:.1f}" cy="{y_of(value):.1f}" r="4"/>'
                f"</g>"
            )
        if label and i % every == 0:
            parts.append(
                f'<text class="axis" x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text above is escaped


def tick_label(at: datetime, bucket: str) -> str:
    return at.strftime("%H:%M") if bucket == "hour" else at.strftime("%b %d")
