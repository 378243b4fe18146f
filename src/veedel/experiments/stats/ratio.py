"""Ratio metrics (sum of a numerator over sum of a denominator) by the delta method.

A ratio metric such as votes per post is randomised by user but measured per
post, so posts of one user are not independent. The delta method linearises the
ratio around the arm means and gives a variance that respects the user as the
unit of analysis.

References
----------
Deng, A., Knoblich, U. and Lu, J. (2018). Applying the delta method in metric
analytics: a practical guide with novel ideas. KDD 2018.
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
)
from veedel.experiments.stats._quiet import quiet_numpy
from veedel.experiments.stats.inputs import FloatArray, RatioStats, check_arms
from veedel.experiments.stats.reasons import Reason, merge_reasons
from veedel.experiments.stats.results import Effect

__all__ = ["compare_ratios", "ratio_arm", "ratio_unit_variance"]


def ratio_unit_variance(stats: RatioStats) -> FloatArray:
    """Per-unit delta-method variance of the ratio, ``n * Var(R)``.

    Notes
    -----
    With ``R = Y/D`` (sums), per-unit means ``mean_d`` and sample (co)variances
    ``s_y**2, s_d**2, s_yd``::

        n Var(R) = (s_y**2 - 2 R s_yd + R**2 s_d**2) / mean_d**2
    """
    numerator, denominator = stats.numerator, stats.denominator
    ratio = stats.ratio
    with np.errstate(all="ignore"):
        spread = (
            numerator.variance
            - 2 * ratio * stats.covariance
            + ratio**2 * denominator.variance
        )
        return np.asarray(spread / denominator.mean**2, dtype=np.float64)


def ratio_arm(stats: RatioStats) -> ArmEstimate:
    """Reduce a ratio metric to the ratio and its delta-method variance."""
    unit_variance = ratio_unit_variance(stats)
    reason = stats.reason_codes()
    scale = 1e-9 * np.abs(stats.numerator.variance) + 1e-300
    negative = unit_variance * stats.denominator.mean**2 < -scale
    reason = merge_reasons(reason, negative, Reason.INCONSISTENT_SUMS)
    with np.errstate(all="ignore"):
        variance = np.maximum(unit_variance, 0.0) / stats.n
    return ArmEstimate(stats.ratio, variance, stats.n, reason)


@quiet_numpy
def compare_ratios(
    control: RatioStats,
    treatment: RatioStats,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    scale: Scale = "absolute",
) -> Effect:
    """Compare a ratio metric between two arms with delta-method standard errors.

    Parameters
    ----------
    control, treatment
        Ratio sufficient statistics per arm; arrays broadcast.
    alpha, alternative, scale
        As in :func:`compare_means`.

    Notes
    -----
    Each arm's ratio ``R = sum(y) / sum(d)`` has variance
    ``(s_y**2 - 2 R s_yd + R**2 s_d**2) / (n mean_d**2)`` (Deng et al.,
    2018). The absolute difference uses a z statistic with the sum of the
    two variances; the relative difference adds the control's uncertainty by
    the delta method as in :func:`compare_means`.
    """
    alpha = check_alpha(alpha)
    check_arms(control, treatment)
    check_choice("alternative", alternative, ALTERNATIVES)
    check_choice("scale", scale, SCALES)

    return build_effect(
        ratio_arm(control),
        ratio_arm(treatment),
        kind="ratio",
        method="delta_z",
        scale=scale,
        alpha=alpha,
        alternative=alternative,
    )
