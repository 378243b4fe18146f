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
    "cumulative_rows",
    "metric_totals",
    "planned_n",
    "series_mixing_variance",
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


def cumulative_rows(
    cells: Cells, key: str, metric: Metric, variant: str
) -> pd.DataFrame:
    """Row ``d``: sums over the users whose window is complete on look day ``d``.

    Rows run from day 0 to the look day; the last row equals
    :func:`metric_totals` for the variant on the look day.
    """
    frame = cells.frame[cells.frame["variant"] == variant]
    columns = ["n", *[c for c in frame.columns if c.startswith(f"{key}__")]]
    per_day = frame.groupby("exposure_day")[columns].sum()
    days = range(cells.look_day + 1)
    cumulative = per_day.reindex(days, fill_value=0.0).cumsum()
    # A user counts from the day the window closes: shift by the window.
    shifted = cumulative.shift(maturity_offset(metric), fill_value=0.0)
    return shifted.reset_index(drop=True)


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
    *,
    looks: bool = False,
    tuning_alpha: float | None = None,
) -> Comparison:
    """Run the engine on aligned rows of control and treatment sums.

    Parameters
    ----------
    metric, names
        The metric and its cell columns (:func:`metric_columns`).
    control_rows, treatment_rows
        Sums per arm, one row a comparison. With ``looks`` the rows are the
        successive cumulative looks of one series (day 0, 1, ...).
    definition
        The experiment; its analysis settings apply (alpha, CUPED, sequential).
    looks
        The rows are looks of one series: with sequential testing on, one
        mixing variance is used on every look and the result carries the
        running intersection of the confidence sequences and the running
        minimum of the always-valid p-values along the rows.
    tuning_alpha
        The alpha the mixing variance is tuned for (default: the settings'
        alpha). A multiple-testing correction recomputes the sequence at a
        stricter level with the mixing variance of the nominal one, so that
        the adjusted interval excludes zero exactly when the adjusted p does.

    Notes
    -----
    With CUPED on and an engine that provides ``cuped_adjust``, the absolute
    and relative effects are the adjusted ones; with sequential testing on,
    both become always-valid (confidence sequences and mSPRT p-values) with
    the mixing variance of :func:`series_mixing_variance`.
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
        if looks:
            final = arm_stats(metric, control_rows.tail(1), names)
            expected = planned_n(metric, final, definition)
        else:
            expected = planned_n(metric, control, definition)
        alpha = settings.alpha if tuning_alpha is None else tuning_alpha
        axis = 0 if looks else None
        absolute, relative = (
            stats.sequential_effect(
                effect,
                mixing_variance=series_mixing_variance(effect, expected, alpha, axis),
                look_axis=axis,
            )
            for effect in (absolute, relative)
        )
    return Comparison(absolute, relative, reduction)


def series_mixing_variance(
    effect: stats.Effect,
    expected_n: np.ndarray[Any, Any] | None,
    alpha: float,
    look_axis: int | None,
) -> np.ndarray[Any, Any]:
    """One mixing variance ``tau2`` per series, the same on every look.

    Parameters
    ----------
    effect
        Fixed-horizon effects; with ``look_axis`` the successive looks of each
        series lie along that axis, otherwise every element is its own series
        seen at one look.
    expected_n
        Planned units per arm (:func:`planned_n`), or ``None`` without a plan.
    alpha
        The level the sequence is tuned for.
    look_axis
        Axis of the looks, or ``None``.

    Notes
    -----
    The per-unit variance ``s2 = SE**2 n`` is taken from the series' latest
    computable look (``n`` the mean of the two arms' units) and the sequence
    is tuned to be narrowest at ``N = max(planned n, n at that look)``:
    ``tau2 = r s2 / N`` (:func:`~veedel.experiments.stats.tuned_mixing_variance`).
    The looks never re-derive it, which is what the confidence sequence's
    guarantee assumes (``docs/statistics.md``). A series with no computable
    look gets ``tau2 = 1``; its looks carry their reason codes anyway.
    """
    n_now = (effect.control_n + effect.treatment_n) / 2
    per_unit = np.where(effect.ok, effect.standard_error**2 * n_now, np.nan)
    per_unit = np.where(per_unit > 0, per_unit, np.nan)
    n_now = np.where(np.isfinite(per_unit), n_now, np.nan)
    if look_axis is not None:
        per_unit = _latest_finite(per_unit, look_axis)
        n_now = _latest_finite(n_now, look_axis)
    planned = n_now if expected_n is None else np.fmax(expected_n, n_now)
    tau2 = stats.tuned_mixing_variance(per_unit / planned, alpha)
    return np.where(np.isfinite(tau2) & (tau2 > 0), tau2, 1.0)


def _latest_finite(values: np.ndarray[Any, Any], axis: int) -> np.ndarray[Any, Any]:
    """The last finite value along ``axis``, broadcast back (NaN when none)."""
    moved = np.moveaxis(np.asarray(values, dtype=np.float64), axis, -1)
    finite = np.isfinite(moved)
    has_any = finite.any(axis=-1, keepdims=True)
    last = moved.shape[-1] - 1 - np.argmax(finite[..., ::-1], axis=-1)
    picked = np.take_along_axis(moved, last[..., None], axis=-1)
    picked = np.where(has_any, picked, np.nan)
    return np.moveaxis(np.broadcast_to(picked, moved.shape), -1, axis)


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
