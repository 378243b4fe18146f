"""Always-valid inference: confidence sequences and the mSPRT p-value.

A fixed-horizon p-value is only valid when it is looked at once, at the planned
end. A product manager who checks the dashboard every day and stops at the first
"significant" day has a false-positive rate far above alpha. The methods here
stay valid however often one looks: the chance that the interval ever (on any
day) misses the true effect is at most alpha.

Both rest on the same normal-mixture martingale. With an effect estimate
``d`` whose variance is ``V`` (shrinking like 1/n) and a normal mixing
distribution of variance ``tau2`` over the true effect, the mixture likelihood
ratio against "no effect" is::

    Lambda = sqrt(V / (V + tau2)) * exp(tau2 d**2 / (2 V (V + tau2)))

By Ville's inequality the chance that Lambda ever exceeds 1/alpha under the
null is at most alpha, so ``p = min(1, 1/Lambda)`` (its running minimum over
looks) is an always-valid p-value (Johari et al., 2017). Inverting the same
inequality for every possible effect gives the confidence sequence::

    d -/+ sqrt(V (V + tau2) / tau2 * (2 log(1/alpha) + log((V + tau2) / V)))

(Howard et al., 2021, normal mixture boundary). The sequence excludes zero
exactly when the current look's mSPRT p-value is below alpha.

``tau2`` only affects width, not validity. It is tuned so that the sequence is
narrowest at the expected sample size: with ``V*`` the variance expected there,
``tau2 = r V*`` where ``r`` solves ``r = 2 log(1/alpha) + log(1 + r)``.

References
----------
Johari, R., Koomen, P., Pekelis, L. and Walsh, D. (2017). Peeking at A/B tests:
why it matters, and what to do about it. KDD 2017.

Howard, S. R., Ramdas, A., McAuliffe, J. and Sekhon, J. (2021). Time-uniform,
nonparametric, nonasymptotic confidence sequences. Annals of Statistics 49(2).
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from veedel.errors import InputError
from veedel.experiments.stats._inference import check_alpha, mask_effect
from veedel.experiments.stats._quiet import quiet_numpy
from veedel.experiments.stats.inputs import FloatArray, as_float_array
from veedel.experiments.stats.reasons import (
    Reason,
    merge_reasons,
    reason_codes,
    reason_names,
)
from veedel.experiments.stats.results import Effect

__all__ = [
    "confidence_sequence",
    "msprt_likelihood_ratio",
    "msprt_pvalue",
    "sequential_effect",
    "tuned_mixing_variance",
]


def _non_negative(name: str, value: npt.ArrayLike) -> FloatArray:
    """A float array with no negative entry; NaN passes, to become a reason code."""
    array = as_float_array(name, value)
    with np.errstate(invalid="ignore"):
        negative = array < 0
    if np.any(negative):
        raise InputError(
            name, "must not be negative (it is a variance)", array[negative].tolist()
        )
    return array


def tuned_mixing_variance(
    variance_at_expected_n: npt.ArrayLike, alpha: float = 0.05
) -> FloatArray:
    """Mixing variance that makes the confidence sequence narrowest at a given variance.

    Parameters
    ----------
    variance_at_expected_n
        Variance of the effect estimate expected at the planned sample size.
    alpha
        Significance level of the sequence.

    Notes
    -----
    The half-width squared over ``V**2`` is ``(1 + 1/r)(2L + log(1 + r))`` with
    ``r = tau2 / V`` and ``L = log(1/alpha)``; setting its derivative to zero
    gives ``r = 2L + log(1 + r)``, solved here by fixed-point iteration (a
    contraction, as the slope of log(1 + r) is below 1).
    """
    alpha = check_alpha(alpha)
    variance = _non_negative("variance_at_expected_n", variance_at_expected_n)
    two_l = 2.0 * np.log(1.0 / alpha)
    r = two_l
    for _ in range(60):
        r = two_l + np.log1p(r)
    return np.asarray(r * variance, dtype=np.float64)


@quiet_numpy
def msprt_likelihood_ratio(
    point_estimate: npt.ArrayLike,
    variance: npt.ArrayLike,
    mixing_variance: npt.ArrayLike,
) -> FloatArray:
    """Normal-mixture likelihood ratio of "effect != 0" against "effect = 0".

    See the module notes for the formula (Johari et al., 2017).
    """
    d = as_float_array("point_estimate", point_estimate)
    v = _non_negative("variance", variance)
    tau2 = _non_negative("mixing_variance", mixing_variance)
    with np.errstate(all="ignore"):
        log_ratio = 0.5 * np.log(v / (v + tau2)) + tau2 * d * d / (2 * v * (v + tau2))
        return np.asarray(np.exp(log_ratio), dtype=np.float64)


@quiet_numpy
def msprt_pvalue(
    point_estimate: npt.ArrayLike,
    variance: npt.ArrayLike,
    mixing_variance: npt.ArrayLike,
    *,
    look_axis: int | None = None,
) -> FloatArray:
    """Always-valid p-value ``min(1, 1/Lambda)``.

    With ``look_axis`` the inputs hold successive looks along that axis and the
    result is the running minimum over looks, which is what stays valid.
    """
    ratio = msprt_likelihood_ratio(point_estimate, variance, mixing_variance)
    with np.errstate(all="ignore"):
        p = np.minimum(1.0, 1.0 / ratio)
    if look_axis is not None:
        p = np.fmin.accumulate(p, axis=look_axis)
    return np.asarray(p, dtype=np.float64)


@quiet_numpy
def confidence_sequence(
    point_estimate: npt.ArrayLike,
    variance: npt.ArrayLike,
    mixing_variance: npt.ArrayLike,
    alpha: npt.ArrayLike = 0.05,
) -> tuple[FloatArray, FloatArray]:
    """Lower and upper ends of the two-sided normal-mixture confidence sequence."""
    d = as_float_array("point_estimate", point_estimate)
    half = confidence_sequence_half_width(
        as_float_array("variance", variance),
        as_float_array("mixing_variance", mixing_variance),
        as_float_array("alpha", alpha),
    )
    return d - half, d + half


def confidence_sequence_half_width(
    variance: FloatArray, mixing_variance: FloatArray, alpha: FloatArray | float
) -> FloatArray:
    """Half-width of the confidence sequence (trusted inputs)."""
    v, tau2 = variance, mixing_variance
    with np.errstate(all="ignore"):
        width2 = (
            v
            * (v + tau2)
            / tau2
            * (2 * np.log(1 / np.asarray(alpha)) + np.log1p(tau2 / v))
        )
        return np.asarray(np.sqrt(width2), dtype=np.float64)


@quiet_numpy
def sequential_effect(
    effect: Effect,
    *,
    expected_n: npt.ArrayLike | None = None,
    mixing_variance: npt.ArrayLike | None = None,
    previous: Effect | None = None,
    look_axis: int | None = None,
) -> Effect:
    """Turn a fixed-horizon effect into an always-valid one.

    Parameters
    ----------
    effect
        A two-sided effect from ``compare_means``, ``compare_proportions``,
        ``compare_ratios`` or ``cuped_adjust`` (absolute or relative).
    expected_n
        Units per arm expected at the planned end; tunes the mixing variance so
        that the sequence is narrowest there. Needed unless ``mixing_variance``
        is given.
    mixing_variance
        The mixing variance ``tau2`` on the effect's scale, to fix it
        explicitly (keep it the same on every look).
    previous
        The sequential effect of the previous look, if any. The interval is
        intersected with it and the p-value is the running minimum, which
        keeps both valid and monotone.
    look_axis
        If the effect holds successive looks (e.g. cumulative statistics per
        day) along this axis: the mixing variance is tuned once, from the
        median per-unit variance over the looks, and the interval and p-value
        are the running intersection and minimum along the axis.

    Returns
    -------
    Effect
        ``method="confidence_sequence"``; ``ci_lower``/``ci_upper`` form the
        confidence sequence, ``p_value`` is the always-valid mSPRT p-value,
        ``mixing_variance`` records ``tau2``.
    """
    if effect.alternative != "two-sided":
        raise InputError(
            "effect.alternative",
            "must be two-sided for sequential testing",
            effect.alternative,
            fix="Compare with alternative='two-sided'.",
        )
    if effect.p_value is None:
        raise InputError(
            "effect", "must be a frequentist effect with a p-value", effect.method
        )
    variance = effect.standard_error**2
    if mixing_variance is None:
        if expected_n is None:
            raise InputError(
                "expected_n", "must be given when mixing_variance is not", None
            )
        n_expected = as_float_array("expected_n", expected_n)
        if np.any(~(n_expected > 0)):
            raise InputError("expected_n", "must be positive", expected_n)
        n_now = (effect.control_n + effect.treatment_n) / 2
        per_unit = variance * n_now
        if look_axis is not None:
            # One mixing variance for every look: the typical per-unit variance.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                typical = np.nanmedian(per_unit, axis=look_axis, keepdims=True)
            per_unit = np.broadcast_to(typical, per_unit.shape)
        tau2 = tuned_mixing_variance(per_unit / n_expected, effect.alpha)
    else:
        tau2 = as_float_array("mixing_variance", mixing_variance)
        if np.any(~(tau2 > 0)):
            raise InputError("mixing_variance", "must be positive", mixing_variance)
    tau2 = np.broadcast_to(tau2, effect.shape).astype(np.float64)

    p = msprt_pvalue(effect.point_estimate, variance, tau2)
    half = confidence_sequence_half_width(variance, tau2, effect.alpha)
    lower, upper = effect.point_estimate - half, effect.point_estimate + half
    codes = reason_codes(effect.reason)
    if previous is not None and previous.p_value is not None:
        p = np.fmin(p, previous.p_value)
        lower = np.fmax(lower, previous.ci_lower)
        upper = np.fmin(upper, previous.ci_upper)
    if look_axis is not None:
        p = np.fmin.accumulate(p, axis=look_axis)
        lower = np.fmax.accumulate(lower, axis=look_axis)
        upper = np.fmin.accumulate(upper, axis=look_axis)
    codes = merge_reasons(codes, ~np.isfinite(tau2), Reason.NON_FINITE_INPUT)

    result = replace(
        effect,
        method="confidence_sequence",
        ci_lower=np.asarray(lower, np.float64),
        ci_upper=np.asarray(upper, np.float64),
        p_value=p,
        statistic=np.asarray(effect.point_estimate / np.sqrt(variance), np.float64),
        mixing_variance=tau2,
        reason=reason_names(codes),
    )
    return mask_effect(result, codes)
