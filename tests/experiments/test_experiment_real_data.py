"""Small subsets of the ASOS and Upworthy archives, checked by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from veedel.experiments.real_data import (
    analyze_asos,
    analyze_upworthy,
    load_asos,
    load_upworthy,
)


@pytest.fixture(scope="module")
def asos_subset() -> pd.DataFrame:
    """Three ASOS experiments (every variant, metric and look)."""
    frame = load_asos()
    keep = sorted(frame["experiment_id"].unique())[:3]
    return frame[frame["experiment_id"].isin(keep)]


def test_bundled_archives_have_their_documented_size() -> None:
    """The bundled copies are the full archives: 78 experiments, 4,873 tests."""
    assert load_asos()["experiment_id"].nunique() == 78
    assert load_upworthy()["clickability_test_id"].nunique() == 4873


def test_asos_fixed_horizon_p_is_welchs(asos_subset: pd.DataFrame) -> None:
    """The last look's p-value equals scipy's Welch test from the same stats."""
    summary = analyze_asos(asos_subset)
    record = next(r for r in summary.records if r["computable"])
    series = asos_subset[
        (asos_subset.experiment_id == record["experiment_id"])
        & (asos_subset.variant_id == record["variant_id"])
        & (asos_subset.metric_id == record["metric_id"])
    ].sort_values("time_since_start")
    last = series.iloc[-1]
    expected = scipy_stats.ttest_ind_from_stats(
        last.mean_t, math.sqrt(last.variance_t), last.count_t,
        last.mean_c, math.sqrt(last.variance_c), last.count_c,
        equal_var=False,
    ).pvalue  # fmt: skip
    assert record["fixed_p_value"] == pytest.approx(expected, rel=1e-9)


def test_asos_summary_counts_add_up(asos_subset: pd.DataFrame) -> None:
    """Every computable series is counted once in each analysis and agreement."""
    summary = analyze_asos(asos_subset)
    usable = summary.series - summary.not_computable
    for counts in (summary.fixed, summary.sequential, summary.naive_peeking):
        assert sum(counts.values()) == usable
    assert sum(summary.agreement.values()) == usable
    # Peeking with the fixed test finds at least what the last look finds.
    naive = summary.naive_peeking["up"] + summary.naive_peeking["down"]
    assert naive >= summary.fixed["up"] + summary.fixed["down"]


def test_asos_missing_variances_are_not_computed() -> None:
    """A series without variances is reported, not analysed with NaN."""
    frame = load_asos()
    keys = ["experiment_id", "variant_id", "metric_id"]
    missing = frame.groupby(keys)["variance_c"].apply(lambda v: v.isna().all())
    key = missing[missing].index[0]
    series = frame.set_index(keys).loc[[key]].reset_index()
    summary = analyze_asos(series)
    assert summary.not_computable == 1
    assert summary.records[0]["fixed"] == "not_computed"


def _test(test_id: str, impressions: list[int], clicks: list[int]) -> pd.DataFrame:
    rates = np.array(clicks) / np.array(impressions)
    best = int(np.argmax(rates))
    return pd.DataFrame(
        {
            "clickability_test_id": test_id,
            "impressions": impressions,
            "clicks": clicks,
            "significance": [100.0 if i == best else 10.0 for i in range(len(rates))],
            "winner": [i == best for i in range(len(rates))],
            "first_place": [i == best for i in range(len(rates))],
        }
    )


def test_upworthy_calls_clear_and_unclear_tests() -> None:
    """A clear winner is called; a close race the publisher called is not."""
    clear = _test("clear", [5000, 5000, 5000], [100, 105, 300])
    close = _test("close", [3500, 3500], [120, 100])
    summary = analyze_upworthy(pd.concat([clear, close], ignore_index=True))
    records = {r["test_id"]: r for r in summary.records}
    assert records["clear"]["veedel_winner"]
    assert not records["close"]["veedel_winner"]
    assert summary.agreement_significance == {
        "both_call_a_winner": 1,
        "publisher_only": 1,
        "veedel_only": 0,
        "neither": 0,
    }


def test_upworthy_two_arm_p_is_the_pooled_z_test() -> None:
    """With two arms there is one comparison: Holm leaves its p-value alone."""
    close = _test("close", [3500, 3500], [120, 100])
    record = analyze_upworthy(close).records[0]
    p1, p2, n = 120 / 3500, 100 / 3500, 3500
    pooled = 220 / 7000
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * 2 / n)
    expected = 2 * scipy_stats.norm.sf(abs(z))
    assert record["veedel_max_adjusted_p"] == pytest.approx(expected, rel=1e-9)
