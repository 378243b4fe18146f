"""Degenerate inputs give a reason code and a sentence, never NaN numbers or crashes."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from veedel.errors import InputError
from veedel.experiments.stats import (
    RatioStats,
    Reason,
    SampleStats,
    compare_means,
    compare_proportions,
    compare_ratios,
    explain,
    srm_test,
)

GOOD = SampleStats(n=100, sum=50, sum_sq=80)


@pytest.mark.parametrize(
    ("control", "reason"),
    [
        (SampleStats(n=1, sum=3, sum_sq=9), Reason.TOO_FEW_UNITS),
        (SampleStats(n=0, sum=0, sum_sq=0), Reason.MISSING_VARIANT),
        (SampleStats(n=-5, sum=3, sum_sq=9), Reason.NEGATIVE_COUNT),
        (SampleStats(n=100, sum=np.nan, sum_sq=9), Reason.NON_FINITE_INPUT),
        (SampleStats(n=100, sum=np.inf, sum_sq=9), Reason.NON_FINITE_INPUT),
        (SampleStats(n=100, sum=100, sum_sq=1), Reason.INCONSISTENT_SUMS),
    ],
)
def test_compare_means_degenerate_arm_gives_reason(
    control: SampleStats, reason: Reason
) -> None:
    """A bad control arm yields its reason code and no inferential numbers."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        effect = compare_means(control, GOOD)

    assert effect.reason == reason
    assert np.isnan(effect.p_value)  # type: ignore[arg-type]
    assert np.isnan(effect.ci_lower) and np.isnan(effect.standard_error)
    record = effect.to_dict()
    assert record["p_value"] is None and record["ci_upper"] is None
    assert record["message"] == explain(reason) != ""


def test_zero_variance_keeps_the_difference_but_no_interval() -> None:
    """Constant metrics: the difference is a fact, its uncertainty is not."""
    control = SampleStats(n=10, sum=10, sum_sq=10)
    treatment = SampleStats(n=10, sum=20, sum_sq=40)

    effect = compare_means(control, treatment)

    assert effect.reason == Reason.ZERO_VARIANCE
    assert effect.point_estimate == pytest.approx(1.0)
    assert effect.to_dict()["p_value"] is None


@pytest.mark.parametrize("control_sum", [0.0, -20.0])
def test_relative_lift_needs_positive_control_mean(control_sum: float) -> None:
    """Relative lift with a zero or negative control mean is refused with a reason."""
    control = SampleStats(n=10, sum=control_sum, sum_sq=100)

    effect = compare_means(control, GOOD, scale="relative")

    assert effect.reason == Reason.CONTROL_MEAN_NOT_POSITIVE
    assert effect.to_dict()["point_estimate"] is None


def test_proportion_with_more_successes_than_users() -> None:
    """successes > n is not a proportion."""
    effect = compare_proportions(
        SampleStats.from_counts(120, 100), SampleStats.from_counts(10, 100)
    )

    assert effect.reason == Reason.INVALID_PROPORTION


def test_ratio_with_zero_denominator() -> None:
    """A ratio whose denominator sums to zero has no value."""
    control = RatioStats(10, 5, 9, 0, 0, 0)
    treatment = RatioStats.from_values([1, 2, 3], [1, 1, 2])

    effect = compare_ratios(control, treatment)

    assert effect.reason == Reason.ZERO_DENOMINATOR
    assert effect.to_dict()["point_estimate"] is None


def test_one_bad_element_does_not_spoil_the_batch() -> None:
    """Vectorised: a missing variant in one slice leaves the other slices intact."""
    control = SampleStats(n=[100, 0, 100], sum=[50, 0, 50], sum_sq=[80, 0, 80])
    treatment = SampleStats(n=100, sum=[60, 60, np.nan], sum_sq=90)

    effect = compare_means(control, treatment)

    assert list(effect.reason) == ["", "missing_variant", "non_finite_input"]
    assert np.isfinite(effect.p_value[0])  # type: ignore[index]
    assert json.loads(effect.to_json())["p_value"][1:] == [None, None]


def test_srm_degenerate_rows() -> None:
    """SRM on negative or empty counts gives reasons, and never an alarm."""
    result = srm_test([[10, -1], [0, 0], [np.nan, 4]])

    assert list(result.reason) == ["negative_count", "no_units", "non_finite_input"]
    assert not result.alarm.any()


def test_srm_rejects_bad_weights() -> None:
    """Configured weights are configuration: bad ones raise an InputError."""
    with pytest.raises(InputError, match="weights"):
        srm_test([10, 10], [1, 0])


