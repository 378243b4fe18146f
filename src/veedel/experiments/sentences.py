"""Plain sentences about metric results, for people who do not read p-values."""

from __future__ import annotations

from veedel.experiments.metrics import Metric
from veedel.experiments.results import MetricResult, Outcome

__all__ = ["format_percent", "metric_sentence", "outcome_of"]


def outcome_of(
    metric: Metric, significant: bool, point_estimate: float | None, reason: str
) -> Outcome:
    """Better, worse or inconclusive, respecting the metric's direction."""
    if reason or point_estimate is None:
        return "not_computed"
    if not significant or point_estimate == 0:
        return "inconclusive"
    up = point_estimate > 0
    return "better" if up == metric.higher_is_better else "worse"


def format_percent(fraction: float, signed: bool = True) -> str:
    """A fraction as a percentage with enough digits to be informative."""
    value = fraction * 100
    digits = 1 if abs(value) >= 0.1 or value == 0 else 2
    return f"{value:+.{digits}f}%" if signed else f"{abs(value):.{digits}f}%"


def _absolute(value: float, kind: str, signed: bool = True) -> str:
    if kind == "proportion":
        points = value * 100
        text = f"{points:+.2f}" if signed else f"{abs(points):.2f}"
        return f"{text} percentage points"
    return f"{value:+.3g}" if signed else f"{abs(value):.3g}"


def metric_sentence(
    result: MetricResult, *, alpha: float, sequential: bool, reason_text: str = ""
) -> str:
    """One sentence: what changed, by how much, with the interval and the odds.

    Examples
    --------
    "Day-7 retention rose by 2.1% (95% interval +0.4% to +3.8%); a change this
    large is very unlikely to be chance."
    """
    where = (
        f" among users with {result.slice_name} {result.slice_value}"
        if (result.slice_name)
        else ""
    )
    if result.outcome == "not_computed" or result.absolute_effect is None:
        text = reason_text or "there is not enough data yet."
        return f"{result.name}{where} could not be compared: {text}"

    level = f"{(1 - alpha) * 100:.0f}%"
    label = f"{level} always-valid interval" if sequential else f"{level} interval"
    if result.relative_effect is not None and result.relative_ci_lower is not None:
        effect = result.relative_effect
        size = format_percent(effect, signed=False)
        interval = (
            f"{format_percent(result.relative_ci_lower)} to "
            f"{format_percent(result.relative_ci_upper or 0.0)}"
        )
    else:
        effect = result.absolute_effect
        size = _absolute(effect, result.kind, signed=False)
        interval = (
            f"{_absolute(result.absolute_ci_lower or 0.0, result.kind)} to "
            f"{_absolute(result.absolute_ci_upper or 0.0, result.kind)}"
        )
    verb = "rose by" if effect > 0 else "fell by" if effect < 0 else "changed by"
    opening = f"{result.name}{where} {verb} {size} ({label} {interval})"
    return f"{opening}; {_odds(result, alpha)}"


def _odds(result: MetricResult, alpha: float) -> str:
    if not result.significant:
        return (
            "a change like this could easily be chance,"
            " so there is no clear effect yet."
        )
    strength = "very unlikely" if (result.p_value or 1.0) < alpha / 10 else "unlikely"
    text = f"a change this large is {strength} to be chance"
    if result.outcome == "worse":
        text += ", and for this metric it is bad news"
    if result.guardrail_breached:
        text += (
            f" (beyond the guardrail's {format_percent(result.margin, False)} margin)"
        )
    return text + "."
