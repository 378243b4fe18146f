"""Planning: how many users, how small an effect, how many days.

All formulas use the normal approximation to the two-sample test of the
absolute difference, with equal arms. A relative MDE is turned into an
absolute one by multiplying with the baseline mean.

References
----------
Fleiss, J. L., Levin, B. and Paik, M. C. (2003). Statistical Methods for Rates
and Proportions, 3rd ed., chapter 4 (two proportions, pooled variance under
the null).

Chow, S.-C., Shao, J. and Wang, H. (2008). Sample Size Calculations in Clinical
Research, 2nd ed., chapter 3 (two means).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special

from veedel.errors import InputError
from veedel.experiments.stats._inference import (
    ALTERNATIVES,
    Alternative,
    check_alpha,
    check_choice,
)
from veedel.experiments.stats._quiet import quiet_numpy
from veedel.experiments.stats.inputs import FloatArray, RatioStats, as_float_array
from veedel.experiments.stats.ratio import ratio_unit_variance
from veedel.experiments.stats.results import Plan

__all__ = [
    "Baseline",
    "days_left",
    "days_needed",
    "minimum_detectable_effect",
    "plan_experiment",
    "sample_size_per_arm",
]


@dataclass(frozen=True, eq=False)
class Baseline:
    """What the control arm is expected to look like: kind, mean, per-unit variance.

    Build one with :meth:`for_proportion`, :meth:`for_mean` or :meth:`for_ratio`.
    """

    kind: str
    mean: FloatArray
    variance: FloatArray

    @classmethod
    def for_proportion(cls, rate: npt.ArrayLike) -> Baseline:
        """A conversion rate strictly between 0 and 1."""
        p = as_float_array("rate", rate)
        if np.any(~((p > 0) & (p < 1))):
            raise InputError("rate", "must lie strictly between 0 and 1", p.tolist())
        return cls("proportion", p, p * (1 - p))

    @classmethod
    def for_mean(
        cls, standard_deviation: npt.ArrayLike, mean: npt.ArrayLike = np.nan
    ) -> Baseline:
        """A per-unit mean; ``mean`` is only needed for a relative MDE."""
        sd = as_float_array("standard_deviation", standard_deviation)
        if np.any(~(sd > 0)):
            raise InputError("standard_deviation", "must be positive", sd.tolist())
        return cls("mean", as_float_array("mean", mean), sd * sd)

    @classmethod
    def for_ratio(cls, stats: RatioStats) -> Baseline:
        """A ratio metric, from last period's control statistics (delta method)."""
        return cls("ratio", stats.ratio, ratio_unit_variance(stats))


def _quantiles(alpha: float, power: float, alternative: str) -> tuple[float, float]:
    alpha = check_alpha(alpha)
    power = check_alpha(power, "power")
    check_choice("alternative", alternative, ALTERNATIVES)
    tail = alpha / 2 if alternative == "two-sided" else alpha
    return float(special.ndtri(1 - tail)), float(special.ndtri(power))


def _absolute(
    baseline: Baseline, effect: npt.ArrayLike, relative: bool, name: str
) -> FloatArray:
    value = as_float_array(name, effect)
    if np.any(~(value > 0)):
        raise InputError(name, "must be positive", value.tolist())
    if not relative:
        return value
    if np.any(~(np.abs(baseline.mean) > 0)):
        raise InputError(
            "baseline.mean",
            "must be known and non-zero for a relative effect",
            baseline.mean.tolist(),
            fix="Give Baseline.for_mean(sd, mean=...) or use an absolute MDE.",
        )
    return np.asarray(value * np.abs(baseline.mean), np.float64)


@quiet_numpy
def sample_size_per_arm(
    baseline: Baseline,
    mde: npt.ArrayLike,
    *,
    relative: bool = False,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative = "two-sided",
    pooled: bool = True,
) -> FloatArray:
    """Users needed in each of two equal arms to detect ``mde`` with ``power``.

    Notes
    -----
    Means and ratios (per-unit variance ``s**2``, delta-method variance for a
    ratio)::

        n = 2 s**2 (z_a + z_b)**2 / mde**2

    Proportions (pooled variance under the null, Fleiss et al.)::

        n = (z_a sqrt(2 p (1 - p)) + z_b sqrt(p1 (1 - p1) + p2 (1 - p2)))**2 / mde**2

    with ``p2 = p1 + mde`` and ``p = (p1 + p2) / 2``. ``z_a`` is the normal
    quantile at ``1 - alpha/2`` (two-sided) or ``1 - alpha``, ``z_b`` at
    ``power``. ``pooled=False`` uses ``p1 (1 - p1) + p2 (1 - p2)`` in both
    terms (the unpooled Wald test), which asks for slightly fewer users. The
    result is not rounded; round up to plan.
    """
    z_a, z_b = _quantiles(alpha, power, alternative)
    delta = _absolute(baseline, mde, relative, "mde")
    with np.errstate(all="ignore"):
        if baseline.kind == "proportion":
            p1 = baseline.mean
            p2 = p1 + delta
            if np.any(p2 >= 1):
                raise InputError("mde", "takes the rate to 1 or beyond", delta.tolist())
            mean_rate = (p1 + p2) / 2
            alternative_variance = p1 * (1 - p1) + p2 * (1 - p2)
            null_variance = (
                2 * mean_rate * (1 - mean_rate) if pooled else alternative_variance
            )
            spread = z_a * np.sqrt(null_variance) + z_b * np.sqrt(alternative_variance)
            return np.asarray(spread**2 / delta**2, np.float64)
        return np.asarray(
            2 * baseline.variance * (z_a + z_b) ** 2 / delta**2, np.float64
        )


