"""How well the model and thresholds separate a user's labelled images.

The folder layout is ``DIR/safe/...`` and ``DIR/unsafe/...`` (subfolders
allowed). :func:`evaluate_folder` scores every image in it and
:func:`evaluate_scores` computes, from scores and labels alone:

* ROC AUC, the chance that a random unsafe image outscores a random safe one;
* recall at a chosen false-positive rate: the share of unsafe images caught
  by the threshold that flags at most that share of safe images;
* at the configured thresholds, the shares allowed, reviewed and blocked, the
  block precision and the allow miss rate.

A metric that cannot be computed (for example AUC with only safe images) is
None with a reason code, never NaN.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import roc_auc_score, roc_curve

from veedel.errors import InputError
from veedel.imagefilter.decode import DecodeLimits, ImageDecodeError, read_image_file
from veedel.imagefilter.model import Classifier
from veedel.imagefilter.policy import Thresholds

__all__ = [
    "IMAGE_SUFFIXES",
    "Evaluation",
    "evaluate_folder",
    "evaluate_scores",
    "labelled_images",
]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif"})

REASONS = {
    "one_class_only": "both safe and unsafe images are needed for ROC AUC and recall",
    "no_unsafe": "no unsafe image, so recall and miss rate are undefined",
    "nothing_blocked": "no image is blocked, so block precision is undefined",
}


@dataclass(frozen=True)
class Evaluation:
    """Metrics on one labelled set; None where a metric is undefined."""

    n_safe: int
    n_unsafe: int
    thresholds: Thresholds
    target_fpr: float
    roc_auc: float | None
    recall_at_fpr: float | None
    threshold_at_fpr: float | None
    allow_share: float
    review_share: float
    block_share: float
    block_precision: float | None
    allow_miss_rate: float | None
    reasons: tuple[str, ...] = ()
    errors: tuple[tuple[str, str], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping; ``errors`` lists unreadable files and codes."""
        return {
            "n_safe": self.n_safe,
            "n_unsafe": self.n_unsafe,
            "review_threshold": self.thresholds.review,
            "block_threshold": self.thresholds.block,
            "target_fpr": self.target_fpr,
            "roc_auc": self.roc_auc,
            "recall_at_fpr": self.recall_at_fpr,
            "threshold_at_fpr": self.threshold_at_fpr,
            "allow_share": self.allow_share,
            "review_share": self.review_share,
            "block_share": self.block_share,
            "block_precision": self.block_precision,
            "allow_miss_rate": self.allow_miss_rate,
            "reasons": {code: REASONS[code] for code in self.reasons},
            "errors": [{"path": path, "code": code} for path, code in self.errors],
        }


def evaluate_scores(
    scores: ArrayLike,
    labels: ArrayLike,
    thresholds: Thresholds,
    *,
    target_fpr: float = 0.01,
) -> Evaluation:
    """Metrics from scores and labels (1 = unsafe).

    Parameters
    ----------
    scores
        Model scores in [0, 1].
    labels
        1 for unsafe, 0 for safe.
    thresholds
        The review and block thresholds to report shares for.
    target_fpr
        The false-positive rate at which recall is read off the ROC curve.

    Notes
    -----
    Recall at FPR ``f`` is the largest true-positive rate on the ROC curve
    among the points whose false-positive rate is at most ``f``; the threshold
    reported is the score cut that achieves it (flag ``score >= threshold``).
    """
    if not 0.0 <= target_fpr <= 1.0:
        raise InputError("target_fpr", "must be a rate in [0, 1]", target_fpr)
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels, dtype=np.int64).ravel()
    if s.size == 0 or s.shape != y.shape:
        raise InputError(
            "labels", "must be non-empty with one label per score", int(y.size)
        )
    if not np.all((y == 0) | (y == 1)):
        raise InputError(
            "labels", "must be 0 (safe) or 1 (unsafe)", sorted(set(y.tolist()))
        )

    reasons: list[str] = []
    roc_auc = recall = cut = None
    if y.min() == y.max():
        reasons.append("one_class_only")
    else:
        roc_auc = float(roc_auc_score(y, s))
        fpr, tpr, cuts = roc_curve(y, s)
        within = np.flatnonzero(fpr <= target_fpr + 1e-12)
        best = within[np.argmax(tpr[within])]
        recall = float(tpr[best])
        cut = float(min(cuts[best], 1.0))

    allowed = s < thresholds.review
    blocked = s >= thresholds.block
    n_unsafe = int(y.sum())
    miss = None
    if n_unsafe:
        miss = float((allowed & (y == 1)).sum() / n_unsafe)
    else:
        reasons.append("no_unsafe")
    precision = None
    if blocked.any():
        precision = float(y[blocked].mean())
    else:
        reasons.append("nothing_blocked")

    return Evaluation(
        n_safe=int(y.size - n_unsafe),
        n_unsafe=n_unsafe,
        thresholds=thresholds,
        target_fpr=target_fpr,
        roc_auc=roc_auc,
        recall_at_fpr=recall,
        threshold_at_fpr=cut,
        allow_share=float(allowed.mean()),
        review_share=float((~allowed & ~blocked).mean()),
        block_share=float(blocked.mean()),
        block_precision=precision,
        allow_miss_rate=miss,
        reasons=tuple(reasons),
    )


def labelled_images(root: Path) -> list[tuple[Path, int]]:
    """Image files under ``root/safe`` (label 0) and ``root/unsafe`` (label 1)."""
    if not root.is_dir():
        raise InputError("DIR", "must be an existing folder", str(root))
    found = [
        (path, label)
        for label, name in ((0, "safe"), (1, "unsafe"))
        for path in _images_under(root / name)
    ]
    if not found:
        raise InputError(
            "DIR",
            "must hold images in safe/ and unsafe/ subfolders",
            str(root),
            fix="Put labelled images into DIR/safe/ and DIR/unsafe/.",
        )
    return found


def evaluate_folder(
    root: Path,
    classifier: Classifier,
    thresholds: Thresholds,
    *,
    target_fpr: float = 0.01,
    limits: DecodeLimits | None = None,
    on_image: Callable[[Path], None] | None = None,
) -> Evaluation:
    """Score the labelled folder ``root`` and evaluate; unreadable files are listed."""
    scores: list[float] = []
    labels: list[int] = []
    errors: list[tuple[str, str]] = []
    for path, label in labelled_images(root):
        try:
            image = read_image_file(path, limits)
        except ImageDecodeError as exc:
            errors.append((str(path.relative_to(root)), exc.code))
        else:
            scores.append(float(classifier.score([image])[0]))
            labels.append(label)
        if on_image is not None:
            on_image(path)
    if not scores:
        raise InputError("DIR", "must contain at least one readable image", str(root))
    result = evaluate_scores(scores, labels, thresholds, target_fpr=target_fpr)
    return Evaluation(**{**result.__dict__, "errors": tuple(errors)})


def _images_under(folder: Path) -> Iterator[Path]:
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            yield path
