"""CUPED, Bayesian read-outs, quantiles and winsorisation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from veedel.errors import InputError
from veedel.experiments.stats import (
    CupedRatioStats,
    CupedStats,
    RatioStats,
    SampleStats,
    bayes_beta_binomial,
    bayes_gaussian,
    compare_means,
    compare_proportions,
    compare_quantiles,
    compare_ratios,
    compare_winsorized_means,
    compare_winsorized_ratios,
    cuped_adjust,
    cuped_adjust_ratio,
    probability_beta_greater,
    winsorize,
)

REL = 1e-9
X_C = [5, 3, 8, 6, 2, 7, 4, 9, 5, 6]
Y_C = [6, 3, 9, 7, 3, 8, 5, 10, 5, 7]
X_T = [4, 6, 7, 3, 8, 5, 6, 2, 9, 7]
Y_T = [6, 8, 9, 4, 10, 6, 7, 4, 11, 8]


def test_cuped_reference_values() -> None:
    """Pooled theta, raw and adjusted differences and SEs from the issue."""
    result = cuped_adjust(
        CupedStats.from_values(Y_C, X_C), CupedStats.from_values(Y_T, X_T)
    )

    assert result.theta == pytest.approx(1.064516129032258, rel=REL)
    assert result.unadjusted.point_estimate == pytest.approx(1.0, rel=REL)
    assert result.unadjusted.standard_error == pytest.approx(1.055146119422961, rel=REL)
    assert result.adjusted.point_estimate == pytest.approx(0.7870967741935484, rel=REL)
    assert result.adjusted.standard_error == pytest.approx(0.20388185624931324, rel=REL)
    expected_reduction = 1 - (0.20388185624931324 / 1.055146119422961) ** 2
    assert result.variance_reduction == pytest.approx(expected_reduction, rel=1e-9)


def test_cuped_ratio_with_unit_denominator_equals_cuped_mean() -> None:
    """A ratio whose denominator is 1 per unit is a mean: same CUPED result."""
    ones = np.ones(10)
    ratio = cuped_adjust_ratio(
        CupedRatioStats.from_values(Y_C, ones, X_C),
        CupedRatioStats.from_values(Y_T, ones, X_T),
    )

    assert ratio.theta == pytest.approx(1.064516129032258, rel=REL)
    assert ratio.adjusted.point_estimate == pytest.approx(0.7870967741935484, rel=REL)
    assert ratio.adjusted.standard_error == pytest.approx(0.20388185624931324, rel=REL)


def test_cuped_ratio_keeps_unadjusted_equal_to_compare_ratios() -> None:
    """The unadjusted half of a ratio CUPED result is the plain delta-method result."""
    rng = np.random.default_rng(3)
    x = rng.poisson(3, size=(2, 400)).astype(float)
    d = rng.poisson(2, size=(2, 400)) + 1.0
    y = rng.poisson(d * 0.5 + x * 0.3).astype(float)

    result = cuped_adjust_ratio(
        CupedRatioStats.from_values(y[0], d[0], x[0]),
        CupedRatioStats.from_values(y[1], d[1], x[1]),
    )
    plain = compare_ratios(
        RatioStats.from_values(y[0], d[0]), RatioStats.from_values(y[1], d[1])
    )

    assert result.unadjusted.standard_error == pytest.approx(
        plain.standard_error, rel=REL
    )
    assert 0.0 < float(result.variance_reduction) < 1.0


def test_cuped_with_constant_covariate_changes_nothing() -> None:
    """A covariate that never varies gives theta 0 and the unadjusted effect."""
    result = cuped_adjust(
        CupedStats.from_values(Y_C, np.zeros(10)),
        CupedStats.from_values(Y_T, np.zeros(10)),
    )

    assert result.theta == 0.0
    assert result.adjusted.point_estimate == pytest.approx(1.0)
    assert result.variance_reduction == pytest.approx(0.0, abs=1e-12)


def test_cuped_result_serialises_both_effects() -> None:
    """JSON holds adjusted and unadjusted effects, theta and the reduction."""
    result = cuped_adjust(
        CupedStats.from_values(Y_C, X_C), CupedStats.from_values(Y_T, X_T)
    )

    record = result.to_dict()

    assert set(record) == {"adjusted", "unadjusted", "theta", "variance_reduction"}
    assert record["adjusted"]["kind"] == "cuped_mean"
    assert record["unadjusted"]["point_estimate"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("control", "treatment", "expected"),
    [
        ((49, 100), (51, 100), 0.6107705226878396),
        ((200, 2000), (240, 2000), 0.9783185774768623),
    ],
)
def test_beta_binomial_reference(
    control: tuple[int, int], treatment: tuple[int, int], expected: float
) -> None:
    """Exact P(treatment better) with Beta(1, 1) priors (abs tol 1e-6)."""
    effect = bayes_beta_binomial(
        SampleStats.from_counts(*control), SampleStats.from_counts(*treatment)
    )

    assert effect.chance_to_win == pytest.approx(expected, abs=1e-6)
    assert effect.p_value is None


def test_beta_probability_symmetries_and_integration() -> None:
    """All summation forms and numeric integration agree."""
    a, b, c, d = 13.0, 40.0, 17.0, 37.0
    value = probability_beta_greater(a, b, c, d)
    integral, _ = integrate.quad(
        lambda t: stats.beta.pdf(t, c, d) * stats.beta.cdf(t, a, b), 0, 1
    )

    assert value == pytest.approx(integral, abs=1e-10)
    assert probability_beta_greater(c, d, a, b) == pytest.approx(1 - value, abs=1e-12)
    assert probability_beta_greater(13.5, 40.2, 17.1, 37.3) == pytest.approx(
        integrate.quad(
            lambda t: stats.beta.pdf(t, 17.1, 37.3) * stats.beta.cdf(t, 13.5, 40.2),
            0,
            1,
        )[0],
        abs=1e-8,
    )


def test_beta_binomial_expected_loss_matches_integration() -> None:
    """E[max(0, p_c - p_t)] equals a numeric integral over the control posterior.

    Inner expectation: E[max(0, x - Y)] = x F_Y(x) - E[Y] F_{Beta(c+1, d)}(x).
    """
    effect = bayes_beta_binomial(
        SampleStats.from_counts(30, 200), SampleStats.from_counts(36, 200)
    )
    a, b, c, d = 31, 171, 37, 165

    def integrand(x: float) -> float:
        inner = x * stats.beta.cdf(x, c, d) - c / (c + d) * stats.beta.cdf(x, c + 1, d)
        return float(stats.beta.pdf(x, a, b) * inner)

    loss, _ = integrate.quad(integrand, 0, 1, epsabs=1e-13, limit=200)

    assert effect.expected_loss == pytest.approx(loss, abs=1e-9)


def test_gaussian_flat_prior_chance_to_win_is_one_minus_one_sided_p() -> None:
    """With a flat prior, P(effect > 0) equals 1 - the one-sided z p-value."""
    control, treatment = (
        SampleStats.from_counts(1000, 10000),
        SampleStats.from_counts(1100, 10000),
    )
    relative = compare_proportions(control, treatment, scale="relative")

    posterior = bayes_gaussian(relative)

    z = 0.1 / 0.045475268003608287
    assert posterior.chance_to_win == pytest.approx(stats.norm.cdf(z), rel=1e-12)
    assert posterior.point_estimate == pytest.approx(0.1, rel=1e-12)
    loss = 0.045475268003608287 * stats.norm.pdf(z) - 0.1 * stats.norm.cdf(-z)
    assert posterior.expected_loss == pytest.approx(loss, rel=1e-9)


def test_gaussian_informative_prior_shrinks_towards_prior_mean() -> None:
    """Posterior mean is the precision-weighted average of estimate and prior."""
    effect = compare_means(SampleStats(100, 120, 400), SampleStats(100, 150, 500))
    d, se = float(effect.point_estimate), float(effect.standard_error)

    posterior = bayes_gaussian(effect, prior_mean=0.0, prior_variance=se**2)

    assert posterior.point_estimate == pytest.approx(d / 2, rel=1e-12)
    assert posterior.standard_error == pytest.approx(se / np.sqrt(2), rel=1e-12)


def test_gaussian_lower_is_better_flips_chance() -> None:
    """For a metric where lower is better, chance to win is P(effect < 0)."""
    effect = compare_means(SampleStats(100, 120, 400), SampleStats(100, 150, 500))

    up = bayes_gaussian(effect)
    down = bayes_gaussian(effect, higher_is_better=False)

    assert float(up.chance_to_win) + float(down.chance_to_win) == pytest.approx(1.0)  # type: ignore[arg-type]


def test_quantile_median_against_order_statistic_formula() -> None:
    """Median of 1..101 and 2..102: difference 1, SE from ranks 41 and 61 each."""
    control = np.arange(1, 102, dtype=float)
    treatment = control + 1

    effect = compare_quantiles(control, treatment)

    n, q, z = 101, 0.5, 1.959963984540054
    spread = z * np.sqrt(n * q * (1 - q))
    lower, upper = int(np.floor(n * q - spread)), int(np.ceil(n * q + spread))
    se_arm = (upper - lower) / (2 * z)
    assert effect.point_estimate == pytest.approx(1.0)
    assert effect.standard_error == pytest.approx(np.sqrt(2) * se_arm, rel=1e-12)


def test_quantile_bootstrap_is_reproducible_and_close_to_asymptotic() -> None:
    """A seeded bootstrap repeats exactly and agrees with the asymptotic SE."""
    rng = np.random.default_rng(5)
    a, b = rng.exponential(1.0, 3000), rng.exponential(1.2, 3000)

    first = compare_quantiles(a, b, method="bootstrap", n_resamples=400, seed=1)
    second = compare_quantiles(a, b, method="bootstrap", n_resamples=400, seed=1)
    asymptotic = compare_quantiles(a, b)

    assert first.standard_error == second.standard_error
    assert float(first.standard_error) == pytest.approx(
        float(asymptotic.standard_error), rel=0.2
    )


def test_quantile_degenerate_inputs() -> None:
    """Empty or non-finite values give reasons; a bad quantile is an InputError."""
    assert compare_quantiles([], [1.0, 2.0]).reason == "no_values"
    assert compare_quantiles([1.0, np.nan], [1.0, 2.0]).reason == "non_finite_input"
    assert compare_quantiles([1.0, 1.0, 1.0], [1.0, 1.0]).reason == "zero_variance"
    with pytest.raises(InputError, match="quantile"):
        compare_quantiles([1.0, 2.0], [1.0, 2.0], quantile=1.5)


def test_winsorize_uses_one_pooled_cap() -> None:
    """The cap is the pooled percentile and applies to both arms alike."""
    control = np.arange(100, dtype=float)
    treatment = np.arange(100, dtype=float) + 100

    capped = winsorize([control, treatment], upper_quantile=0.9)

    cap = float(np.quantile(np.r_[control, treatment], 0.9))
    assert capped.upper_cap == pytest.approx(cap)
    assert capped.arms[0].max() == 99 and capped.arms[1].max() == pytest.approx(cap)
    assert capped.n_capped == (0, 20)


def test_winsorized_effects_carry_the_cap() -> None:
    """Winsorised comparisons report the cap in the result and in JSON."""
    rng = np.random.default_rng(2)
    a, b = rng.pareto(2.0, 500), rng.pareto(2.0, 500)

    effect = compare_winsorized_means(a, b, upper_quantile=0.95)
    ratio, numerators, _ = compare_winsorized_ratios(a, np.ones(500), b, np.ones(500))

    assert effect.to_dict()["winsor_cap"] == pytest.approx(
        np.quantile(np.r_[a, b], 0.95)
    )
    assert ratio.winsor_cap == pytest.approx(numerators.upper_cap)


def test_beta_probability_for_huge_counts_uses_an_accurate_approximation() -> None:
    """Millions of users: the normal approximation agrees with the exact sum."""
    from veedel.experiments.stats.bayes import _h_sum

    a, b, c, d = 250_001.0, 2_250_001.0, 251_001.0, 2_249_001.0

    assert probability_beta_greater(a, b, c, d) == pytest.approx(
        _h_sum(a, b, c, d), abs=1e-6
    )
