"""Quantile metrics (e.g. median session length) from unit-level values.

A quantile has no sufficient statistics, so this comparison takes the values of
every unit. Two ways to get the standard error of each arm's sample quantile:

* ``"asymptotic"`` (default, deterministic): the distribution-free order
  statistic interval. The number of values below the true ``q``-quantile is
  Binomial(n, q), so the order statistics at ranks
  ``n q -/+ z sqrt(n q (1 - q))`` bracket it with probability about
  ``1 - 2 Phi(-z)``; half the distance between them, divided by ``z``, is a
  standard error that needs no density estimate (Deng, Knoblich and Lu, 2018,
  Price and Bonett, 2001).
* ``"bootstrap"``: the standard deviation of the quantile over resamples of
  each arm drawn with a fixed seed, so results are reproducible.

Either way the difference is tested with a z statistic and the interval is
``estimate -/+ z se``, so it agrees with the p-value and can be adjusted for
multiple testing like every other effect.

References
----------
Deng, A., Knoblich, U. and Lu, J. (2018). Applying the delta method in metric
analytics: a practical guide with novel ideas. KDD 2018.

Price, R. M. and Bonett, D. G. (2001). Estimating the variance of the sample
median. Journal of Statistical Computation and Simulation 68, 295-305.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from veedel.errors import InputError
from veedel.experiments.stats._inference import (
    ALTERNATIVES,
    SCALES,
    Alternative,
    ArmEstimate,
    Scale,
    build_effect,
    check_alpha,
    check_choice,
)
from veedel.experiments.stats._quiet import quiet_numpy
from veedel.experiments.stats.inputs import FloatArray, as_float_array
from veedel.experiments.stats.reasons import Reason, merge_reasons, no_reason
from veedel.experiments.stats.results import Effect

__all__ = ["compare_quantiles", "quantile_standard_error"]

Method = Literal["asymptotic", "bootstrap"]

# z of the order-statistic bracket used only to estimate the standard error.
_BRACKET_Z = 1.959963984540054


def quantile_standard_error(sorted_values: FloatArray, q: FloatArray) -> FloatArray:
    """Order-statistic standard error of the sample ``q``-quantile(s).

    ``sorted_values`` must be sorted and finite (trusted input).
    """
    n = sorted_values.size
    spread = _BRACKET_Z * np.sqrt(n * q * (1 - q))
    lower = np.clip(np.floor(n * q - spread), 1, n).astype(int) - 1
    upper = np.clip(np.ceil(n * q + spread), 1, n).astype(int) - 1
    width = sorted_values[upper] - sorted_values[lower]
    return np.asarray(width / (2 * _BRACKET_Z), dtype=np.float64)


def _bootstrap_standard_error(
    values: FloatArray, q: FloatArray, n_resamples: int, rng: np.random.Generator
) -> FloatArray:
    """Bootstrap sd of the sample quantile(s), in chunks to bound memory."""
    n = values.size
    chunk = max(1, min(n_resamples, 20_000_000 // max(n, 1)))
    estimates = []
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        draws = values[rng.integers(0, n, size=(size, n))]
        estimates.append(np.quantile(draws, q, axis=1))
    stacked = np.concatenate(estimates, axis=-1)
    return np.asarray(np.std(stacked, axis=-1, ddof=1), dtype=np.float64)


def _arm(
    name: str,
    values: npt.ArrayLike,
    q: FloatArray,
    method: str,
    n_resamples: int,
    rng: np.random.Generator,
) -> ArmEstimate:
    data = as_float_array(name, values)
    if data.ndim != 1:
        raise InputError(name, "must be one value per unit (a 1-D array)", data.shape)
    n = np.full(q.shape, float(data.size))
    reason = no_reason(q.shape)
    reason = merge_reasons(
        reason, np.full(q.shape, not np.all(np.isfinite(data))), Reason.NON_FINITE_INPUT
    )
    reason = merge_reasons(reason, n == 0, Reason.NO_VALUES)
    reason = merge_reasons(reason, n < 2, Reason.TOO_FEW_UNITS)
    if np.any(reason != 0):
        nan = np.full(q.shape, np.nan)
        return ArmEstimate(nan, nan, n, reason)

    ordered = np.sort(data)
    estimate = np.asarray(np.quantile(ordered, q), dtype=np.float64)
    if method == "bootstrap":
        se = _bootstrap_standard_error(ordered, q, n_resamples, rng)
    else:
        se = quantile_standard_error(ordered, q)
    return ArmEstimate(estimate, se * se, n, reason)


@quiet_numpy
def compare_quantiles(
    control_values: npt.ArrayLike,
    treatment_values: npt.ArrayLike,
    *,
    quantile: npt.ArrayLike = 0.5,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    scale: Scale = "absolute",
    method: Method = "asymptotic",
    n_resamples: int = 2000,
    seed: int = 0,
) -> Effect:
    """Compare a quantile of a per-unit metric between two arms.

    Parameters
    ----------
    control_values, treatment_values
        One value per unit in each arm (1-D).
    quantile
        The quantile(s) to compare, e.g. 0.5 for the median or [0.5, 0.9];
        the result has the shape of ``quantile``.
    alpha, alternative, scale
        As in :func:`compare_means`.
    method
        ``"asymptotic"`` (order-statistic standard error, default) or
        ``"bootstrap"`` (``n_resamples`` resamples drawn with ``seed``).

    Notes
    -----
    The sample quantile uses numpy's default (linear interpolation). The
    difference ``Q_t - Q_c`` has standard error ``sqrt(se_t**2 + se_c**2)``;
    the relative difference uses the delta method as for means.
    """
    alpha = check_alpha(alpha)
    check_choice("alternative", alternative, ALTERNATIVES)
    check_choice("scale", scale, SCALES)
    check_choice("method", method, ("asymptotic", "bootstrap"))
    q = as_float_array("quantile", quantile)
    if np.any(~((q > 0) & (q < 1))):
        raise InputError("quantile", "must lie strictly between 0 and 1", q.tolist())
    if n_resamples < 100:
        raise InputError("n_resamples", "must be at least 100", n_resamples)

    rng = np.random.default_rng(seed)
    control = _arm("control_values", control_values, q, method, n_resamples, rng)
    treatment = _arm("treatment_values", treatment_values, q, method, n_resamples, rng)
    return build_effect(
        control,
        treatment,
        kind="quantile",
        method=f"{method}_z",
        scale=scale,
        alpha=alpha,
        alternative=alternative,
    )
