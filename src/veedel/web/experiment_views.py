"""What the experiment pages show, derived from stored :class:`ExperimentResult`s.

Nothing here computes statistics: the numbers come from the stored result as
the analysis wrote them. This module only groups, labels and explains them,
and turns the cumulative daily effects into a Vega-Lite spec.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from veedel.experiments.results import DailyPoint, ExperimentResult, MetricResult
from veedel.web.components import (
    OUTCOME_LABELS,
    Badge,
    format_change,
    format_interval,
    format_relative,
    format_value,
    interval_bar,
    interval_scale,
)

__all__ = [
    "GLOSSARY",
    "STATUSES",
    "MetricRow",
    "MetricSection",
    "SettingRow",
    "effect_chart_spec",
    "experiment_status",
    "metric_sections",
    "settings_rows",
    "slice_sections",
]

STATUSES: tuple[str, ...] = (
    "Running",
    "Ready for review",
    "Ship",
    "Don't ship",
    "Unhealthy",
)

GLOSSARY: dict[str, str] = {
    "verdict": (
        "The recommendation of the decision rule: ship when at least one primary"
        " metric is clearly better and no guardrail is clearly worse; keep running"
        " while the evidence is not strong enough yet."
    ),
    "health": (
        "Checks run before any verdict: whether users were split as planned"
        " (sample ratio mismatch), whether users saw more than one variant, whether"
        " there are enough users and fresh data. If one fails, the numbers can be"
        " wrong, so no verdict is given."
    ),
    "primary": (
        "The metrics the experiment is meant to move. The ship decision rests on them."
    ),
    "guardrail": (
        "Metrics that must not get worse (beyond a small allowed margin), such as"
        " reports per user. A clearly worse guardrail blocks shipping."
    ),
    "secondary": (
        "Metrics shown for understanding only. They do not change the verdict."
    ),
    "control": (
        "The value of the metric among users who got the current experience"
        " (control) and among users who got the change (treatment)."
    ),
    "absolute": (
        "Treatment minus control, in the metric's own unit. For shares it is in"
        " percentage points (pp): 10 % to 11 % is +1 pp."
    ),
    "relative": ("The change as a share of the control value: 10 % to 11 % is +10 %."),
    "interval": (
        "The range of changes consistent with the data (a 95 % interval at alpha"
        " 0.05). The dot is the best estimate, the bar the interval, the vertical"
        " line zero. A bar that does not touch zero means a clear change."
    ),
    "outcome": (
        "Better or worse means the change is clear (statistically significant) in"
        " the direction that is good or bad for this metric; inconclusive means"
        " the data cannot tell yet. 'Not computed' says why no number is shown."
    ),
    "p_value": (
        "How surprising the observed change would be if the variant had no effect"
        " at all. Small values (below alpha) mean the change is unlikely to be"
        " chance."
    ),
    "slices": (
        "The same comparison within groups of users, such as one city. Many"
        " groups mean many chances for a fluke, so treat these as ideas to test,"
        " not as results."
    ),
    "chart": (
        "The estimated change as it would have been read on each day, with its"
        " interval. Early days are noisy; a steady line that stays away from zero"
        " is a good sign."
    ),
    "alpha": (
        "The false-alarm rate accepted: at 0.05, one in twenty experiments with no"
        " real effect would still look significant."
    ),
    "correction": (
        "An adjustment for testing several metrics or variants at once, so that"
        " the chance of any false alarm stays near alpha."
    ),
    "cuped": (
        "Uses each user's behaviour before the experiment to remove noise, so the"
        " same users give a sharper answer. It does not change what is measured."
    ),
    "sequential": (
        "Intervals that stay valid however often you look, so checking the"
        " results every day does not inflate false alarms. They are a little"
        " wider than fixed-horizon ones."
    ),
    "power": (
        "The chance of detecting the effect if it is really as large as the"
        " minimum detectable effect (MDE). 80 % is usual."
    ),
    "mde": (
        "The smallest change worth detecting, relative to today's value: 5 % means"
        " posting rate 0.20 to 0.21."
    ),
    "weights": (
        "Each variant's share of users. They must add up to 1: 0.5 and 0.5 split"
        " users evenly."
    ),
    "hypothesis": (
        "What you change, what you expect it to do and why, in one or two"
        " sentences. It is written down before the data comes in."
    ),
    "status": (
        "Where the experiment stands. Running: keep collecting data. Ready for"
        " review: the end date has passed without a clear verdict, so someone"
        " should decide. Ship and Don't ship: the decision rule's verdict."
        " Unhealthy: a health check failed, so no verdict is given."
    ),
    "effect": (
        "The relative change of the primary metric that decided the verdict,"
        " treatment against control, in the latest stored analysis, with its"
        " result word: better, worse or inconclusive."
    ),
    "as_of": (
        "The last day of data the stored analysis used. Later events are not in"
        " these numbers until the experiment is analysed again."
    ),
    "n": (
        "The number of users counted in each group: assigned users whose metric"
        " window had passed on the 'as of' day."
    ),
    "margin": (
        "How much worse a guardrail may get before it blocks shipping, relative"
        " to control: a 5 % margin lets reports per user rise by up to 5 %."
        " 'Margin breached' means the whole interval lies beyond the margin on"
        " the bad side, so the change is clearly worse than allowed."
    ),
    "variance_reduction": (
        "How much of the metric's noise CUPED removed by using each user's"
        " behaviour before the experiment. Removing 30 % of the variance gives"
        " the precision of about 1.4 times as many users."
    ),
    "kind": (
        "How the metric is measured. A proportion is the share of users who did"
        " something (retained on day 7); a mean is an average per user (posts per"
        " user); a ratio divides two totals (votes per post); a quantile is a"
        " point of the distribution, such as the median."
    ),
    "direction": (
        "Which way is good for this metric. Higher is better for posts; lower is"
        " better for reports. 'Better' and 'worse' on the experiment page follow"
        " this direction."
    ),
    "sd": (
        "The standard deviation per user: how much users differ from each other."
        " The larger it is against the value, the more users an experiment needs."
    ),
    "minimum_sample_size": (
        "The fewest users each variant needs for this metric before any verdict."
        " Below it the health check 'Minimum sample size' fails, whatever the"
        " numbers say."
    ),
}

_SECTION_TITLES = {
    "primary": "Primary metrics",
    "guardrail": "Guardrail metrics",
    "secondary": "Secondary metrics",
}


@dataclass(frozen=True)
class MetricRow:
    """One row of a metric table, with every number already formatted."""

    item: MetricResult
    control: str
    treatment: str
    absolute: str
    relative: str
    interval: str
    bar: Markup
    outcome: str
    label: str
    p_value: str


@dataclass(frozen=True)
class MetricSection:
    """Rows of one metric role (or one slice property) under a title."""

    key: str
    title: str
    rows: tuple[MetricRow, ...]


@dataclass(frozen=True)
class SettingRow:
    """One analysis setting: its name, the value used and what it means."""

    key: str
    name: str
    value: str
    explanation: str


def experiment_status(
    result: ExperimentResult | None, end: dt.date | None, today: dt.date
) -> Badge:
    """The experiment's badge: Running, Ready for review, Ship, Don't ship, Unhealthy.

    A failed health check or a broken analysis is Unhealthy; a verdict of ship
    or don't ship is shown as is; an experiment that should keep running but
    whose end date has passed (or that has no analysis yet and has ended) is
    Ready for review.
    """
    ended = end is not None and end < today
    if result is None:
        return Badge("Ready for review" if ended else "Running")
    decision = result.verdict.decision
    if decision in ("unhealthy", "broken") or not result.healthy:
        return Badge("Unhealthy")
    if decision == "ship":
        return Badge("Ship")
    if decision == "dont_ship":
        return Badge("Don't ship")
    return Badge("Ready for review" if ended else "Running")


def _relative_scale(item: MetricResult) -> bool:
    return item.relative_effect is not None and item.relative_ci_lower is not None


def _bar_ends(item: MetricResult) -> tuple[float | None, float | None, float | None]:
    if _relative_scale(item):
        return item.relative_ci_lower, item.relative_ci_upper, item.relative_effect
    return item.absolute_ci_lower, item.absolute_ci_upper, item.absolute_effect


def _row(item: MetricResult, scale: float) -> MetricRow:
    relative = _relative_scale(item)
    lower, upper, point = _bar_ends(item)
    interval = format_interval(lower, upper, relative=relative, kind=item.kind)
    label = OUTCOME_LABELS.get(item.outcome, item.outcome)
    text = f"{item.name}: change {interval}, {label}"
    if lower is None:
        text = f"{item.name}: no interval ({label})"
    return MetricRow(
        item=item,
        control=format_value(item.control_value, item.kind),
        treatment=format_value(item.treatment_value, item.kind),
        absolute=format_change(item.absolute_effect, item.kind),
        relative=format_relative(item.relative_effect),
        interval=interval,
        bar=interval_bar(
            lower, upper, point, scale=scale, outcome=item.outcome, text=text
        ),
        outcome=item.outcome,
        label=label,
        p_value=_p_value(item.p_value),
    )


def _p_value(value: float | None) -> str:
    """``p = 0.344``, ``p < 0.001``, or a dash when there is none."""
    if value is None:
        return "p —"
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def _rows(items: Sequence[MetricResult]) -> tuple[MetricRow, ...]:
    # Relative bars share one scale; absolute ones (no relative change) get
    # their own, since their units differ.
    relative = [_bar_ends(item)[:2] for item in items if _relative_scale(item)]
    shared = interval_scale(relative)
    rows = []
    for item in items:
        scale = (
            shared if _relative_scale(item) else interval_scale([_bar_ends(item)[:2]])
        )
        rows.append(_row(item, scale))
    return tuple(rows)


def metric_sections(result: ExperimentResult) -> list[MetricSection]:
    """The overall metric rows grouped by role: primary, guardrail, secondary."""
    sections = []
    for role, title in _SECTION_TITLES.items():
        items = [item for item in result.metrics if item.role == role]
        if items:
            sections.append(MetricSection(role, title, _rows(items)))
    return sections


def slice_sections(result: ExperimentResult) -> list[MetricSection]:
    """Slice rows grouped by slice property (exploratory; never decide on them)."""
    by_name: dict[str, list[MetricResult]] = {}
    for item in result.slices:
        by_name.setdefault(item.slice_name or "slice", []).append(item)
    return [
        MetricSection(name, f"By {name.replace('_', ' ')}", _rows(items))
        for name, items in by_name.items()
    ]


def _on_off(value: Any) -> str:
    return "on" if value else "off"


def settings_rows(definition: dict[str, Any]) -> list[SettingRow]:
    """The analysis settings recorded with a result, each with a one-line meaning."""
    analysis = definition.get("analysis") or {}
    cuped = analysis.get("cuped") or {}
    correction = str(analysis.get("correction", "none"))
    correction_names = {
        "none": "none",
        "bonferroni": "Bonferroni",
        "holm": "Holm",
        "bh": "Benjamini-Hochberg",
    }
    cuped_value = _on_off(cuped.get("enabled"))
    if cuped.get("enabled"):
        cuped_value += f" ({cuped.get('pre_period_days', '?')}-day pre-period)"
    alpha = analysis.get("alpha", 0.05)
    return [
        SettingRow(
            "alpha",
            "Significance level (alpha)",
            f"{alpha:g}",
            f"{GLOSSARY['alpha']} The intervals shown are "
            f"{1 - float(alpha):.0%} intervals.",
        ),
        SettingRow(
            "correction",
            "Multiple-testing correction",
            correction_names.get(correction, correction),
            GLOSSARY["correction"],
        ),
        SettingRow("cuped", "CUPED variance reduction", cuped_value, GLOSSARY["cuped"]),
        SettingRow(
            "sequential",
            "Sequential testing",
            _on_off(analysis.get("sequential")),
            GLOSSARY["sequential"],
        ),
    ]


def effect_chart_spec(
    points: Iterable[DailyPoint], names: dict[str, str]
) -> dict[str, Any]:
    """A Vega-Lite spec of the cumulative effect over time, one panel per metric.

    The band is the interval, the line the estimate, the rule zero. Relative
    effects are shown as percentages.
    """
    values = [
        {
            "metric": names.get(point.metric, point.metric),
            "variant": point.variant,
            "date": point.date,
            "effect": point.effect,
            "lower": point.ci_lower,
            "upper": point.ci_upper,
            "scale": point.scale,
        }
        for point in points
        if point.effect is not None
    ]
    relative = all(value["scale"] == "relative" for value in values)
    axis_format = ".1%" if relative else ".3~g"
    title = "Change vs control" + (" (relative)" if relative else "")
    x = {
        "field": "date",
        "type": "temporal",
        "title": None,
        "axis": {"format": "%d %b", "labelAngle": 0, "labelOverlap": True},
    }
    y_title = {"title": title, "axis": {"format": axis_format}}
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "data": {"values": values},
        "facet": {"field": "metric", "type": "nominal", "title": None},
        "columns": 2,
        "resolve": {"scale": {"y": "independent"}},
        "spec": {
            "width": 380,
            "height": 170,
            "layer": [
                {
                    "mark": {"type": "area", "opacity": 0.22},
                    "encoding": {
                        "x": x,
                        "y": {"field": "lower", "type": "quantitative", **y_title},
                        "y2": {"field": "upper"},
                        "color": {"field": "variant", "type": "nominal"},
                    },
                },
                {
                    "mark": {"type": "line", "point": True},
                    "encoding": {
                        "x": x,
                        "y": {"field": "effect", "type": "quantitative"},
                        "color": {"field": "variant", "type": "nominal"},
                        "tooltip": [
                            {"field": "date", "type": "temporal"},
                            {"field": "variant"},
                            {"field": "effect", "format": axis_format},
                            {"field": "lower", "format": axis_format},
                            {"field": "upper", "format": axis_format},
                        ],
                    },
                },
                {
                    "mark": {"type": "rule", "strokeDash": [4, 3]},
                    "encoding": {"y": {"datum": 0}},
                },
            ],
        },
    }