@quiet_numpy
def minimum_detectable_effect(
    baseline: Baseline,
    n_per_arm: npt.ArrayLike,
    *,
    relative: bool = False,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative = "two-sided",
) -> FloatArray:
    """Smallest effect (an increase) detectable with ``power`` at ``n_per_arm``.

    The inverse of :func:`sample_size_per_arm`. For proportions the pooled
    formula is solved for the MDE by fixed-point iteration.
    """
    z_a, z_b = _quantiles(alpha, power, alternative)
    n = as_float_array("n_per_arm", n_per_arm)
    if np.any(~(n > 0)):
        raise InputError("n_per_arm", "must be positive", n.tolist())
    with np.errstate(all="ignore"):
        if baseline.kind == "proportion":
            p1 = baseline.mean
            delta = (z_a + z_b) * np.sqrt(2 * baseline.variance / n)
            for _ in range(200):
                p2 = np.clip(p1 + delta, 0.0, 1.0)
                pooled = (p1 + p2) / 2
                spread = z_a * np.sqrt(2 * pooled * (1 - pooled)) + z_b * np.sqrt(
                    p1 * (1 - p1) + p2 * (1 - p2)
                )
                delta = spread / np.sqrt(n)
        else:
            delta = (z_a + z_b) * np.sqrt(2 * baseline.variance / n)
        if relative:
            delta = delta / np.abs(baseline.mean)
    return np.asarray(delta, np.float64)


def _arm_shares(weights: npt.ArrayLike | None) -> FloatArray:
    shares = (
        np.array([0.5, 0.5]) if weights is None else as_float_array("weights", weights)
    )
    if shares.ndim != 1 or shares.size < 2 or np.any(~(shares > 0)):
        raise InputError(
            "weights", "must be two or more positive numbers", shares.tolist()
        )
    return np.asarray(shares / shares.sum(), np.float64)


def days_needed(
    n_per_arm: npt.ArrayLike,
    daily_units: npt.ArrayLike,
    *,
    weights: npt.ArrayLike | None = None,
) -> FloatArray:
    """Whole days until every arm has ``n_per_arm`` users.

    ``daily_units`` is the number of new users entering the experiment per
    day (all arms together); ``weights`` is the traffic split (default 50/50).
    The smallest arm decides: ``ceil(n / (daily_units * min share))``.
    """
    shares = _arm_shares(weights)
    n = as_float_array("n_per_arm", n_per_arm)
    daily = as_float_array("daily_units", daily_units)
    if np.any(~(daily > 0)):
        raise InputError("daily_units", "must be positive", daily.tolist())
    # NaN (a plan that cannot be computed) passes, and a Plan shows it as "—".
    with np.errstate(invalid="ignore"):
        negative = n < 0
    if np.any(negative):
        raise InputError(
            "n_per_arm", "must not be a negative number of users", n.tolist()
        )
    with np.errstate(all="ignore"):
        return np.asarray(np.ceil(n / (daily * shares.min())), np.float64)


def days_left(
    n_per_arm: npt.ArrayLike,
    current_n: npt.ArrayLike,
    daily_units: npt.ArrayLike,
    *,
    weights: npt.ArrayLike | None = None,
) -> FloatArray:
    """Whole days a running experiment still needs (0 when it has enough).

    ``current_n`` holds the users per arm so far along the last axis (one
    entry per weight), or one number for the smallest arm.
    """
    shares = _arm_shares(weights)
    n = as_float_array("n_per_arm", n_per_arm)
    current = as_float_array("current_n", current_n)
    daily = as_float_array("daily_units", daily_units)
    if np.any(~(daily > 0)):
        raise InputError("daily_units", "must be positive", daily.tolist())
    with np.errstate(all="ignore"):
        if current.ndim == 0:
            missing = np.maximum(n - current, 0.0) / (daily * shares.min())
        else:
            per_arm = np.maximum(n[..., None] - current, 0.0) / (
                daily[..., None] * shares
            )
            missing = per_arm.max(axis=-1)
        return np.asarray(np.ceil(missing), np.float64)


def plan_experiment(
    baseline: Baseline,
    mde: npt.ArrayLike,
    *,
    relative: bool = False,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative = "two-sided",
    daily_units: npt.ArrayLike | None = None,
    weights: npt.ArrayLike | None = None,
) -> Plan:
    """Sample size per arm and, given ``daily_units``, days needed: a :class:`Plan`."""
    n = sample_size_per_arm(
        baseline,
        mde,
        relative=relative,
        alpha=alpha,
        power=power,
        alternative=alternative,
    )
    days = None
    if daily_units is not None:
        days = days_needed(n, daily_units, weights=weights)
    return Plan(
        kind=baseline.kind,
        baseline_mean=baseline.mean,
        baseline_variance=baseline.variance,
        mde=as_float_array("mde", mde),
        relative=relative,
        alpha=alpha,
        power=power,
        alternative=alternative,
        n_per_arm=n,
        days_needed=days,
    )
