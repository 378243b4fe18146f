"""The effect over time: cumulative comparisons for every day of the experiment."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from veedel.experiments import stats
from veedel.experiments.comparison import compare_rows, cumulative_rows
from veedel.experiments.definitions import ExperimentDefinition
from veedel.experiments.metrics import MetricLibrary
from veedel.experiments.pipeline import Cells, metric_columns
from veedel.experiments.results import DailyPoint, finite_or_none

__all__ = ["daily_points"]


def daily_points(
    cells: Cells, definition: ExperimentDefinition, library: MetricLibrary
) -> list[DailyPoint]:
    """Cumulative relative effect per day for every metric and treatment.

    The daily effects are not CUPED-adjusted (the chart shows the raw
    comparison). With sequential testing on, every day's confidence sequence
    uses the same mixing variance (tuned once per metric x treatment for the
    planned size) and each day shows the running intersection of the
    sequences so far, which is still valid and never widens.
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
        c_rows = cumulative_rows(cells, key, metric, control)
        for variant in definition.treatments:
            t_rows = cumulative_rows(cells, key, metric, variant.key)
            # The days are the looks of one series: one mixing variance.
            effect = compare_rows(
                metric, names, c_rows, t_rows, plain, looks=True
            ).relative
            points.extend(_points(key, variant.key, cells, c_rows, t_rows, effect))
    return points


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
