"""Small pieces the experiment pages are built of: numbers, badges, interval bars.

Everything here returns text or :class:`markupsafe.Markup` and works without
JavaScript: the interval bar is inline SVG with a text equivalent, and every
colour comes with a word (better, worse, inconclusive) beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = [
    "OUTCOME_LABELS",
    "STATUS_CLASSES",
    "Badge",
    "format_change",
    "format_interval",
    "format_relative",
    "format_value",
    "interval_bar",
    "interval_scale",
]

OUTCOME_LABELS: dict[str, str] = {
    "better": "better",
    "worse": "worse",
    "inconclusive": "inconclusive",
    "not_computed": "not computed",
}

# CSS class of each experiment status badge (colour; the text says the same).
STATUS_CLASSES: dict[str, str] = {
    "Running": "neutral",
    "Ready for review": "warn",
    "Ship": "good",
    "Don't ship": "bad",
    "Unhealthy": "alarm",
}

_BAR_WIDTH = 160
_BAR_HEIGHT = 22


@dataclass(frozen=True)
class Badge:
    """A status word with the CSS class that colours it."""

    text: str

    @property
    def css_class(self) -> str:
        """The badge's colour class."""
        return STATUS_CLASSES.get(self.text, "neutral")

    def __html__(self) -> str:
        return f'<span class="badge {self.css_class}">{escape(self.text)}</span>'


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def format_value(value: float | None, kind: str = "mean") -> str:
    """A metric's value for people: a percentage for proportions, else 4 digits."""
    if value is None or not math.isfinite(value):
        return "—"
    if kind == "proportion":
        return f"{value * 100:.2f} %"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def format_change(value: float | None, kind: str = "mean") -> str:
    """An absolute change with its sign: percentage points for proportions."""
    if value is None or not math.isfinite(value):
        return "—"
    if kind == "proportion":
        return f"{value * 100:+.2f} pp"
    return f"{value:+.4g}"


def format_relative(value: float | None) -> str:
    """A relative change as a signed percentage ("+2.10 %")."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value * 100:+.2f} %"


def format_interval(
    lower: float | None, upper: float | None, *, relative: bool, kind: str = "mean"
) -> str:
    """An interval as text ("+0.40 % to +3.80 %"); a dash when not computed."""
    if not (_finite(lower) and _finite(upper)):
        return "—"
    if relative:
        return f"{format_relative(lower)} to {format_relative(upper)}"
    return f"{format_change(lower, kind)} to {format_change(upper, kind)}"


def interval_scale(bounds: list[tuple[float | None, float | None]]) -> float:
    """Half-width of a common scale for interval bars: the largest |end|, padded.

    Bars in one table share the scale so that their lengths compare; the scale
    is symmetric around zero, which sits in the middle of every bar.
    """
    ends = [
        abs(value)
        for pair in bounds
        for value in pair
        if value is not None and math.isfinite(value)
    ]
    largest = max(ends, default=0.0)
    return largest * 1.1 if largest > 0 else 1.0


def _x(value: float, scale: float) -> float:
    centre = _BAR_WIDTH / 2
    clipped = max(-scale, min(scale, value))
    return round(centre + clipped / scale * (centre - 6), 1)


def interval_bar(
    lower: float | None,
    upper: float | None,
    point: float | None,
    *,
    scale: float,
    outcome: str,
    text: str,
) -> Markup:
    """An inline SVG bar: the interval as a line, the estimate as a dot, zero marked.

    Parameters
    ----------
    lower, upper, point
        Interval ends and the point estimate, on the bar's scale.
    scale
        Half-width of the scale (see :func:`interval_scale`).
    outcome
        ``better``, ``worse``, ``inconclusive`` or ``not_computed``: the colour.
    text
        The text equivalent, read by screen readers and shown as a tooltip.
    """
    label = escape(text)
    zero = _x(0.0, scale)
    parts = [
        f'<svg class="ibar {escape(outcome)}" width="{_BAR_WIDTH}"'
        f' height="{_BAR_HEIGHT}" viewBox="0 0 {_BAR_WIDTH} {_BAR_HEIGHT}"'
        f' role="img" aria-label="{label}"><title>{label}</title>',
        f'<line class="axis" x1="4" x2="{_BAR_WIDTH - 4}" y1="11" y2="11"/>',
        f'<line class="zero" x1="{zero}" x2="{zero}" y1="2" y2="20"/>',
    ]
    if _finite(lower) and _finite(upper):
        assert lower is not None and upper is not None
        left, right = _x(lower, scale), _x(upper, scale)
        parts.append(
            f'<rect class="ci" x="{left}" y="7" width="{max(right - left, 1.5)}"'
            ' height="8" rx="3"/>'
        )
    if _finite(point):
        assert point is not None
        parts.append(f'<circle class="pt" cx="{_x(point, scale)}" cy="11" r="4"/>')
    parts.append("</svg>")
    return Markup("".join(parts))
