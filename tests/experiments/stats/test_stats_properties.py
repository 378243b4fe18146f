"""Property-based checks against scipy and statsmodels, and invariances."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import integrate, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from veedel.experiments.stats import (
    Baseline,
    CupedStats,
    RatioStats,
    SampleStats,
    adjust_pvalues,
    compare_means,
    compare_proportions,
    compare_ratios,
    cuped_adjust,
    probability_beta_greater,
    sample_size_per_arm,
    srm_test,
)

PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
ALTERNATIVES = [("two-sided", "two-sided"), ("greater", "greater"), ("less", "less")]

values = arrays(
    np.float64,
    st.integers(3, 40),
    elements=st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False),
).filter(lambda a: np.ptp(a) > 1e-3 * (1 + np.abs(a).max()))


@PROPERTY
@given(control=values, treatment=values, which=st.sampled_from(ALTERNATIVES))
def test_welch_matches_scipy(
    control: np.ndarray, treatment: np.ndarray, which: tuple[str, str]
) -> None:
    """Welch t, df, p and interval equal scipy's ttest_ind(equal_var=False)."""
    ours, theirs_alternative = which
    effect = compare_means(
        SampleStats.from_values(control),
        SampleStats.from_values(treatment),
        alternative=ours,  # type: ignore[arg-type]
    )
    reference = stats.ttest_ind(
        treatment, control, equal_var=False, alternative=theirs_alternative
    )
    interval = reference.confidence_interval(0.95)

    assert effect.statistic == pytest.approx(reference.statistic, rel=1e-7, abs=1e-9)
    assert effect.df == pytest.approx(reference.df, rel=1e-7)
    assert effect.p_value == pytest.approx(reference.pvalue, rel=1e-6, abs=1e-12)
    assert effect.ci_lower == pytest.approx(interval.low, rel=1e-7, abs=1e-6)
    assert effect.ci_upper == pytest.approx(interval.high, rel=1e-7, abs=1e-6)


@PROPERTY
@given(
    n_c=st.integers(20, 100_000),
    n_t=st.integers(20, 100_000),
    rate_c=st.floats(0.01, 0.99),
    rate_t=st.floats(0.01, 0.99),
)
def test_proportions_match_statsmodels(
    n_c: int, n_t: int, rate_c: float, rate_t: float
) -> None:
    """Pooled z and Wald interval equal statsmodels' proportions functions."""
    x_c, x_t = max(1, round(n_c * rate_c)), max(1, round(n_t * rate_t))
    x_c, x_t = min(x_c, n_c - 1), min(x_t, n_t - 1)
    effect = compare_proportions(
        SampleStats.from_counts(x_c, n_c), SampleStats.from_counts(x_t, n_t)
    )
    z, p = proportions_ztest([x_t, x_c], [n_t, n_c])
    low, high = confint_proportions_2indep(x_t, n_t, x_c, n_c, method="wald")

    assert effect.statistic == pytest.approx(z, rel=1e-9, abs=1e-12)
    assert effect.p_value == pytest.approx(p, rel=1e-7, abs=1e-15)
    assert effect.ci_lower == pytest.approx(low, rel=1e-9, abs=1e-12)
    assert effect.ci_upper == pytest.approx(high, rel=1e-9, abs=1e-12)


@PROPERTY
@given(
    p=arrays(np.float64, st.integers(1, 30), elements=st.floats(1e-6, 1.0)),
    method=st.sampled_from(
        [("bonferroni", "bonferroni"), ("holm", "holm"), ("bh", "fdr_bh")]
    ),
)
def test_adjust_pvalues_matches_statsmodels(
    p: np.ndarray, method: tuple[str, str]
) -> None:
    """Bonferroni, Holm and BH equal statsmodels.multipletests."""
    ours, theirs = method

    expected = multipletests(p, method=theirs)[1]

    np.testing.assert_allclose(adjust_pvalues(p, ours), expected, rtol=1e-12)  # type: ignore[arg-type]


