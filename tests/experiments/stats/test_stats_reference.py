"""Pinned reference values for the statistics engine (issue 3, "Correctness")."""

from __future__ import annotations

import numpy as np
import pytest

from veedel.experiments.stats import (
    Baseline,
    RatioStats,
    SampleStats,
    adjust_pvalues,
    compare_means,
    compare_proportions,
    compare_ratios,
    msprt_likelihood_ratio,
    msprt_pvalue,
    sample_size_per_arm,
    srm_test,
)

REL = 1e-9

WELCH_A = [12, 15, 11, 14, 13, 16, 12, 15]
WELCH_B = [14, 17, 13, 18, 16, 15, 17, 19, 16]


def test_proportions_pooled_z_and_unpooled_interval() -> None:
    """1000/10000 vs 1100/10000: pooled z, its p-value and the Wald interval."""
    control = SampleStats.from_counts(1000, 10000)
    treatment = SampleStats.from_counts(1100, 10000)

    effect = compare_proportions(control, treatment, alpha=0.05)

    assert effect.statistic == pytest.approx(2.3066347738170103, rel=REL)
    assert effect.p_value == pytest.approx(0.021075189273797826, rel=REL)
    assert effect.ci_lower == pytest.approx(0.0015040591315121105, rel=REL)
    assert effect.ci_upper == pytest.approx(0.01849594086848788, rel=REL)
    assert effect.point_estimate == pytest.approx(0.01, rel=REL)


def test_proportions_relative_lift_delta_method() -> None:
    """Relative lift 0.1 with a delta SE that includes the control's uncertainty."""
    control = SampleStats.from_counts(1000, 10000)
    treatment = SampleStats.from_counts(1100, 10000)

    effect = compare_proportions(control, treatment, scale="relative")

    assert effect.point_estimate == pytest.approx(0.1, rel=REL)
    assert effect.standard_error == pytest.approx(0.045475268003608287, rel=REL)
    assert effect.ci_lower == pytest.approx(0.01087011252562102, rel=REL)
    assert effect.ci_upper == pytest.approx(0.18912988747437887, rel=REL)


def test_welch_on_raw_values() -> None:
    """Welch's t on two small samples: difference, t, df, p and the t interval."""
    effect = compare_means(
        SampleStats.from_values(WELCH_A), SampleStats.from_values(WELCH_B)
    )

    assert effect.point_estimate == pytest.approx(2.6111111111111107, rel=REL)
    assert effect.statistic == pytest.approx(2.9301511351166183, rel=REL)
    assert effect.df == pytest.approx(14.952702015221258, rel=REL)
    assert effect.p_value == pytest.approx(0.010369542363718525, rel=REL)
    assert effect.ci_lower == pytest.approx(0.7112141347419516, rel=REL)
    assert effect.ci_upper == pytest.approx(4.51100808748027, rel=REL)


@pytest.mark.parametrize(
    ("observed", "weights", "p_value"),
    [
        ([50000, 51000], [0.5, 0.5], 0.001651898732357361),
        ([9000, 1100], [0.9, 0.1], 0.002834749080259389),
        ([3300, 3400, 3200], None, 0.04830099924173013),
    ],
)
def test_srm_chi_square(
    observed: list[int], weights: list[float] | None, p_value: float
) -> None:
    """Chi-square SRM p-values against configured weights."""
    result = srm_test(observed, weights)

    assert result.p_value == pytest.approx(p_value, rel=REL)
    assert not result.alarm


def test_srm_statistic_fifty_fifty() -> None:
    """50,000 vs 51,000 at 50/50 gives chi2 = 9.90099...; an alarm at 0.01."""
    assert srm_test([50000, 51000]).statistic == pytest.approx(
        9.900990099009901, rel=REL
    )
    assert srm_test([50000, 51000], threshold=0.01).alarm


def test_sample_size_proportions_pooled_and_unpooled() -> None:
    """0.10 -> 0.11 at alpha 0.05, power 0.8 needs 14750.79 (pooled) per arm."""
    baseline = Baseline.for_proportion(0.10)

    pooled = sample_size_per_arm(baseline, 0.01)
    unpooled = sample_size_per_arm(baseline, 0.01, pooled=False)

    assert pooled == pytest.approx(14750.79, rel=1e-6)
    assert unpooled == pytest.approx(14748.05, rel=1e-6)


def test_sample_size_mean() -> None:
    """sigma 1, delta 0.1 needs 1569.776 per arm (normal approximation)."""
    n = sample_size_per_arm(Baseline.for_mean(1.0), 0.1)

    assert n == pytest.approx(1569.776, rel=1e-6)


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("bonferroni", [0.04, 0.16, 0.12, 0.02]),
        ("holm", [0.03, 0.06, 0.06, 0.02]),
        ("bh", [0.02, 0.04, 0.04, 0.02]),
    ],
)
def test_adjust_pvalues_reference(method: str, expected: list[float]) -> None:
    """Bonferroni, Holm and BH on [0.01, 0.04, 0.03, 0.005]."""
    adjusted = adjust_pvalues([0.01, 0.04, 0.03, 0.005], method)  # type: ignore[arg-type]

    np.testing.assert_allclose(adjusted, expected, rtol=REL)


def test_delta_method_ratio() -> None:
    """Votes per post style ratio: both ratios, difference, SE and p-value."""
    control = RatioStats.from_values(
        [3, 0, 5, 2, 8, 1, 4, 2, 0, 6], [2, 1, 4, 2, 5, 1, 3, 2, 1, 4]
    )
    treatment = RatioStats.from_values(
        [4, 1, 6, 3, 9, 2, 3, 4, 1, 7], [2, 1, 4, 2, 5, 2, 3, 2, 1, 4]
    )

    effect = compare_ratios(control, treatment)

    assert effect.control_mean == pytest.approx(1.24, rel=REL)
    assert effect.treatment_mean == pytest.approx(1.5384615384615383, rel=REL)
    assert effect.point_estimate == pytest.approx(0.29846153846153833, rel=REL)
    assert effect.standard_error == pytest.approx(0.16935188313559718, rel=REL)
    assert effect.p_value == pytest.approx(0.07800594630176264, rel=REL)


def test_msprt_reference() -> None:
    """Difference 0.01, per-unit variance 0.1879 (both arms), 10000 per arm.

    The variance of the difference is 0.1879 / 10000 (0.1879 = 0.1 * 0.9 +
    0.11 * 0.89); with mixing variance 1e-4 the likelihood ratio is 3.736 and
    the always-valid p-value 0.268, against 0.021 at a fixed horizon.
    """
    variance = 0.1879 / 10000

    ratio = msprt_likelihood_ratio(0.01, variance, 1e-4)
    p = msprt_pvalue(0.01, variance, 1e-4)

    assert ratio == pytest.approx(3.7361767519202367, rel=REL)
    assert p == pytest.approx(0.26765329008753197, rel=REL)
    fixed = compare_proportions(
        SampleStats.from_counts(1000, 10000), SampleStats.from_counts(1100, 10000)
    )
    assert fixed.p_value == pytest.approx(0.021, abs=5e-4)
