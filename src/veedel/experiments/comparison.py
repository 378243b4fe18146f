"""Engine comparisons from the cells: sums per variant -> effects.

:func:`compare_rows` is the one place where warehouse sums meet the statistics
engine: it builds the engine's inputs for a metric's kind, compares treatment
with control on the absolute and the relative scale, applies CUPED and the
sequential setting, and returns both effects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from veedel.errors import InputError
from veedel.experiments import stats
from veedel.experiments.definitions import ExperimentDefinition
from veedel.experiments.metrics import Metric
from veedel.experiments.pipeline import Cells, maturity_offset

__all__ = [
    "Comparison",
    "aligned_rows",
    "arm_stats",
    "compare_rows",
    "metric_totals",
    "planned_n",
]


def metric_totals(
    cells: Cells, key: str, metric: Metric, look_day: int, by: str | None = None
) -> pd.DataFrame:
    """Sums of the cells of ``metric`` whose window is complete on ``look_day``.

    Indexed by variant (and by the slice ``by`` when given); columns ``n`` and
    the metric's columns of :func:`~veedel.experiments.pipeline.metric_columns`.
    """
    frame = cells.frame
    matured = frame[frame["exposure_day"] + maturity_offset(metric) <= look_day]
    columns = ["n", *[c for c in frame.columns if c.startswith(f"{key}__")]]
    keys = ["variant"] if by is None else ["variant", f"slice_{by}"]
    return matured.groupby(keys)[columns].sum()


@dataclass(frozen=True)
class Comparison:
    """Engine effects of one metric for a list of (treatment, slice) pairs.

    ``absolute`` and ``relative`` are :class:`~veedel.experiments.stats.Effect`
    arrays over the pairs; ``cuped`` is the CUPED-adjusted absolute effect
    where available.
    """

    absolute: stats.Effect
    relative: stats.Effect
    variance_reduction: np.ndarray[Any, Any] | None


def arm_stats(
    metric: Metric, rows: pd.DataFrame, names: dict[str, str]
) -> stats.SampleStats | stats.RatioStats:
    n = rows["n"].to_numpy(float)
    if metric.kind == "ratio":
        return stats.RatioStats(
            n,
            rows[names["sum"]].to_numpy(float),
            rows[names["sum_sq"]].to_numpy(float),
            rows[names["den_sum"]].to_numpy(float),
            rows[names["den_sum_sq"]].to_numpy(float),
            rows[names["cross_sum"]].to_numpy(float),
        )
    return stats.SampleStats(
        n, rows[names["sum"]].to_numpy(float), rows[names["sum_sq"]].to_numpy(float)
    )


def _cuped_stats(
    metric: Metric, rows: pd.DataFrame, names: dict[str, str]
) -> stats.CupedStats | stats.CupedRatioStats:
    n = rows["n"].to_numpy(float)
    column = {role: rows[name].to_numpy(float) for role, name in names.items()}
    if metric.kind == "ratio":
        return stats.CupedRatioStats(
            n,
            column["sum"],
            column["sum_sq"],
            column["den_sum"],
            column["den_sum_sq"],
            column["cross_sum"],
            column["pre_sum"],
            column["pre_sum_sq"],
            column["pre_cross"],
            column["pre_den_cross"],
        )
    return stats.CupedStats(
        n,
        column["sum"],
        column["sum_sq"],
        column["pre_sum"],
        column["pre_sum_sq"],
        column["pre_cross"],
    )


def _compare(
    metric: Metric,
    control: Any,
    treatment: Any,
    alpha: float,
    scale: str,
) -> stats.Effect:
    if metric.kind == "proportion":
        return stats.compare_proportions(control, treatment, alpha=alpha, scale=scale)  # type: ignore[arg-type]
    if metric.kind == "ratio":
        return stats.compare_ratios(control, treatment, alpha=alpha, scale=scale)  # type: ignore[arg-type]
    return stats.compare_means(control, treatment, alpha=alpha, scale=scale)  # type: ignore[arg-type]


def compare_rows(
    metric: Metric,
    names: dict[str, str],
    control_rows: pd.DataFrame,
    treatment_rows: pd.DataFrame,
    definition: ExperimentDefinition,
    expected_n: np.ndarray[Any, Any] | None = None,
) -> Comparison:
    """Run the engine on aligned rows of control and treatment sums.

    With CUPED on and an engine that provides ``cuped_adjust``, the absolute
    and relative effects are the adjusted ones; with sequential testing on,
    both become always-valid (confidence sequences and mSPRT p-values).
    """
    settings = definition.analysis
    control = arm_stats(metric, control_rows, names)
    treatment = arm_stats(metric, treatment_rows, names)
    absolute = _compare(metric, control, treatment, settings.alpha, "absolute")
    relative = _compare(metric, control, treatment, settings.alpha, "relative")

    reduction = None
    if settings.cuped.enabled and "pre_sum" in names:
        adjust: Any = (
            stats.cuped_adjust_ratio if metric.kind == "ratio" else stats.cuped_adjust
        )
        c_cuped = _cuped_stats(metric, control_rows, names)
        t_cuped = _cuped_stats(metric, treatment_rows, names)
        adjusted = [
            adjust(c_cuped, t_cuped, alpha=settings.alpha, scale=scale)
            for scale in ("absolute", "relative")
        ]
        absolute, relative = adjusted[0].adjusted, adjusted[1].adjusted
        reduction = np.asarray(adjusted[0].variance_reduction, dtype=float)

    if settings.sequential:
        n_now = (control.n + treatment.n) / 2
        if expected_n is None:
            expected_n = planned_n(metric, control, definition)
        planned = n_now if expected_n is None else np.maximum(expected_n, n_now)
        planned = np.where(planned > 0, planned, 1.0)
        absolute = stats.sequential_effect(absolute, expected_n=planned)
        relative = stats.sequential_effect(relative, expected_n=planned)
    return Comparison(absolute, relative, reduction)


def planned_n(
    metric: Metric,
    control: stats.SampleStats | stats.RatioStats,
    definition: ExperimentDefinition,
) -> np.ndarray[Any, Any] | None:
    """Users per arm the experiment is planned for: its MDE at its power.

    The confidence sequence is tuned for this size (it is narrowest there);
    ``None`` when the control's baseline does not allow a plan yet.
    """
    settings = definition.analysis
    try:
        if isinstance(control, stats.RatioStats):
            baseline = stats.Baseline.for_ratio(control)
        elif metric.kind == "proportion":
            baseline = stats.Baseline.for_proportion(control.mean)
        else:
            baseline = stats.Baseline.for_mean(np.sqrt(control.variance), control.mean)
        needed = stats.sample_size_per_arm(
            baseline, settings.mde, relative=True, alpha=settings.alpha,
            power=settings.power,
        )  # fmt: skip
    except InputError:
        return None
    if not np.all(np.isfinite(needed)):
        return None
    return np.asarray(needed, dtype=np.float64)


def aligned_rows(
    totals: pd.DataFrame, control: str, treatment: str, by: str | None
) -> tuple[pd.DataFrame, pd.DataFrame, list[str | None]]:
    """Control and treatment rows with the same slice values, in one order."""
    if by is None:
        empty = pd.Series(0.0, index=totals.columns)
        rows = [
            pd.DataFrame([totals.loc[key] if key in totals.index else empty])
            for key in (control, treatment)
        ]
        return rows[0], rows[1], [None]
    values = sorted({str(v) for v in totals.index.get_level_values(1)})
    index = pd.MultiIndex.from_product([[control], values])
    c = totals.reindex(index, fill_value=0.0)
    t = totals.reindex(
        pd.MultiIndex.from_product([[treatment], values]), fill_value=0.0
    )
    return c, t, list(values)