@PROPERTY
@given(
    observed=arrays(np.int64, st.integers(2, 6), elements=st.integers(1, 10**6)),
    data=st.data(),
)
def test_srm_matches_scipy_chisquare(observed: np.ndarray, data: st.DataObject) -> None:
    """SRM chi-square equals scipy.stats.chisquare with the same expected counts."""
    weights = np.array(
        data.draw(
            st.lists(
                st.floats(0.05, 1.0), min_size=observed.size, max_size=observed.size
            )
        )
    )
    expected = observed.sum() * weights / weights.sum()

    result = srm_test(observed, weights)
    reference = stats.chisquare(observed, expected)

    assert result.statistic == pytest.approx(reference.statistic, rel=1e-9)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-7, abs=1e-300)


@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(3, 60))
def test_ratio_variance_equals_linearised_mean(seed: int, n: int) -> None:
    """Delta-method Var(R) equals the variance of the mean of (y - R d) / mean(d)."""
    rng = np.random.default_rng(seed)
    d = rng.integers(1, 6, n).astype(float)
    y = rng.poisson(d * 1.3).astype(float)
    stats_ = RatioStats.from_values(y, d)

    effect = compare_ratios(stats_, stats_)
    ratio = y.sum() / d.sum()
    linear = (y - ratio * d) / d.mean()

    expected = np.sqrt(2 * linear.var(ddof=1) / n)
    assume(expected > 1e-9)
    assert effect.standard_error == pytest.approx(expected, rel=1e-9, abs=1e-12)


@PROPERTY
@given(
    control=values, treatment=values, which=st.sampled_from(["absolute", "relative"])
)
def test_swapping_arms_flips_the_sign(
    control: np.ndarray, treatment: np.ndarray, which: str
) -> None:
    """Absolute: swapping arms negates estimate and interval, keeps p and SE."""
    a, b = (
        SampleStats.from_values(np.abs(control) + 1),
        SampleStats.from_values(np.abs(treatment) + 1),
    )
    forward = compare_means(a, b)
    backward = compare_means(b, a)

    assert backward.point_estimate == pytest.approx(-forward.point_estimate, abs=1e-9)
    assert backward.ci_lower == pytest.approx(-forward.ci_upper, rel=1e-9, abs=1e-9)
    assert backward.p_value == pytest.approx(forward.p_value, rel=1e-9, abs=1e-15)
    if which == "relative":
        up = compare_means(a, b, scale="relative")
        down = compare_means(b, a, scale="relative")
        # (b - a)/a and (a - b)/b have opposite signs.
        assert np.sign(up.point_estimate) == -np.sign(down.point_estimate)


@PROPERTY
@given(
    control=values,
    treatment=values,
    factor=st.floats(0.01, 100.0),
    shift_sign=st.sampled_from([1.0, -1.0]),
)
def test_scaling_the_metric_scales_the_effect(
    control: np.ndarray, treatment: np.ndarray, factor: float, shift_sign: float
) -> None:
    """Multiplying every value by c multiplies estimate and SE by |c|, keeps p."""
    c = factor * shift_sign
    plain = compare_means(
        SampleStats.from_values(control), SampleStats.from_values(treatment)
    )
    scaled = compare_means(
        SampleStats.from_values(control * c), SampleStats.from_values(treatment * c)
    )

    assert scaled.point_estimate == pytest.approx(
        c * plain.point_estimate, rel=1e-7, abs=1e-6
    )
    assert scaled.standard_error == pytest.approx(
        abs(c) * plain.standard_error, rel=1e-7
    )
    assert scaled.p_value == pytest.approx(plain.p_value, rel=1e-6, abs=1e-12)


@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 30))
def test_relative_lift_is_scale_free(seed: int, n: int) -> None:
    """The relative lift and its SE do not change when the metric is rescaled."""
    rng = np.random.default_rng(seed)
    control, treatment = rng.gamma(2.0, 1.0, n) + 0.1, rng.gamma(2.0, 1.1, n) + 0.1

    plain = compare_means(
        SampleStats.from_values(control),
        SampleStats.from_values(treatment),
        scale="relative",
    )
    scaled = compare_means(
        SampleStats.from_values(control * 37.5),
        SampleStats.from_values(treatment * 37.5),
        scale="relative",
    )

    assert scaled.point_estimate == pytest.approx(
        plain.point_estimate, rel=1e-9, abs=1e-12
    )
    assert scaled.standard_error == pytest.approx(plain.standard_error, rel=1e-9)


