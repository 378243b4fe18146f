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
def asos() -> pd.DataFrame:
    """The bundled ASOS archive."""
    return load_asos()


@pytest.fixture(scope="module")
def upworthy() -> pd.DataFrame:
    """The bundled Upworthy exploratory archive."""
    return load_upworthy()


@pytest.fixture(scope="module")
def asos_subset(asos: pd.DataFrame) -> pd.DataFrame:
    """Three ASOS experiments (every variant, metric and look)."""
    keep = sorted(asos["experiment_id"].unique())[:3]
    return asos[asos["experiment_id"].isin(keep)]


def test_bundled_archives_have_their_documented_size(
    asos: pd.DataFrame, upworthy: pd.DataFrame
) -> None:
    """The bundled copies are the full archives: 78 experiments, 4,873 tests."""
    assert asos["experiment_id"].nunique() == 78
    assert upworthy["clickability_test_id"].nunique() == 4873


def test_asos_headline_counts_are_the_documented_ones(asos: pd.DataFrame) -> None:
    """The figures in docs/experiments.md, pinned so that the docs cannot drift.

    Fixed horizon at the last look and sequential over every look (one mixing
    variance per series), each direction, on all 381 computable series.
    """
    summary = analyze_asos(asos)
    assert (summary.experiments, summary.series, summary.not_computable) == (
        78, 396, 15,
    )  # fmt: skip
    assert summary.fixed == {"up": 56, "down": 49, "none": 276}
    assert summary.sequential == {"up": 56, "down": 52, "none": 273}
    assert summary.naive_peeking == {"up": 109, "down": 116, "none": 156}
    assert summary.agreement == {
        "both_significant_same_direction": 72,
        "both_not_significant": 242,
        "fixed_only": 31,
        "sequential_only": 34,
        "opposite_directions": 2,
    }
    assert summary.median_share_of_duration_at_stop == pytest.approx(0.3046, abs=1e-4)
    opposite = sorted(
        (r["experiment_id"], round(r["sequential_stop_day"], 9),
         round(r["duration_days"], 9))
        for r in summary.records
        if r["computable"] and "none" not in (r["fixed"], r["sequential"])
        and r["fixed"] != r["sequential"]
    )  # fmt: skip
    assert opposite == [("39aed1", 5.5, 22.5), ("e861d3", 13.0, 65.0)]


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


# Three real Upworthy tests (ids from the bundled archive), checked by hand.
CLEAR, CLOSE, THREE = (
    "51436079220cb800020008a8",
    "51436069220cb800020005bd",
    "5143607d220cb80002000949",
)


@pytest.fixture(scope="module")
def upworthy_subset(upworthy: pd.DataFrame) -> pd.DataFrame:
    """Two two-arm tests and one three-arm test of the real archive."""
    return upworthy[upworthy["clickability_test_id"].isin([CLEAR, CLOSE, THREE])]


def _pooled_z_p(clicks: tuple[int, int], impressions: tuple[int, int]) -> float:
    (c1, c2), (n1, n2) = clicks, impressions
    pooled = (c1 + c2) / (n1 + n2)
    z = (c1 / n1 - c2 / n2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return float(2 * scipy_stats.norm.sf(abs(z)))


def test_upworthy_subset_holds_the_rows_read_from_the_archive(
    upworthy_subset: pd.DataFrame,
) -> None:
    """The arms of the three tests, as in the archive (the numbers used below)."""
    arms = {
        test: sorted(zip(part["impressions"], part["clicks"], strict=True))
        for test, part in upworthy_subset.groupby("clickability_test_id")
    }
    assert arms == {
        CLEAR: [(3670, 67), (3951, 197)],
        CLOSE: [(5210, 103), (5363, 89)],
        THREE: [(3024, 44), (3077, 128), (3117, 84)],
    }
    flagged = upworthy_subset[upworthy_subset["first_place"]]
    assert set(flagged["significance"]) == {100.0}


def test_upworthy_real_tests_by_hand(upworthy_subset: pd.DataFrame) -> None:
    """veedel's p-values and calls on three real tests, recomputed by hand.

    CLEAR: 197/3951 (5.0 %) against 67/3670 (1.8 %): a winner. CLOSE: 103/5210
    (1.98 %) against 89/5363 (1.66 %): p = 0.22, no winner, though the
    publisher's dashboard said 100. THREE: the top arm 128/3077 against 84/3117
    and 44/3024; Holm doubles the smaller p and the winner needs the larger
    adjusted one below 0.05.
    """
    records = {r["test_id"]: r for r in analyze_upworthy(upworthy_subset).records}

    clear = _pooled_z_p((197, 67), (3951, 3670))
    assert records[CLEAR]["veedel_max_adjusted_p"] == pytest.approx(clear, rel=1e-9)
    assert clear < 1e-12 and records[CLEAR]["veedel_winner"]

    close = _pooled_z_p((103, 89), (5210, 5363))
    assert records[CLOSE]["veedel_max_adjusted_p"] == pytest.approx(close, rel=1e-9)
    assert close == pytest.approx(0.2217, abs=1e-4)
    assert not records[CLOSE]["veedel_winner"]
    assert records[CLOSE]["publisher_significant"]

    p_second = _pooled_z_p((128, 84), (3077, 3117))
    p_third = _pooled_z_p((128, 44), (3077, 3024))
    holm = max(2 * min(p_second, p_third), max(p_second, p_third))
    assert records[THREE]["veedel_max_adjusted_p"] == pytest.approx(holm, rel=1e-9)
    assert holm == pytest.approx(0.00152, abs=1e-5)
    assert records[THREE]["veedel_winner"]
    assert all(r["editor_winner_is_top_arm"] for r in records.values())


def test_upworthy_subset_summary_counts(upworthy_subset: pd.DataFrame) -> None:
    """Publisher calls all three; veedel two, and CLOSE is the 'publisher only'."""
    summary = analyze_upworthy(upworthy_subset)
    assert (summary.tests, summary.arms) == (3, 7)
    assert summary.agreement_significance == {
        "both_call_a_winner": 2,
        "publisher_only": 1,
        "veedel_only": 0,
        "neither": 0,
    }
    assert summary.editor_winner_agreement == {
        "editor_winner_is_top_arm_and_veedel_winner": 2,
        "editor_winner_is_top_arm_veedel_unsure": 1,
        "editor_winner_not_top_arm": 0,
    }
