"""The effect over time: cumulative comparisons for every day of the experiment."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pandas as pd

from veedel.experiments import stats
from veedel.experiments.comparison import arm_stats, compare_rows, planned_n
from veedel.experiments.definitions import ExperimentDefinition
from veedel.experiments.metrics import Metric, MetricLibrary
from veedel.experiments.pipeline import Cells, maturity_offset, metric_columns
from veedel.experiments.results import DailyPoint, finite_or_none

__all__ = ["daily_points"]


def _cumulative_by_day(
    cells: Cells, key: str, metric: Metric, variant: str
) -> pd.DataFrame:
    """Row ``d``: sums over users whose window is complete on look day ``d``."""
    frame = cells.frame[cells.frame["variant"] == variant]
    columns = ["n", *[c for c in frame.columns if c.startswith(f"{key}__")]]
    per_day = frame.groupby("exposure_day")[columns].sum()
    days = range(cells.look_day + 1)
    cumulative = per_day.reindex(days, fill_value=0.0).cumsum()
    # A user counts from the day the window closes: shift by the window.
    shifted = cumulative.shift(maturity_offset(metric), fill_value=0.0)
    return shifted.reset_index(drop=True)


def daily_points(
    cells: Cells, definition: ExperimentDefinition, library: MetricLibrary
) -> list[DailyPoint]:
    """Cumulative relative effect per day for every metric and treatment.

    The daily effects are not CUPED-adjusted (the chart shows the raw
    comparison). With sequential testing on, each day shows the running
    intersection of the confidence sequences so far.
    """
    points: list[DailyPoint] = []
    control = definition.control.key
    settings = definition.analysis
    plain = definition.model_copy(
        update={
            "analysis": settings.model_copy(
                update={"cuped": settings.cuped.model_copy(update={"enabled": False})}
            )
        }
    )
    for key in cells.metrics:
        metric = library[key]
        if metric.kind == "quantile":
            continue
        names = metric_columns(key, metric, False)
        c_rows = _cumulative_by_day(cells, key, metric, control)
        # Tune every day's confidence sequence for the same planned size.
        expected = None
        if settings.sequential:
            final = arm_stats(metric, c_rows.tail(1), names)
            expected = planned_n(metric, final, plain)
        for variant in definition.treatments:
            t_rows = _cumulative_by_day(cells, key, metric, variant.key)
            effect = compare_rows(
                metric, names, c_rows, t_rows, plain, expected_n=expected
            ).relative
            if settings.sequential:
                effect = _intersected(effect)
            points.extend(_points(key, variant.key, cells, c_rows, t_rows, effect))
    return points


def _intersected(effect: stats.Effect) -> stats.Effect:
    """Running intersection of daily confidence sequences (still valid).

    Each day's sequence covers the effect on every day at once, so their
    intersection up to a day does too, and it never widens.
    """
    ok = effect.ok
    lower = np.where(ok, effect.ci_lower, np.nan)
    upper = np.where(ok, effect.ci_upper, np.nan)
    return replace(
        effect,
        ci_lower=np.where(ok, np.fmax.accumulate(lower), effect.ci_lower),
        ci_upper=np.where(ok, np.fmin.accumulate(upper), effect.ci_upper),
    )


def _points(
    key: str,
    variant: str,
    cells: Cells,
    c_rows: pd.DataFrame,
    t_rows: pd.DataFrame,
    effect: stats.Effect,
) -> list[DailyPoint]:
    points = []
    for day in range(len(c_rows)):
        ok = not effect.reason[day]
        points.append(
            DailyPoint(
                metric=key,
                variant=variant,
                day=day,
                date=(cells.start + dt.timedelta(days=day)).isoformat(),
                control_n=int(c_rows["n"].iloc[day]),
                treatment_n=int(t_rows["n"].iloc[day]),
                effect=finite_or_none(effect.point_estimate[day]) if ok else None,
                ci_lower=finite_or_none(effect.ci_lower[day]) if ok else None,
                ci_upper=finite_or_none(effect.ci_upper[day]) if ok else None,
                scale="relative",
            )
        )
    return points
