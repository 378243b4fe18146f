"""CUPED: variance reduction with a pre-period covariate.

Much of the noise in a metric is explained by how active each user already was
before the experiment. CUPED subtracts the part of the metric that the
pre-period covariate predicts, with one coefficient ``theta`` shared by both
arms. Randomisation makes the covariate balanced in expectation, so the
adjustment removes noise without moving the expected effect; the interval
shrinks by the share of variance the covariate explains.

The unadjusted comparison is always returned beside the adjusted one.

References
----------
Deng, A., Xu, Y., Kohavi, R. and Walker, T. (2013). Improving the sensitivity of
online controlled experiments by utilizing pre-experiment data. WSDM 2013.

Deng, A., Knoblich, U. and Lu, J. (2018). Applying the delta method in metric
analytics. KDD 2018 (ratio metrics).
"""

from __future__ import annotations

import numpy as np

from veedel.experiments.stats._inference import (
    ALTERNATIVES,
    SCALES,
    Alternative,
    ArmEstimate,
    Scale,
    build_effect,
    check_alpha,
    check_choice,
    welch_df,
)
from veedel.experiments.stats._quiet import quiet_numpy
from veedel.experiments.stats.frequentist import compare_means
from veedel.experiments.stats.inputs import (
    CupedRatioStats,
    CupedStats,
    FloatArray,
    check_arms,
    sample_covariance,
)
from veedel.experiments.stats.ratio import compare_ratios, ratio_arm
from veedel.experiments.stats.results import CupedResult, Effect

__all__ = ["cuped_adjust", "cuped_adjust_ratio"]


def _pooled_theta(numerator: FloatArray, covariate_ss: FloatArray) -> FloatArray:
    """theta = covariance / covariate variance; 0 where the covariate is constant."""
    with np.errstate(all="ignore"):
        theta = numerator / covariate_ss
    return np.where(np.isfinite(theta) & (covariate_ss > 0), theta, 0.0)


def _reduction(adjusted: Effect, unadjusted: Effect) -> FloatArray:
    with np.errstate(all="ignore"):
        ratio = adjusted.standard_error**2 / unadjusted.standard_error**2
    return np.asarray(1.0 - ratio, dtype=np.float64)


@quiet_numpy
def cuped_adjust(
    control: CupedStats,
    treatment: CupedStats,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    scale: Scale = "absolute",
) -> CupedResult:
    """Compare means with CUPED adjustment by a pre-period covariate.

    Parameters
    ----------
    control, treatment
        Metric and covariate sufficient statistics per arm; arrays broadcast.
    alpha, alternative, scale
        As in :func:`compare_means`.

    Returns
    -------
    CupedResult
        ``adjusted`` and ``unadjusted`` effects, ``theta`` and
        ``variance_reduction``.

    Notes
    -----
    ``theta = Cov(X, Y) / Var(X)`` over the units of both arms together
    (pooled, so that both arms are adjusted alike). Each arm's adjusted mean is
    ``mean(Y) - theta (mean(X) - mean_pooled(X))`` with variance
    ``(s_y**2 + theta**2 s_x**2 - 2 theta s_xy) / n`` (Deng et al., 2013).
    The absolute difference uses Welch degrees of freedom on the adjusted
    variances; the relative one the delta method. Where the covariate does not
    vary, ``theta`` is 0 and the adjusted result equals the unadjusted one.
    """
    alpha = check_alpha(alpha)
    check_arms(control, treatment)
    check_choice("alternative", alternative, ALTERNATIVES)
    check_choice("scale", scale, SCALES)

    n = control.n + treatment.n
    sum_x = control.covariate_sum + treatment.covariate_sum
    sum_y = control.sum + treatment.sum
    with np.errstate(all="ignore"):
        cross = control.cross_sum + treatment.cross_sum - sum_x * sum_y / n
        covariate_ss = (
            control.covariate_sum_sq + treatment.covariate_sum_sq - sum_x * sum_x / n
        )
        pooled_mean_x = sum_x / n
    theta = _pooled_theta(cross, covariate_ss)

    arms = [
        _adjusted_mean_arm(arm, theta, pooled_mean_x) for arm in (control, treatment)
    ]
    adjusted = build_effect(
        arms[0],
        arms[1],
        kind="cuped_mean",
        method="welch_t" if scale == "absolute" else "delta_z",
        scale=scale,
        alpha=alpha,
        alternative=alternative,
        df=welch_df(arms[0], arms[1]),
    )
    unadjusted = compare_means(
        control.metric,
        treatment.metric,
        alpha=alpha,
        alternative=alternative,
        scale=scale,
    )
    return CupedResult(
        adjusted=adjusted,
        unadjusted=unadjusted,
        theta=np.broadcast_to(theta, adjusted.shape).astype(np.float64),
        variance_reduction=_reduction(adjusted, unadjusted),
    )


