"""Sequential testing and multiple-testing corrections with agreeing intervals."""

from __future__ import annotations

import numpy as np
import pytest

from veedel.errors import InputError
from veedel.experiments.stats import (
    SampleStats,
    adjust_effects,
    adjust_pvalues,
    bayes_gaussian,
    compare_means,
    compare_proportions,
    confidence_sequence,
    msprt_pvalue,
    sequential_effect,
    tuned_mixing_variance,
)
from veedel.experiments.stats._inference import interval
from veedel.experiments.stats.results import Effect

METHODS = ["bonferroni", "holm", "bh"]


def _many_mean_effects(seed: int = 11, size: int = 300) -> Effect:
    """Many comparisons whose p-values spread over (0, 1), some tiny."""
    rng = np.random.default_rng(seed)
    n = rng.integers(20, 400, size=size).astype(float)
    control = SampleStats(n=n, sum=n * 1.0, sum_sq=n * 2.0)
    lift = rng.normal(0, 0.25, size=size)
    treatment = SampleStats(
        n=n, sum=n * (1.0 + lift), sum_sq=n * (2.0 + 2 * lift + lift**2)
    )
    return compare_means(control, treatment)


@pytest.mark.parametrize("method", METHODS)
def test_adjusted_interval_excludes_zero_exactly_when_adjusted_p_below_alpha(
    method: str,
) -> None:
    """Welch effects: for every comparison, CI excludes 0 <=> adjusted p < alpha."""
    adjusted = adjust_effects(_many_mean_effects(), method)  # type: ignore[arg-type]

    excludes = (adjusted.ci_lower > 0) | (adjusted.ci_upper < 0)
    rejects = adjusted.p_value < adjusted.alpha  # type: ignore[operator]
    assert rejects.any() and (~rejects).any()
    np.testing.assert_array_equal(excludes, rejects)
    assert adjusted.adjustment == method


@pytest.mark.parametrize("method", METHODS)
def test_adjusted_proportion_intervals_agree_despite_pooled_p(method: str) -> None:
    """Pooled-SE p-values and unpooled intervals still agree after adjustment."""
    rng = np.random.default_rng(4)
    n = rng.integers(500, 5000, size=200).astype(float)
    control = SampleStats.from_counts(np.round(n * 0.1), n)
    treatment = SampleStats.from_counts(np.round(n * rng.uniform(0.08, 0.13, 200)), n)

    adjusted = adjust_effects(compare_proportions(control, treatment), method)  # type: ignore[arg-type]

    excludes = (adjusted.ci_lower > 0) | (adjusted.ci_upper < 0)
    np.testing.assert_array_equal(excludes, adjusted.p_value < 0.05)  # type: ignore[operator]


@pytest.mark.parametrize("method", METHODS)
def test_adjusted_sequential_intervals_agree(method: str) -> None:
    """Confidence sequences adjusted for multiplicity agree with adjusted mSPRT p."""
    effect = sequential_effect(_many_mean_effects(seed=2), expected_n=1000)

    adjusted = adjust_effects(effect, method)  # type: ignore[arg-type]

    excludes = (adjusted.ci_lower > 0) | (adjusted.ci_upper < 0)
    rejects = adjusted.p_value < 0.05  # type: ignore[operator]
    assert rejects.any()
    np.testing.assert_array_equal(excludes, rejects)


def test_bonferroni_interval_is_the_interval_at_alpha_over_m() -> None:
    """Bonferroni adjusted intervals equal plain intervals at alpha / m."""
    effect = _many_mean_effects(size=20)

    adjusted = adjust_effects(effect, "bonferroni")

    lower, upper = interval(
        effect.point_estimate,
        effect.standard_error,
        effect.df,
        0.05 / 20,
        "two-sided",  # type: ignore[arg-type]
    )
    np.testing.assert_allclose(adjusted.ci_lower, lower, rtol=1e-12)
    np.testing.assert_allclose(adjusted.ci_upper, upper, rtol=1e-12)


def test_adjustment_skips_comparisons_with_reasons() -> None:
    """A missing variant neither counts as a test nor gets numbers."""
    control = SampleStats(n=[100, 0, 100], sum=[50, 0, 50], sum_sq=[80, 0, 80])
    treatment = SampleStats(n=100, sum=[70, 70, 52], sum_sq=[100, 100, 85])
    effect = compare_means(control, treatment)

    adjusted = adjust_effects(effect, "bonferroni")

    p = effect.p_value
    assert p is not None and adjusted.p_value is not None
    np.testing.assert_allclose(adjusted.p_value[[0, 2]], np.minimum(1, 2 * p[[0, 2]]))
    assert np.isnan(adjusted.p_value[1]) and np.isnan(adjusted.ci_lower[1])


