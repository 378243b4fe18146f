"""Evaluation metrics on labelled scores with known answers, and on a folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from image_samples import PHOTOS

from veedel.errors import InputError
from veedel.imagefilter import (
    OnnxClassifier,
    Thresholds,
    evaluate_folder,
    evaluate_scores,
)


def test_small_case_by_hand() -> None:
    """AUC 0.75 (3 of 4 pairs ordered); recall 0.5 at FPR 0, 1.0 at FPR 0.5."""
    scores = [0.1, 0.4, 0.35, 0.8]
    labels = [0, 0, 1, 1]
    thresholds = Thresholds(review=0.3, block=0.7)

    strict = evaluate_scores(scores, labels, thresholds, target_fpr=0.0)
    loose = evaluate_scores(scores, labels, thresholds, target_fpr=0.5)

    assert strict.roc_auc == pytest.approx(0.75)
    assert (strict.recall_at_fpr, strict.threshold_at_fpr) == (0.5, 0.8)
    assert (loose.recall_at_fpr, loose.threshold_at_fpr) == (1.0, 0.35)
    assert (strict.allow_share, strict.review_share, strict.block_share) == (
        0.25,
        0.5,
        0.25,
    )
    assert strict.block_precision == 1.0
    assert strict.allow_miss_rate == 0.0


def test_auc_equals_the_pair_count(rng: np.random.Generator) -> None:
    """ROC AUC equals the share of (unsafe, safe) pairs ordered right, ties half."""
    labels = rng.random(300) < 0.3
    scores = np.round(np.where(labels, rng.beta(3, 2, 300), rng.beta(2, 3, 300)), 2)

    result = evaluate_scores(scores, labels, Thresholds(review=0.3, block=0.8))
    diff = scores[labels][:, None] - scores[~labels][None, :]
    by_pairs = ((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size

    assert result.roc_auc == pytest.approx(by_pairs, abs=1e-12)


def test_one_class_gives_none_and_reasons() -> None:
    """Only safe images: AUC, recall and miss rate are None with reason codes."""
    result = evaluate_scores([0.1, 0.2], [0, 0], Thresholds(review=0.5, block=0.9))

    assert result.roc_auc is None and result.recall_at_fpr is None
    assert result.allow_miss_rate is None and result.block_precision is None
    assert set(result.reasons) == {"one_class_only", "no_unsafe", "nothing_blocked"}
    assert "NaN" not in str(result.to_dict())


def test_bad_target_fpr_is_an_input_error() -> None:
    """A false-positive rate outside [0, 1] is refused."""
    with pytest.raises(InputError, match="target_fpr"):
        evaluate_scores([0.1], [0], Thresholds(review=0.3, block=0.8), target_fpr=2)


def test_folder_with_real_model(tmp_path: Path, classifier: OnnxClassifier) -> None:
    """A labelled folder is scored by the real model; a broken file is listed.

    No explicit images exist here, so two benign photos stand in for 'unsafe':
    retina (0.177) and logo (0.037) outscore every photo in safe/ (at most
    0.004), so the AUC is exactly 1.
    """
    for name in ("chelsea", "rocket", "camera"):
        (tmp_path / "safe").mkdir(exist_ok=True)
        (tmp_path / "safe" / PHOTOS[name].name).write_bytes(PHOTOS[name].read_bytes())
    (tmp_path / "unsafe" / "nested").mkdir(parents=True)
    for name in ("retina", "logo"):
        target = tmp_path / "unsafe" / "nested" / PHOTOS[name].name
        target.write_bytes(PHOTOS[name].read_bytes())
    (tmp_path / "safe" / "broken.jpg").write_bytes(b"")

    result = evaluate_folder(tmp_path, classifier, Thresholds(review=0.1, block=0.5))

    assert (result.n_safe, result.n_unsafe) == (3, 2)
    assert result.roc_auc == 1.0
    assert result.review_share == pytest.approx(0.2)  # retina only
    assert result.errors == (("safe/broken.jpg", "empty"),)


def test_folder_without_labels_is_an_input_error(
    tmp_path: Path, classifier: OnnxClassifier
) -> None:
    """A folder without safe/ or unsafe/ names the expected layout."""
    with pytest.raises(InputError, match="safe/ and unsafe/"):
        evaluate_folder(tmp_path, classifier, Thresholds(review=0.1, block=0.5))