def _adjusted_mean_arm(
    stats: CupedStats, theta: FloatArray, pooled_mean_x: FloatArray
) -> ArmEstimate:
    """One arm's CUPED-adjusted mean and its variance (trusted input)."""
    metric, covariate = stats.metric, stats.covariate
    covariance = sample_covariance(
        stats.n, stats.sum, stats.covariate_sum, stats.cross_sum
    )
    with np.errstate(all="ignore"):
        mean = metric.mean - theta * (covariate.mean - pooled_mean_x)
        unit_variance = (
            metric.variance + theta**2 * covariate.variance - 2 * theta * covariance
        )
        variance = np.maximum(unit_variance, 0.0) / stats.n
    return ArmEstimate(
        np.asarray(mean, np.float64),
        np.asarray(variance, np.float64),
        stats.n,
        stats.reason_codes(),
    )


@quiet_numpy
def cuped_adjust_ratio(
    control: CupedRatioStats,
    treatment: CupedRatioStats,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    scale: Scale = "absolute",
) -> CupedResult:
    """Compare a ratio metric with CUPED adjustment by a per-unit covariate.

    Notes
    -----
    The ratio ``R = sum(y) / sum(d)`` is linearised per unit as
    ``u = (y - R d) / mean(d)`` (the delta method), so that
    ``Var(R) = Var(u) / n`` and ``Cov(R, mean(x)) = Cov(u, x) / n``. With the
    pooled ``R`` and ``mean(d)`` of both arms::

        theta = (S_yx - R S_dx) / mean(d) / (S_xx - S_x**2 / N)

    (sums over all ``N`` units; with ``d = 1`` this is the mean's ``theta``).
    Each arm's adjusted ratio is ``R_arm - theta (mean_arm(x) - mean(x))`` with
    variance ``Var(R_arm) + theta**2 Var(mean_arm(x)) - 2 theta Cov(R_arm,
    mean_arm(x))``, using the arm's own ``R`` and ``mean(d)`` (Deng et al.,
    2018).
    """
    alpha = check_alpha(alpha)
    check_arms(control, treatment)
    check_choice("alternative", alternative, ALTERNATIVES)
    check_choice("scale", scale, SCALES)

    n = control.n + treatment.n
    sum_x = control.covariate_sum + treatment.covariate_sum
    sum_y = control.numerator_sum + treatment.numerator_sum
    sum_d = control.denominator_sum + treatment.denominator_sum
    with np.errstate(all="ignore"):
        ratio = sum_y / sum_d
        cross = (
            control.numerator_covariate_sum
            + treatment.numerator_covariate_sum
            - ratio
            * (control.denominator_covariate_sum + treatment.denominator_covariate_sum)
        ) / (sum_d / n)
        covariate_ss = (
            control.covariate_sum_sq + treatment.covariate_sum_sq - sum_x * sum_x / n
        )
        pooled_mean_x = sum_x / n
    theta = _pooled_theta(cross, covariate_ss)

    arms = [
        _adjusted_ratio_arm(arm, theta, pooled_mean_x) for arm in (control, treatment)
    ]
    adjusted = build_effect(
        arms[0],
        arms[1],
        kind="cuped_ratio",
        method="delta_z",
        scale=scale,
        alpha=alpha,
        alternative=alternative,
    )
    unadjusted = compare_ratios(
        control.ratio,
        treatment.ratio,
        alpha=alpha,
        alternative=alternative,
        scale=scale,
    )
    return CupedResult(
        adjusted=adjusted,
        unadjusted=unadjusted,
        theta=np.broadcast_to(theta, adjusted.shape).astype(np.float64),
        variance_reduction=_reduction(adjusted, unadjusted),
    )


def _adjusted_ratio_arm(
    stats: CupedRatioStats, theta: FloatArray, pooled_mean_x: FloatArray
) -> ArmEstimate:
    """One arm's CUPED-adjusted ratio and its variance (trusted input)."""
    plain = ratio_arm(stats.ratio)
    covariate = stats.covariate
    ratio = stats.ratio.ratio
    with np.errstate(all="ignore"):
        mean_d = stats.denominator_sum / stats.n
        cov_yx = sample_covariance(
            stats.n,
            stats.numerator_sum,
            stats.covariate_sum,
            stats.numerator_covariate_sum,
        )
        cov_dx = sample_covariance(
            stats.n,
            stats.denominator_sum,
            stats.covariate_sum,
            stats.denominator_covariate_sum,
        )
        cov_ratio_x = (cov_yx - ratio * cov_dx) / mean_d / stats.n
        variance = (
            plain.variance
            + theta**2 * covariate.variance / stats.n
            - 2 * theta * cov_ratio_x
        )
        mean = plain.mean - theta * (covariate.mean - pooled_mean_x)
    return ArmEstimate(
        np.asarray(mean, np.float64),
        np.asarray(np.maximum(variance, 0.0), np.float64),
        stats.n,
        stats.reason_codes(),
    )
