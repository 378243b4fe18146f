"""Threshold tuning on labelled scores with answers worked out by hand."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from veedel.errors import ConfigError, InputError
from veedel.imagefilter import tradeoff, tune_thresholds

SCORES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
LABELS = [0, 0, 1, 0, 0, 1, 0, 1, 1, 1]


def test_hand_computed_thresholds() -> None:
    """Precision >= 0.75 first holds at 0.6 (4/5); miss 0 allows only below 0.3.

    Block precision by threshold: 0.5, 5/9, 5/8, 4/7, 4/6, 0.8, ... so the
    block threshold is 0.6. With no unsafe image allowed, the review threshold
    is the lowest unsafe score, 0.3. Review work: 0.3, 0.4, 0.5 = 3 of 10.
    """
    result = tune_thresholds(
        SCORES, LABELS, target_block_precision=0.75, target_allow_miss_rate=0.0
    )

    assert (result.thresholds.review, result.thresholds.block) == (0.3, 0.6)
    assert result.review_share == pytest.approx(0.3)
    assert result.block_share == pytest.approx(0.5)
    assert result.allow_share == pytest.approx(0.2)
    assert result.block_precision == pytest.approx(0.8)
    assert result.allow_miss_rate == 0.0
    assert result.feasible


def test_loose_miss_rate_closes_the_review_band() -> None:
    """A miss rate of 0.2 allows up to 0.6, past the block threshold: no review."""
    result = tune_thresholds(
        SCORES, LABELS, target_block_precision=0.75, target_allow_miss_rate=0.2
    )

    assert (result.thresholds.review, result.thresholds.block) == (0.6, 0.6)
    assert result.review_share == 0.0
    assert result.allow_miss_rate == pytest.approx(0.2)


def test_weights_equal_repeated_rows() -> None:
    """Weight 3 on a row gives the same thresholds and shares as three copies."""
    weights = np.ones(len(SCORES))
    weights[[2, 6]] = 3.0
    repeated_scores = [*SCORES, 0.3, 0.3, 0.7, 0.7]
    repeated_labels = [*LABELS, 1, 1, 0, 0]

    weighted = tune_thresholds(
        SCORES, LABELS, weights, target_block_precision=0.7, target_allow_miss_rate=0.1
    )
    repeated = tune_thresholds(
        repeated_scores,
        repeated_labels,
        target_block_precision=0.7,
        target_allow_miss_rate=0.1,
    )

    assert weighted.thresholds == repeated.thresholds
    assert weighted.review_share == pytest.approx(repeated.review_share)
    assert weighted.block_precision == pytest.approx(repeated.block_precision)


def test_unreachable_precision_blocks_nothing_with_a_reason() -> None:
    """If even the top score is safe, precision 1 cannot be met: block only at 1.0."""
    result = tune_thresholds(
        [0.2, 0.5, 0.9],
        [1, 0, 0],
        target_block_precision=1.0,
        target_allow_miss_rate=0.0,
    )

    assert result.thresholds.block == 1.0
    assert result.reasons == ("block_target_unreachable",)
    assert not result.feasible
    assert result.to_dict()["reasons"]["block_target_unreachable"]


def test_no_unsafe_labels_reviews_everything_below_block() -> None:
    """Without an unsafe label the miss rate is unknown: None and a reason."""
    result = tune_thresholds([0.1, 0.5], [0, 0])

    assert result.allow_miss_rate is None
    assert "no_unsafe_labels" in result.reasons
    assert result.thresholds.review == 0.1


def test_synthetic_scores_meet_their_targets(rng: np.random.Generator) -> None:
    """On 4000 simulated images the chosen thresholds meet both targets."""
    unsafe = rng.random(4000) < 0.1
    scores = np.where(unsafe, rng.beta(5, 2, 4000), rng.beta(1, 8, 4000))

    result = tune_thresholds(
        scores, unsafe, target_block_precision=0.9, target_allow_miss_rate=0.05
    )
    blocked = scores >= result.thresholds.block
    allowed = scores < result.thresholds.review

    assert unsafe[blocked].mean() >= 0.9
    assert (allowed & unsafe).sum() / unsafe.sum() <= 0.05
    # One step lower block threshold would break precision or it is the minimum.
    assert result.review_share == pytest.approx(1 - allowed.mean() - blocked.mean())


def test_tradeoff_review_work_falls_as_targets_loosen() -> None:
    """Looser miss-rate targets never need more review work."""
    rows = tradeoff(
        SCORES, LABELS, block_precisions=(0.75,), allow_miss_rates=(0.0, 0.2, 0.4)
    )

    shares = [row["review_share"] for row in rows]

    assert shares == sorted(shares, reverse=True)
    assert shares[0] == pytest.approx(0.3)


def test_table_lists_the_grid_and_the_chosen_thresholds() -> None:
    """Rows at 0.0, 0.1, ..., 1.0 and the two thresholds; values by hand at 0.6."""
    result = tune_thresholds(
        SCORES, LABELS, target_block_precision=0.75, target_allow_miss_rate=0.0
    )

    table = result.table(steps=10)
    at_06 = next(row for row in table if row["threshold"] == 0.6)

    assert len(table) == 11
    assert at_06["share_at_or_above"] == pytest.approx(0.5)
    assert at_06["block_precision"] == pytest.approx(0.8)
    assert at_06["allow_miss_rate"] == pytest.approx(0.2)


def test_plot_as_vega_lite_spec(tmp_path: Path) -> None:
    """The plot is a Vega-Lite spec with the curves, the thresholds and targets."""
    result = tune_thresholds(SCORES, LABELS, target_block_precision=0.75)

    path = result.write_plot(tmp_path / "tuning.json")
    spec = json.loads(path.read_text())

    assert spec["$schema"].endswith("vega-lite/v5.json")
    assert len(spec["layer"]) == 3
    assert {row["series"] for row in spec["layer"][0]["data"]["values"]} == {
        "block precision",
        "allow miss rate",
    }


@pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is not None,
    reason="matplotlib is installed; the PNG path runs instead",
)
def test_png_plot_without_matplotlib_names_the_fix(tmp_path: Path) -> None:
    """Asking for a PNG without matplotlib is a ConfigError naming the install."""
    result = tune_thresholds(SCORES, LABELS)

    with pytest.raises(ConfigError, match="pip install matplotlib"):
        result.write_plot(tmp_path / "tuning.png")


@pytest.mark.parametrize(
    ("scores", "labels", "field"),
    [
        ([], [], "scores"),
        ([0.1, 1.2], [0, 1], "scores"),
        ([0.1, 0.2], [0, 2], "labels"),
        ([0.1], [0, 1], "labels"),
    ],
)
def test_bad_labels_are_input_errors(
    scores: list[float], labels: list[int], field: str
) -> None:
    """Empty, out-of-range or mismatched inputs name the field."""
    with pytest.raises(InputError) as caught:
        tune_thresholds(scores, labels)
    assert caught.value.field == field


def test_weighted_audit_labels_estimate_the_full_population(
    rng: np.random.Generator,
) -> None:
    """Labels from the review band plus a 10 % audit of the rest, weighted by
    1 / 0.1, estimate the block precision and miss rate of all 20000 images."""
    n = 20_000
    unsafe = rng.random(n) < 0.05
    scores = np.where(unsafe, rng.beta(6, 2, n), rng.beta(1, 12, n))
    in_band = (scores >= 0.3) & (scores < 0.85)
    audited = ~in_band & (rng.random(n) < 0.1)
    labelled = in_band | audited
    weights = np.where(in_band, 1.0, 10.0)[labelled]

    estimate = tune_thresholds(
        scores[labelled],
        unsafe[labelled],
        weights,
        target_block_precision=0.9,
        target_allow_miss_rate=0.05,
    )
    blocked = scores >= estimate.thresholds.block
    allowed = scores < estimate.thresholds.review
    true_precision = unsafe[blocked].mean()
    true_miss = (allowed & unsafe).sum() / unsafe.sum()

    assert estimate.block_precision == pytest.approx(true_precision, abs=0.03)
    assert estimate.allow_miss_rate == pytest.approx(true_miss, abs=0.02)
    assert estimate.review_share == pytest.approx(
        1 - allowed.mean() - blocked.mean(), abs=0.02
    )
