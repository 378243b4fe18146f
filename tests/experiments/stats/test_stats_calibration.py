"""Calibration by simulation: error rates, coverage and power (slow, CI runs them).

Every check compares a simulated rate with a two-sided 99.9 % binomial interval
around its target, so a correct engine fails about once in a thousand runs per
check; the seeds are fixed, so a run is repeatable.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from veedel.experiments.stats import (
    Baseline,
    CupedStats,
    RatioStats,
    SampleStats,
    compare_means,
    compare_proportions,
    compare_quantiles,
    compare_ratios,
    cuped_adjust,
    sample_size_per_arm,
    sequential_effect,
)
from veedel.experiments.stats.results import Effect

pytestmark = pytest.mark.slow

ALPHA = 0.05


def _binomial_band(target: float, trials: int) -> tuple[float, float]:
    low, high = stats.binom.interval(0.999, trials, target)
    return low / trials, high / trials


def _rejection_rate(effect: Effect) -> float:
    assert effect.p_value is not None
    return float(np.mean(effect.p_value < ALPHA))


def _coverage(effect: Effect, truth: float) -> float:
    return float(np.mean((effect.ci_lower <= truth) & (truth <= effect.ci_upper)))


def test_aa_false_positive_rate_of_fixed_tests(rng: np.random.Generator) -> None:
    """A/A on skewed data: Welch and the proportions test reject at rate alpha."""
    experiments, n = 20_000, 200
    values = rng.exponential(2.0, size=(2, experiments, n))
    welch = compare_means(
        SampleStats.from_values(values[0]), SampleStats.from_values(values[1])
    )
    counts = rng.binomial(2_000, 0.08, size=(2, experiments))
    proportions = compare_proportions(
        SampleStats.from_counts(counts[0], 2_000),
        SampleStats.from_counts(counts[1], 2_000),
    )

    low, high = _binomial_band(ALPHA, experiments)
    assert low <= _rejection_rate(welch) <= high
    assert low <= _rejection_rate(proportions) <= high


def test_aa_sequential_test_peeked_daily_stays_below_alpha(
    rng: np.random.Generator,
) -> None:
    """Looking every day for 28 days and stopping at the first p < alpha.

    The always-valid p-value keeps the false-positive rate at most alpha,
    while the fixed-horizon test peeked the same way exceeds it by far.
    """
    experiments, days, daily = 4_000, 28, 150
    daily_values = rng.normal(3.0, 2.0, size=(2, experiments, days, daily))
    n = np.cumsum(np.full((experiments, days), float(daily)), axis=1)
    sums = np.cumsum(daily_values.sum(axis=3), axis=2)
    squares = np.cumsum((daily_values**2).sum(axis=3), axis=2)

    sequential_hit = np.zeros(experiments, dtype=bool)
    fixed_hit = np.zeros(experiments, dtype=bool)
    previous = None
    for day in range(days):
        fixed = compare_means(
            SampleStats(n[:, day], sums[0, :, day], squares[0, :, day]),
            SampleStats(n[:, day], sums[1, :, day], squares[1, :, day]),
        )
        if previous is None:
            current = sequential_effect(fixed, expected_n=days * daily)
        else:
            current = sequential_effect(
                fixed, mixing_variance=previous.mixing_variance, previous=previous
            )
        assert current.p_value is not None and fixed.p_value is not None
        sequential_hit |= current.p_value < ALPHA
        fixed_hit |= fixed.p_value < ALPHA
        previous = current

    _, high = _binomial_band(ALPHA, experiments)
    assert sequential_hit.mean() <= high
    assert fixed_hit.mean() > 2 * ALPHA


def test_coverage_of_absolute_and_relative_intervals(rng: np.random.Generator) -> None:
    """95 % intervals cover the true absolute and relative effects 95 % of the time."""
    experiments, n = 10_000, 400
    control = rng.gamma(2.0, 1.5, size=(experiments, n))
    treatment = rng.gamma(2.0, 1.5 * 1.05, size=(experiments, n))
    absolute = compare_means(
        SampleStats.from_values(control), SampleStats.from_values(treatment)
    )
    counts_c = rng.binomial(5_000, 0.10, size=experiments)
    counts_t = rng.binomial(5_000, 0.11, size=experiments)
    relative = compare_proportions(
        SampleStats.from_counts(counts_c, 5_000),
        SampleStats.from_counts(counts_t, 5_000),
        scale="relative",
    )

    low, high = _binomial_band(0.95, experiments)
    assert low <= _coverage(absolute, 3.0 * 0.05) <= high
    assert low <= _coverage(relative, 0.1) <= high


def test_coverage_of_ratio_intervals(rng: np.random.Generator) -> None:
    """Votes per post: the delta-method interval covers the true difference."""
    experiments, users = 10_000, 300
    posts = rng.poisson(2.0, size=(2, experiments, users)) + 1
    rate = np.array([1.5, 1.65])[:, None, None]
    # Users differ in how much their posts attract votes (clustering).
    appeal = rng.gamma(4.0, 0.25, size=(2, experiments, users))
    votes = rng.poisson(posts * rate * appeal)
    effect = compare_ratios(
        RatioStats.from_values(votes[0], posts[0]),
        RatioStats.from_values(votes[1], posts[1]),
    )

    low, high = _binomial_band(0.95, experiments)
    assert low <= _coverage(effect, 0.15) <= high


def test_coverage_of_cuped_intervals(rng: np.random.Generator) -> None:
    """CUPED-adjusted intervals cover the true effect and are narrower."""
    experiments, n = 10_000, 300
    before = rng.gamma(2.0, 2.0, size=(2, experiments, n))
    effect_size = np.array([0.0, 0.3])[:, None, None]
    after = 0.8 * before + rng.normal(0.0, 1.5, size=before.shape) + effect_size
    result = cuped_adjust(
        CupedStats.from_values(after[0], before[0]),
        CupedStats.from_values(after[1], before[1]),
    )

    low, high = _binomial_band(0.95, experiments)
    assert low <= _coverage(result.adjusted, 0.3) <= high
    assert low <= _coverage(result.unadjusted, 0.3) <= high
    assert np.median(result.variance_reduction) > 0.5


def test_simulated_power_matches_the_planning_formula(rng: np.random.Generator) -> None:
    """At the planned n, the test detects the MDE with the planned power."""
    experiments = 4_000
    n_mean = int(np.ceil(sample_size_per_arm(Baseline.for_mean(1.0), 0.1)))
    values = rng.normal(0.0, 1.0, size=(2, experiments, n_mean)).astype(np.float32)
    values[1] += 0.1
    means = compare_means(
        SampleStats.from_values(values[0].astype(np.float64)),
        SampleStats.from_values(values[1].astype(np.float64)),
    )
    n_rate = int(np.ceil(sample_size_per_arm(Baseline.for_proportion(0.10), 0.01)))
    rates = compare_proportions(
        SampleStats.from_counts(rng.binomial(n_rate, 0.10, experiments), n_rate),
        SampleStats.from_counts(rng.binomial(n_rate, 0.11, experiments), n_rate),
    )

    low, high = _binomial_band(0.8, experiments)
    assert low <= _rejection_rate(means) <= high
    assert low <= _rejection_rate(rates) <= high


def test_coverage_of_quantile_intervals(rng: np.random.Generator) -> None:
    """Median of session lengths: the order-statistic interval covers the truth."""
    experiments, n = 2_000, 400
    control = rng.exponential(1.0, size=(experiments, n))
    treatment = rng.exponential(1.2, size=(experiments, n))
    truth = np.log(2.0) * 0.2
    covered = 0
    for index in range(experiments):
        effect = compare_quantiles(control[index], treatment[index])
        covered += int(effect.ci_lower <= truth <= effect.ci_upper)

    low, high = _binomial_band(0.95, experiments)
    assert low <= covered / experiments <= high