@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 25))
def test_integer_weights_equal_repeated_units(seed: int, n: int) -> None:
    """A unit of weight k gives the same result as k copies of it."""
    rng = np.random.default_rng(seed)
    y_c, y_t = rng.normal(0, 1, n), rng.normal(0.2, 1, n)
    d_c, d_t = rng.integers(1, 4, n).astype(float), rng.integers(1, 4, n).astype(float)
    w_c, w_t = rng.integers(1, 5, n), rng.integers(1, 5, n)

    weighted = compare_means(
        SampleStats.from_values(y_c, weights=w_c),
        SampleStats.from_values(y_t, weights=w_t),
    )
    repeated = compare_means(
        SampleStats.from_values(np.repeat(y_c, w_c)),
        SampleStats.from_values(np.repeat(y_t, w_t)),
    )
    weighted_ratio = compare_ratios(
        RatioStats.from_values(y_c, d_c, weights=w_c),
        RatioStats.from_values(y_t, d_t, weights=w_t),
    )
    repeated_ratio = compare_ratios(
        RatioStats.from_values(np.repeat(y_c, w_c), np.repeat(d_c, w_c)),
        RatioStats.from_values(np.repeat(y_t, w_t), np.repeat(d_t, w_t)),
    )

    for one, other in ((weighted, repeated), (weighted_ratio, repeated_ratio)):
        assert one.point_estimate == pytest.approx(
            other.point_estimate, rel=1e-9, abs=1e-12
        )
        assert one.standard_error == pytest.approx(other.standard_error, rel=1e-9)
        assert one.p_value == pytest.approx(other.p_value, rel=1e-7, abs=1e-15)


@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(5, 50))
def test_cuped_theta_is_the_pooled_ols_slope(seed: int, n: int) -> None:
    """theta equals the least-squares slope of Y on X over both arms together."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (2, n))
    y = 0.7 * x + rng.normal(0, 1, (2, n)) + np.array([[0.0], [0.3]])

    result = cuped_adjust(
        CupedStats.from_values(y[0], x[0]), CupedStats.from_values(y[1], x[1])
    )

    slope = np.polyfit(x.reshape(-1), y.reshape(-1), 1)[0]
    assert result.theta == pytest.approx(slope, rel=1e-8, abs=1e-12)
    expected = (y[1].mean() - y[0].mean()) - slope * (x[1].mean() - x[0].mean())
    assert result.adjusted.point_estimate == pytest.approx(
        expected, rel=1e-8, abs=1e-12
    )


@settings(max_examples=25, deadline=None)
@given(
    a=st.integers(1, 40),
    b=st.integers(1, 40),
    c=st.integers(1, 40),
    d=st.integers(1, 40),
)
def test_beta_probability_matches_integration(a: int, b: int, c: int, d: int) -> None:
    """The closed-form P(Beta(c, d) > Beta(a, b)) equals numeric integration."""
    integral, _ = integrate.quad(
        lambda t: stats.beta.pdf(t, c, d) * stats.beta.cdf(t, a, b), 0, 1, epsabs=1e-12
    )

    assert probability_beta_greater(a, b, c, d) == pytest.approx(integral, abs=1e-8)


@settings(max_examples=30, deadline=None)
@given(
    delta=st.floats(0.01, 2.0), sigma=st.floats(2.0, 10.0), power=st.floats(0.6, 0.99)
)
def test_sample_size_matches_statsmodels_one_sided(
    delta: float, sigma: float, power: float
) -> None:
    """Normal-approximation n per arm equals statsmodels' NormalIndPower (one-sided)."""
    ours = sample_size_per_arm(
        Baseline.for_mean(sigma), delta, power=power, alternative="greater"
    )
    theirs = NormalIndPower().solve_power(
        effect_size=delta / sigma,
        alpha=0.05,
        power=power,
        ratio=1.0,
        alternative="larger",
    )

    assert ours == pytest.approx(theirs, rel=1e-6)
