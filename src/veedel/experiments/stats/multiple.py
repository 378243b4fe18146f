"""Multiple-testing corrections with intervals that agree with the p-values.

Looking at many metrics, variants and slices at once, some will look
significant by chance. The corrections here raise the p-values so that the
chance of any false alarm (Bonferroni, Holm) or the expected share of false
alarms among the discoveries (Benjamini-Hochberg) stays at alpha.

References
----------
Holm, S. (1979). A simple sequentially rejective multiple test procedure.
Scandinavian Journal of Statistics 6, 65-70.

Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate: a
practical and powerful approach to multiple testing. JRSS B 57, 289-300.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import numpy as np
import numpy.typing as npt

from veedel.errors import InputError
from veedel.experiments.stats._inference import (
    check_choice,
    interval,
    p_value,
)
from veedel.experiments.stats._quiet import quiet_numpy
from veedel.experiments.stats.inputs import FloatArray, as_float_array
from veedel.experiments.stats.results import Effect
from veedel.experiments.stats.sequential import confidence_sequence_half_width

__all__ = ["METHODS", "adjust_effects", "adjust_pvalues"]

Method = Literal["bonferroni", "holm", "bh"]
METHODS = ("bonferroni", "holm", "bh")


@quiet_numpy
def adjust_pvalues(
    p_values: npt.ArrayLike, method: Method = "holm", *, axis: int | None = None
) -> FloatArray:
    """Adjust p-values for multiple testing.

    Parameters
    ----------
    p_values
        Raw p-values. NaN marks a comparison that was not computed: it stays
        NaN and does not count towards the number of tests.
    method
        ``"bonferroni"``, ``"holm"`` (both control the family-wise error rate)
        or ``"bh"`` (Benjamini-Hochberg, controls the false discovery rate).
    axis
        None (default): the whole array is one family. An integer: each slice
        along the other axes is its own family of tests along ``axis``.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, same shape; compare them with the unchanged alpha.

    Notes
    -----
    With ``m`` tests and ascending p-values ``p_(1) <= ... <= p_(m)``:
    Bonferroni ``min(1, m p_i)``; Holm ``max_{j <= i} min(1, (m - j + 1) p_(j))``;
    Benjamini-Hochberg ``min_{j >= i} min(1, m p_(j) / j)``.
    """
    check_choice("method", method, METHODS)
    p = as_float_array("p_values", p_values)
    if np.any((p < 0) | (p > 1)):
        raise InputError(
            "p_values", "must lie between 0 and 1 (NaN for missing)", p.tolist()
        )
    if p.size == 0:
        # Nothing to adjust (numpy cannot reshape an empty family).
        return p.copy()
    return np.asarray(np.minimum(_uncapped(p, method, axis), 1.0), np.float64)


def _adjust_rows(p: FloatArray, method: str) -> FloatArray:
    """Adjust each row as one family (NaN excluded), not capped at 1; trusted input."""
    missing = np.isnan(p)
    m = (~missing).sum(axis=1, keepdims=True).astype(np.float64)
    if method == "bonferroni":
        return np.where(missing, np.nan, p * m)

    # Sort with NaN last so that the first m ranks are the real tests.
    order = np.argsort(np.where(missing, np.inf, p), axis=1, kind="stable")
    sorted_p = np.take_along_axis(p, order, axis=1)
    rank = np.arange(1, p.shape[1] + 1, dtype=np.float64)[None, :]
    if method == "holm":
        steps = (m - rank + 1) * sorted_p
        steps = np.where(np.isnan(steps), -np.inf, steps)
        steps = np.maximum.accumulate(steps, axis=1)
    else:
        steps = m * sorted_p / rank
        steps = np.where(np.isnan(steps), np.inf, steps)
        steps = np.minimum.accumulate(steps[:, ::-1], axis=1)[:, ::-1]
    adjusted = np.empty_like(p)
    np.put_along_axis(adjusted, order, steps, axis=1)
    return np.where(missing, np.nan, adjusted)


@quiet_numpy
def adjust_effects(
    effect: Effect, method: Method = "holm", *, axis: int | None = None
) -> Effect:
    """Adjust an effect's p-values and widen its intervals to agree with them.

    Parameters
    ----------
    effect
        A frequentist effect (fixed-horizon or sequential) over many
        comparisons.
    method, axis
        As in :func:`adjust_pvalues`; comparisons with a reason are left out.

    Returns
    -------
    Effect
        Same estimates, adjusted ``p_value``, widened ``ci_lower``/``ci_upper``
        and ``adjustment`` set to the method.

    Notes
    -----
    Each interval is recomputed at its own level ``alpha_i = alpha p_i / q_i``
    where ``q_i`` is the adjusted p-value before capping at 1 (capping does
    not change which ``q_i`` are below alpha) and ``p_i`` the p-value implied by
    the interval itself (from its estimate, standard error and reference
    distribution). An interval at level ``alpha_i`` excludes zero exactly when
    ``p_i < alpha_i``, that is when ``q_i < alpha``: the adjusted interval and
    the adjusted p-value always agree. For Bonferroni ``alpha_i = alpha / m``,
    the textbook adjusted interval; for Holm and Benjamini-Hochberg it is the
    interval that inverts the step-wise procedure at this comparison's rank.
    """
    if effect.p_value is None or effect.df is None:
        raise InputError(
            "effect",
            "must carry p-values (Bayesian effects cannot be adjusted this way)",
            effect.method,
        )
    if effect.adjustment != "none":
        raise InputError("effect", "is already adjusted", effect.adjustment)
    computed = effect.reason == ""
    raw = np.where(computed, effect.p_value, np.nan)
    adjusted = adjust_pvalues(raw, method, axis=axis)
    uncapped = _uncapped(raw, method, axis)

    implied = _implied_p_value(effect)
    m = max(int(computed.sum()), 1)
    with np.errstate(all="ignore"):
        level = effect.alpha * implied / uncapped
    # A zero p-value leaves the ratio undefined; Bonferroni's level is safe there.
    level = np.where((uncapped > 0) & np.isfinite(level), level, effect.alpha / m)
    level = np.clip(level, 1e-300, effect.alpha)

    lower, upper = _interval_at(effect, level)
    return replace(
        effect,
        p_value=np.where(computed, adjusted, np.nan),
        ci_lower=np.where(computed, lower, np.nan),
        ci_upper=np.where(computed, upper, np.nan),
        adjustment=method,
    )


def _uncapped(p: FloatArray, method: str, axis: int | None) -> FloatArray:
    """Adjusted p-values before the cap at 1 (trusted input)."""
    if p.ndim == 0:
        return p.copy()
    moved = p.reshape(1, -1) if axis is None else np.moveaxis(p, axis, -1)
    adjusted = _adjust_rows(moved.reshape(-1, moved.shape[-1]), method)
    if axis is None:
        return adjusted.reshape(p.shape)
    return np.moveaxis(adjusted.reshape(moved.shape), -1, axis)


def _implied_p_value(effect: Effect) -> FloatArray:
    """The p-value that the effect's interval inverts (trusted input)."""
    if effect.method == "confidence_sequence":
        assert effect.mixing_variance is not None
        variance = effect.standard_error**2
        tau2 = effect.mixing_variance
        d = effect.point_estimate
        with np.errstate(all="ignore"):
            log_ratio = 0.5 * np.log(variance / (variance + tau2)) + tau2 * d * d / (
                2 * variance * (variance + tau2)
            )
            return np.asarray(np.minimum(1.0, np.exp(-log_ratio)), np.float64)
    assert effect.df is not None
    with np.errstate(all="ignore"):
        statistic = effect.point_estimate / effect.standard_error
    return p_value(statistic, effect.df, effect.alternative)


def _interval_at(effect: Effect, level: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The effect's interval recomputed at per-element levels (trusted input)."""
    if effect.method == "confidence_sequence":
        assert effect.mixing_variance is not None
        half = confidence_sequence_half_width(
            effect.standard_error**2, effect.mixing_variance, level
        )
        return effect.point_estimate - half, effect.point_estimate + half
    assert effect.df is not None
    return interval(
        effect.point_estimate,
        effect.standard_error,
        effect.df,
        level,
        effect.alternative,
    )