def test_text_input_is_an_input_error() -> None:
    """Text instead of numbers raises InputError naming the field."""
    with pytest.raises(InputError, match="sum"):
        SampleStats(n=10, sum="lots", sum_sq=3)  # type: ignore[arg-type]


def test_shapes_that_do_not_broadcast_are_an_input_error() -> None:
    """Arrays of incompatible shapes raise InputError, not numpy's ValueError text."""
    with pytest.raises(InputError, match="broadcast"):
        SampleStats(n=[1, 2, 3], sum=[1, 2], sum_sq=1)


@pytest.mark.parametrize(
    ("keyword", "value"),
    [("alpha", 1.5), ("alternative", "bigger"), ("scale", "percent")],
)
def test_bad_options_are_input_errors(keyword: str, value: object) -> None:
    """Options outside their allowed values raise InputError naming them."""
    with pytest.raises(InputError, match=keyword):
        compare_means(GOOD, GOOD, **{keyword: value})  # type: ignore[arg-type]


def test_arms_whose_shapes_do_not_broadcast_are_an_input_error() -> None:
    """Two metrics in control against three in treatment name both shapes,
    for every comparison that takes two arms (was numpy's broadcast error)."""
    from veedel.experiments.stats import CupedStats, cuped_adjust

    two = SampleStats(n=[10, 10], sum=[5, 6], sum_sq=[30, 40])
    three = SampleStats(n=[10, 10, 10], sum=[5, 6, 7], sum_sq=[30, 40, 50])
    for compare in (compare_means, compare_proportions):
        with pytest.raises(InputError, match=r"control, treatment.*\(2,\).*\(3,\)"):
            compare(two, three)

    # Rows are metrics, columns units: two metrics against three.
    y, d = [1.0, 2.0, 3.0], [1.0, 1.0, 2.0]
    with pytest.raises(InputError, match="control, treatment"):
        compare_ratios(
            RatioStats.from_values([y] * 2, [d] * 2),
            RatioStats.from_values([y] * 3, [d] * 3),
        )
    with pytest.raises(InputError, match="control, treatment"):
        cuped_adjust(
            CupedStats.from_values([y] * 2, [d] * 2),
            CupedStats.from_values([y] * 3, [d] * 3),
        )


@pytest.mark.parametrize(
    "build",
    [
        lambda: RatioStats.from_values([1, 2, 3], [1, 1]),
        lambda: __import__(
            "veedel.experiments.stats", fromlist=["CupedStats"]
        ).CupedStats.from_values([1, 2, 3], [1, 2]),
    ],
)
def test_unit_values_of_unequal_length_are_an_input_error(build: object) -> None:
    """Three numerators over two denominators name both inputs and shapes."""
    with pytest.raises(InputError, match=r"\(3,\).*\(2,\)"):
        build()  # type: ignore[operator]


def test_low_level_helpers_refuse_values_no_data_can_give() -> None:
    """A Beta parameter of 0, a negative variance and a negative sample size
    are refused naming the field; zero and NaN still pass (NaN becomes a
    reason code or a dash further up)."""
    from veedel.experiments.stats import (
        days_needed,
        msprt_pvalue,
        probability_beta_greater,
        tuned_mixing_variance,
    )

    with pytest.raises(InputError, match="a must be a positive, finite Beta"):
        probability_beta_greater(0, 1, 1, 1)
    with pytest.raises(InputError, match="d must be a positive"):
        probability_beta_greater(1, 1, 1, np.inf)
    with pytest.raises(InputError, match="variance must not be negative"):
        msprt_pvalue(0.01, -0.1, 1e-4)
    with pytest.raises(InputError, match="mixing_variance must not be negative"):
        msprt_pvalue(0.01, 0.1, -1e-4)
    with pytest.raises(InputError, match="variance_at_expected_n"):
        tuned_mixing_variance(-5)
    with pytest.raises(InputError, match="n_per_arm must not be a negative"):
        days_needed(-1, 5)

    assert tuned_mixing_variance(0.0) == 0.0
    assert np.isnan(msprt_pvalue(0.01, np.nan, 1e-4))
    assert days_needed(0, 5) == 0
    assert np.isnan(days_needed(np.nan, 5))  # a plan shows it as "—"


def test_srm_with_less_than_one_unit_in_all_is_no_units() -> None:
    """Counts summing to 5e-324 (found by the fuzz test) give the no-units
    reason, not a NaN p-value from an expected count that underflows to 0."""
    result = srm_test([[0.0, 5e-324], [0.0, 0.0], [600.0, 400.0]])

    assert list(result.reason) == [Reason.NO_UNITS.value] * 2 + [""]
    assert np.isnan(result.p_value[:2]).all()
    assert 0 <= result.p_value[2] <= 1