def test_adjust_pvalues_per_family_along_axis() -> None:
    """axis=1 adjusts each row as its own family."""
    p = np.array([[0.01, 0.04], [0.03, 0.005]])

    adjusted = adjust_pvalues(p, "bonferroni", axis=1)

    np.testing.assert_allclose(adjusted, [[0.02, 0.08], [0.06, 0.01]])


def test_adjust_rejects_bayesian_effects_and_bad_p() -> None:
    """Only frequentist effects and p-values in [0, 1] are adjusted."""
    effect = compare_means(SampleStats(100, 120, 400), SampleStats(100, 150, 500))
    with pytest.raises(InputError, match="effect"):
        adjust_effects(bayes_gaussian(effect))
    with pytest.raises(InputError, match="p_values"):
        adjust_pvalues([0.5, 1.5])
    with pytest.raises(InputError, match="method"):
        adjust_pvalues([0.5], "sidak")  # type: ignore[arg-type]


def test_confidence_sequence_excludes_zero_iff_msprt_p_below_alpha() -> None:
    """Inverting the same martingale: CS and mSPRT p agree on every element."""
    rng = np.random.default_rng(8)
    d = rng.normal(0, 0.02, 500)
    v = rng.uniform(1e-5, 1e-4, 500)
    tau2 = rng.uniform(1e-5, 1e-3, 500)

    lower, upper = confidence_sequence(d, v, tau2, 0.05)
    p = msprt_pvalue(d, v, tau2)

    np.testing.assert_array_equal((lower > 0) | (upper < 0), p < 0.05)


def test_tuned_mixing_variance_minimises_width_at_expected_n() -> None:
    """The tuned tau2 gives a narrower sequence at V* than nearby tau2 values."""
    v_star = 2e-5
    tau2 = float(tuned_mixing_variance(v_star, 0.05))

    def width(t: float) -> float:
        lower, upper = confidence_sequence(0.0, v_star, t, 0.05)
        return float(upper - lower)

    assert width(tau2) < width(tau2 * 0.8)
    assert width(tau2) < width(tau2 * 1.25)


def test_sequential_effect_is_wider_than_fixed_and_uses_previous_look() -> None:
    """Always-valid intervals are wider; intersecting with a look keeps monotone."""
    fixed = compare_proportions(
        SampleStats.from_counts(1000, 10000), SampleStats.from_counts(1100, 10000)
    )
    first = sequential_effect(fixed, expected_n=20000)
    later = sequential_effect(
        compare_proportions(
            SampleStats.from_counts(1500, 15000), SampleStats.from_counts(1580, 15000)
        ),
        mixing_variance=first.mixing_variance,
        previous=first,
    )

    assert first.ci_lower < fixed.ci_lower and first.ci_upper > fixed.ci_upper
    assert first.p_value > fixed.p_value  # type: ignore[operator]
    assert later.p_value <= first.p_value  # type: ignore[operator]
    assert later.ci_lower >= first.ci_lower and later.ci_upper <= first.ci_upper
    assert first.method == "confidence_sequence"


def test_sequential_needs_two_sided_and_a_tuning() -> None:
    """One-sided effects and a missing expected_n are InputErrors."""
    one_sided = compare_means(
        SampleStats(100, 120, 400), SampleStats(100, 150, 500), alternative="greater"
    )
    two_sided = compare_means(SampleStats(100, 120, 400), SampleStats(100, 150, 500))
    with pytest.raises(InputError, match="two-sided"):
        sequential_effect(one_sided, expected_n=1000)
    with pytest.raises(InputError, match="expected_n"):
        sequential_effect(two_sided)


def test_msprt_running_minimum_over_looks() -> None:
    """With look_axis the p-value never rises from one look to the next."""
    d = np.array([0.02, 0.001, 0.03])
    p = msprt_pvalue(d, np.array([1e-4, 5e-5, 3e-5]), 1e-4, look_axis=0)

    assert np.all(np.diff(p) <= 0)


def test_look_axis_equals_looking_one_day_at_a_time() -> None:
    """Daily cumulative statistics along an axis give the same running results."""
    rng = np.random.default_rng(12)
    daily = rng.normal(1.0, 1.0, size=(2, 10, 50))
    n = np.arange(1, 11) * 50.0
    sums = np.cumsum(daily.sum(axis=2), axis=1)
    squares = np.cumsum((daily**2).sum(axis=2), axis=1)
    fixed = compare_means(
        SampleStats(n, sums[0], squares[0]), SampleStats(n, sums[1], squares[1])
    )

    together = sequential_effect(fixed, expected_n=500, look_axis=0)

    assert together.mixing_variance is not None
    tau2 = together.mixing_variance[0]
    assert np.all(together.mixing_variance == tau2)
    previous = None
    for day in range(10):
        one = sequential_effect(fixed[day], mixing_variance=tau2, previous=previous)
        assert one.p_value == pytest.approx(together.p_value[day], rel=1e-12)  # type: ignore[index]
        assert one.ci_lower == pytest.approx(together.ci_lower[day], rel=1e-12)
        previous = one
