"""Result objects (JSON, records, indexing, Rich) and planning functions."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from rich.console import Console

from veedel.errors import InputError
from veedel.experiments.stats import (
    Baseline,
    CupedStats,
    RatioStats,
    SampleStats,
    bayes_beta_binomial,
    compare_means,
    compare_proportions,
    cuped_adjust,
    days_left,
    days_needed,
    minimum_detectable_effect,
    plan_experiment,
    ratio_unit_variance,
    sample_size_per_arm,
    srm_test,
)


def _render(renderable: object) -> str:
    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(renderable)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(output, str)
    return output


def _grid_effect() -> object:
    """metrics x variants x slices with the control broadcast over variants."""
    control = SampleStats.from_counts(
        [[[100, 0]], [[50, 60]]], [[[1000, 0]], [[1000, 900]]]
    )
    treatment = SampleStats.from_counts(
        [[[110, 12], [120, 15]], [[55, 70], [40, 61]]],
        [[[1000, 100], [1000, 100]], [[1000, 900], [1000, 900]]],
    )
    return compare_proportions(control, treatment)


def test_effect_broadcasts_metrics_variants_slices() -> None:
    """A (2, 1, 2) control against (2, 2, 2) treatments gives (2, 2, 2) effects."""
    effect = compare_proportions(
        SampleStats.from_counts(
            [[[100, 30]], [[50, 60]]], [[[1000, 300]], [[1000, 900]]]
        ),
        SampleStats.from_counts(np.full((2, 2, 2), 40), np.full((2, 2, 2), 400)),
    )

    assert effect.shape == (2, 2, 2)
    assert effect[0, 1, 0].point_estimate == pytest.approx(0.1 - 0.1)
    assert effect[1, 0, 1].point_estimate == pytest.approx(0.1 - 60 / 900)


def test_effect_json_has_field_names_and_no_nan() -> None:
    """JSON uses the field's words; missing numbers are null, never NaN."""
    effect = _grid_effect()
    text = effect.to_json()  # type: ignore[attr-defined]
    record = json.loads(text)

    for name in ("point_estimate", "standard_error", "ci_lower", "ci_upper", "p_value"):
        assert name in record
    assert "NaN" not in text and "Infinity" not in text
    assert record["reason"][0][0][1] == "missing_variant"
    assert record["p_value"][0][0][1] is None
    assert record["message"][0][0][1].startswith("One of the variants")


def test_effect_records_flatten_with_index() -> None:
    """to_records gives one flat dict per element, usable as DataFrame rows."""
    effect = _grid_effect()

    records = effect.to_records()  # type: ignore[attr-defined]

    assert len(records) == 8
    assert records[1]["index"] == [0, 0, 1]
    assert records[1]["reason"] == "missing_variant" and records[1]["p_value"] is None
    assert records[0]["kind"] == "proportion" and records[0]["p_value"] is not None


def test_one_sided_interval_serialises_open_end_as_null() -> None:
    """A 'greater' test has an infinite upper end: null in JSON, not Infinity."""
    effect = compare_means(
        SampleStats(100, 120, 400), SampleStats(100, 150, 500), alternative="greater"
    )

    record = effect.to_dict()

    assert record["ci_upper"] is None and record["ci_lower"] is not None
    assert effect.ci_upper == np.inf


def test_rich_rendering_of_every_result_type() -> None:
    """Effects, CUPED, SRM and plans render as tables with their numbers."""
    effect_text = _render(_grid_effect())
    cuped = cuped_adjust(
        CupedStats.from_values([1, 2, 3, 4.0], [1, 2, 2, 4.0]),
        CupedStats.from_values([2, 3, 4, 6.0], [1, 2, 3, 5.0]),
    )
    bayes = bayes_beta_binomial(
        SampleStats.from_counts(49, 100), SampleStats.from_counts(51, 100)
    )

    assert "missing_variant" in effect_text and "One of the variants" in effect_text
    assert "variance reduction" in _render(cuped)
    assert "chance to win" in _render(bayes) and "0.6108" in _render(bayes)
    assert "ALARM" in _render(srm_test([50000, 52000]))
    assert "14,751" in _render(plan_experiment(Baseline.for_proportion(0.1), 0.01))


def test_relative_effect_renders_as_percent() -> None:
    """Relative lifts show as signed percentages."""
    effect = compare_proportions(
        SampleStats.from_counts(1000, 10000),
        SampleStats.from_counts(1100, 10000),
        scale="relative",
    )

    assert "+10.00 %" in _render(effect)


