"""Fixed-horizon tests for means and proportions, absolute and relative.

References
----------
Welch, B. L. (1947). The generalization of "Student's" problem when several
different population variances are involved. Biometrika 34, 28-35.

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
    welch_df,
)
from veedel.experiments.stats._quiet import quiet_numpy
from veedel.experiments.stats.inputs import SampleStats, check_arms, count_reasons
from veedel.experiments.stats.reasons import Reason, merge_reasons
from veedel.experiments.stats.results import Effect

__all__ = ["compare_means", "compare_proportions", "mean_arm", "proportion_arm"]


def mean_arm(stats: SampleStats) -> ArmEstimate:
    """Reduce a per-unit metric to its mean and the variance of the mean."""
    with np.errstate(all="ignore"):
        variance = stats.variance / stats.n
    return ArmEstimate(stats.mean, variance, stats.n, stats.reason_codes())


def proportion_arm(stats: SampleStats) -> ArmEstimate:
    """Reduce a 0/1 metric to its rate and the Wald variance p(1 - p) / n."""
    reason = count_reasons(stats.n, stats.sum)
    invalid = (stats.sum < 0) | (stats.sum > stats.n)
    reason = merge_reasons(reason, invalid & (stats.n > 0), Reason.INVALID_PROPORTION)
    rate = stats.mean
    with np.errstate(all="ignore"):
        variance = rate * (1.0 - rate) / stats.n
    return ArmEstimate(rate, variance, stats.n, reason)


@quiet_numpy
def compare_means(
    control: SampleStats,
    treatment: SampleStats,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    scale: Scale = "absolute",
) -> Effect:
    """Compare the mean of a per-unit metric between two arms (Welch's t-test).

    Parameters
    ----------
    control, treatment
        Sufficient statistics of each arm; arrays broadcast against each other.
    alpha
        Significance level; the interval has coverage 1 - alpha.
    alternative
        ``"two-sided"``, ``"greater"`` (treatment above control) or ``"less"``.
    scale
        ``"absolute"`` for treatment - control, ``"relative"`` for
        (treatment - control) / |control|.

    Returns
    -------
    Effect
        One element per broadcast comparison.

    Notes
    -----
    Absolute: the difference of means with standard error
    ``sqrt(s_t**2 / n_t + s_c**2 / n_c)`` and Welch-Satterthwaite degrees of
    freedom ``(v_t + v_c)**2 / (v_t**2 / (n_t - 1) + v_c**2 / (n_c - 1))``
    where ``v = s**2 / n`` (Welch, 1947). The interval uses the same t
    quantile, so it excludes zero exactly when the p-value is below alpha.

    Relative: ``(m_t - m_c) / |m_c|`` with the delta-method variance
    ``v_t / m_c**2 + m_t**2 v_c / m_c**4`` and a normal reference distribution
    (Deng et al., 2018). A control mean of zero or below gives the reason
    ``control_mean_not_positive``.
    """
    alpha = check_alpha(alpha)
    check_arms(control, treatment)
    check_choice("alternative", alternative, ALTERNATIVES)
    check_choice("scale", scale, SCALES)

    control_arm, treatment_arm = mean_arm(control), mean_arm(treatment)
    return build_effect(
        control_arm,
        treatment_arm,
        kind="mean",
        method="welch_t" if scale == "absolute" else "delta_z",
        scale=scale,
        alpha=alpha,
        alternative=alternative,
        df=welch_df(control_arm, treatment_arm),
    )


@quiet_numpy
def compare_proportions(
    control: SampleStats,
    treatment: SampleStats,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    scale: Scale = "absolute",
) -> Effect:
    """Compare a conversion rate (a 0/1 metric) between two arms.

    ``sum`` of each :class:`SampleStats` is the number of successes; build one
    with ``SampleStats.from_counts(successes, n)``.

    Notes
    -----
    Absolute: the p-value comes from the pooled two-proportion z statistic
    ``(p_t - p_c) / sqrt(p (1 - p) (1/n_t + 1/n_c))`` with the pooled rate
    ``p = (x_t + x_c) / (n_t + n_c)``, the classical test with the correct
    variance under the null hypothesis. The interval is the unpooled Wald
    interval ``(p_t - p_c) -/+ z sqrt(p_t (1 - p_t)/n_t + p_c (1 - p_c)/n_c)``.
    The two standard errors differ slightly, so the interval and the p-value
    may disagree at the very edge of significance; multiple-testing adjusted
    intervals are built to agree with adjusted p-values (see
    :func:`adjust_effects`).

    Relative: ``(p_t - p_c) / p_c`` with the delta-method variance, as for
    :func:`compare_means`, tested with its own z statistic.
    """
    alpha = check_alpha(alpha)
    check_arms(control, treatment)
    check_choice("alternative", alternative, ALTERNATIVES)
    check_choice("scale", scale, SCALES)

    control_arm, treatment_arm = proportion_arm(control), proportion_arm(treatment)
    with np.errstate(all="ignore"):
        pooled = (control.sum + treatment.sum) / (control.n + treatment.n)
        null_se = np.sqrt(pooled * (1 - pooled) * (1 / control.n + 1 / treatment.n))
    return build_effect(
        control_arm,
        treatment_arm,
        kind="proportion",
        method="pooled_z" if scale == "absolute" else "delta_z",
        scale=scale,
        alpha=alpha,
        alternative=alternative,
        null_standard_error=null_se,
    )