def test_minimum_detectable_effect_inverts_sample_size() -> None:
    """MDE(n(mde)) = mde for proportions, means and ratios, absolute and relative."""
    ratio = RatioStats.from_values(
        [3, 0, 5, 2, 8, 1, 4, 2, 0, 6], [2, 1, 4, 2, 5, 1, 3, 2, 1, 4]
    )
    baselines = [
        Baseline.for_proportion([0.05, 0.3]),
        Baseline.for_mean(2.0, mean=10.0),
        Baseline.for_ratio(ratio),
    ]
    for baseline in baselines:
        for relative, mde in ((False, 0.02), (True, 0.05)):
            n = sample_size_per_arm(baseline, mde, relative=relative, power=0.9)
            back = minimum_detectable_effect(baseline, n, relative=relative, power=0.9)
            np.testing.assert_allclose(back, mde, rtol=1e-9)


def test_ratio_baseline_uses_delta_method_variance() -> None:
    """The ratio baseline's per-unit variance is n times Var(R) from compare_ratios."""
    stats = RatioStats.from_values(
        [3, 0, 5, 2, 8, 1, 4, 2, 0, 6], [2, 1, 4, 2, 5, 1, 3, 2, 1, 4]
    )

    baseline = Baseline.for_ratio(stats)

    assert baseline.mean == pytest.approx(1.24)
    assert baseline.variance == pytest.approx(float(ratio_unit_variance(stats)))
    n = sample_size_per_arm(baseline, 0.1)
    assert n == pytest.approx(
        2 * baseline.variance * (1.959963984540054 + 0.8416212335729143) ** 2 / 0.01
    )


def test_one_sided_sample_size_is_smaller() -> None:
    """A one-sided test at the same alpha needs fewer users."""
    baseline = Baseline.for_mean(1.0)

    one_sided = sample_size_per_arm(baseline, 0.1, alternative="greater")

    assert one_sided == pytest.approx(
        2 * (1.6448536269514722 + 0.8416212335729143) ** 2 / 0.01
    )


def test_days_needed_and_days_left() -> None:
    """Days follow from daily traffic and the split; the smallest arm decides."""
    assert days_needed(14751, 2000) == 15.0
    assert days_needed(1000, 1000, weights=[80, 20]) == 5.0
    assert days_left(14751, [10000, 9000], 2000) == 6.0
    assert days_left(14751, [15000, 16000], 2000) == 0.0
    assert days_left(1000, 500, 1000, weights=[0.8, 0.2]) == 3.0


def test_plan_experiment_carries_days() -> None:
    """plan_experiment joins the sample size and the days into one result."""
    plan = plan_experiment(Baseline.for_mean(1.0), 0.1, daily_units=400)

    assert plan.n_per_arm == pytest.approx(1569.776, rel=1e-6)
    assert plan.days_needed == 8.0
    assert json.loads(plan.to_json())["days_needed"] == 8.0


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: Baseline.for_proportion(1.2), "rate"),
        (lambda: Baseline.for_mean(0.0), "standard_deviation"),
        (lambda: sample_size_per_arm(Baseline.for_mean(1.0), -0.1), "mde"),
        (
            lambda: sample_size_per_arm(Baseline.for_mean(1.0), 0.1, relative=True),
            "mean",
        ),
        (lambda: sample_size_per_arm(Baseline.for_proportion(0.95), 0.1), "mde"),
        (lambda: sample_size_per_arm(Baseline.for_mean(1.0), 0.1, power=1.0), "power"),
        (lambda: days_needed(100, 0), "daily_units"),
        (lambda: days_needed(100, 10, weights=[1]), "weights"),
    ],
)
def test_planning_rejects_bad_input(call: object, field: str) -> None:
    """Planning inputs come from people: bad ones raise InputError naming the field."""
    with pytest.raises(InputError, match=field):
        call()  # type: ignore[operator]


def test_results_are_frozen_and_use_the_field_vocabulary() -> None:
    """Results cannot be changed after the fact and name fields in the field's words."""
    import dataclasses

    effect = compare_means(SampleStats(100, 120, 400), SampleStats(100, 150, 500))

    with pytest.raises(dataclasses.FrozenInstanceError):
        effect.p_value = None  # type: ignore[misc]
    names = {field.name for field in dataclasses.fields(effect)}
    assert {
        "point_estimate",
        "standard_error",
        "ci_lower",
        "ci_upper",
        "p_value",
        "chance_to_win",
        "expected_loss",
    } <= names
