"""Choose the two thresholds from reviewed labels.

Given scores and reviewer labels (1 = unsafe), find the review threshold
``r`` and block threshold ``b`` that meet

* a target **block precision**: of the images blocked automatically
  (``score >= b``), at least this share is unsafe, and
* a target **allow miss rate**: of all unsafe images, at most this share is
  allowed automatically (``score < r``),

with the least **review work**, the share of images with ``r <= score < b``.

Labels come from a review queue that sees every image in the review band but
only an audit sample of the others, so each label carries a weight: the
inverse of the probability that the image was labelled at all. Weighted, the
rates estimate what they would be on all images.

Notes
-----
Review work is ``F(b) - F(r)`` with ``F`` the weighted share of scores below
a point, so it is smallest for the smallest feasible ``b`` and the largest
feasible ``r``, and the two constraints can be solved apart: the miss rate
only grows with ``r``, so ``r`` is the largest candidate meeting it; block
precision is not monotone in ``b``, so every candidate is checked and the
smallest feasible one taken. If ``r`` would exceed ``b``, both are set to
``b`` and nothing is reviewed. Candidates are the observed scores.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from veedel.errors import ConfigError, InputError
from veedel.imagefilter.policy import Thresholds

__all__ = ["ThresholdCurve", "TuningResult", "threshold_curve", "tune_thresholds"]

#: Reason codes of a tuning result that could not meet a target.
REASONS = {
    "block_target_unreachable": "no block threshold reaches the target precision; "
    "nothing is blocked automatically",
    "no_unsafe_labels": "no label is unsafe, so the miss rate cannot be estimated; "
    "everything below the block threshold is reviewed",
}


@dataclass(frozen=True)
class ThresholdCurve:
    """Rates at every candidate threshold, ascending.

    ``block_precision[i]`` is the precision if ``threshold[i]`` were the block
    threshold (None where nothing would be blocked); ``allow_miss_rate[i]`` the
    miss rate if it were the review threshold; ``share_below[i]`` the weighted
    share of images scoring below it.
    """

    threshold: NDArray[np.float64]
    share_below: NDArray[np.float64]
    block_precision: NDArray[np.float64]
    allow_miss_rate: NDArray[np.float64]


@dataclass(frozen=True)
class TuningResult:
    """Chosen thresholds, what they achieve on the labels, and the curve."""

    thresholds: Thresholds
    target_block_precision: float
    target_allow_miss_rate: float
    review_share: float
    block_share: float
    allow_share: float
    block_precision: float | None
    allow_miss_rate: float | None
    n: int
    n_unsafe: int
    reasons: tuple[str, ...]
    curve: ThresholdCurve = field(repr=False)

    @property
    def feasible(self) -> bool:
        """True if both targets are met."""
        return not self.reasons

    @property
    def reason_texts(self) -> tuple[str, ...]:
        """Each unmet target in words (``reasons`` holds the stable codes)."""
        return tuple(REASONS[code] for code in self.reasons)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary without the curve."""
        return {
            "review_threshold": self.thresholds.review,
            "block_threshold": self.thresholds.block,
            "target_block_precision": self.target_block_precision,
            "target_allow_miss_rate": self.target_allow_miss_rate,
            "review_share": self.review_share,
            "block_share": self.block_share,
            "allow_share": self.allow_share,
            "block_precision": self.block_precision,
            "allow_miss_rate": self.allow_miss_rate,
            "n": self.n,
            "n_unsafe": self.n_unsafe,
            "feasible": self.feasible,
            "reasons": {code: REASONS[code] for code in self.reasons},
        }

    def table(self, steps: int = 20) -> list[dict[str, float | None]]:
        """The trade-off at ``steps + 1`` evenly spaced thresholds and the chosen two.

        Each row gives, for threshold ``t``, the share of images at or above
        it, the block precision if ``t`` blocked, the miss rate if ``t`` were
        the review threshold, and the review share if ``t`` replaced the review
        threshold (``t <= block``) or the block threshold (``t >= review``).
        """
        grid = set(np.round(np.linspace(0.0, 1.0, steps + 1), 6).tolist())
        grid |= {self.thresholds.review, self.thresholds.block}
        return [self._row(t) for t in sorted(grid)]

    def vega_lite(self) -> dict[str, Any]:
        """A Vega-Lite spec: precision and miss rate by threshold, targets, choice."""
        rows = []
        for t, precision, miss in zip(
            self.curve.threshold,
            self.curve.block_precision,
            self.curve.allow_miss_rate,
            strict=True,
        ):
            if not np.isnan(precision):
                rows.append(
                    {"threshold": t, "rate": precision, "series": "block precision"}
                )
            if not np.isnan(miss):
                rows.append({"threshold": t, "rate": miss, "series": "allow miss rate"})
        rules = [
            {"threshold": self.thresholds.review, "label": "review threshold"},
            {"threshold": self.thresholds.block, "label": "block threshold"},
        ]
        targets = [
            {"rate": self.target_block_precision, "label": "target precision"},
            {"rate": self.target_allow_miss_rate, "label": "target miss rate"},
        ]
        return {
            "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
            "title": "Image filter thresholds: precision and miss rate",
            "width": 480,
            "height": 280,
            "layer": [
                {
                    "data": {"values": rows},
                    "mark": {"type": "line", "interpolate": "step-after"},
                    "encoding": {
                        "x": {
                            "field": "threshold",
                            "type": "quantitative",
                            "scale": {"domain": [0, 1]},
                        },
                        "y": {
                            "field": "rate",
                            "type": "quantitative",
                            "scale": {"domain": [0, 1]},
                        },
                        "color": {"field": "series", "type": "nominal"},
                    },
                },
                {
                    "data": {"values": rules},
                    "mark": {"type": "rule", "strokeDash": [4, 4]},
                    "encoding": {
                        "x": {"field": "threshold", "type": "quantitative"},
                        "tooltip": [{"field": "label"}, {"field": "threshold"}],
                    },
                },
                {
                    "data": {"values": targets},
                    "mark": {"type": "rule", "color": "grey"},
                    "encoding": {
                        "y": {"field": "rate", "type": "quantitative"},
                        "tooltip": [{"field": "label"}, {"field": "rate"}],
                    },
                },
            ],
        }

    def write_plot(self, path: Path) -> Path:
        """Write the plot: ``.json`` as a Vega-Lite spec, ``.png`` via matplotlib."""
        if path.suffix == ".json":
            path.write_text(json.dumps(self.vega_lite(), indent=2), encoding="utf-8")
            return path
        if path.suffix != ".png":
            raise InputError("plot", "must end in .json or .png", str(path))
        try:
            # Imported by name: matplotlib is optional and has no stubs here.
            matplotlib: Any = importlib.import_module("matplotlib")
            matplotlib.use("Agg")
            plt: Any = importlib.import_module("matplotlib.pyplot")
        except ModuleNotFoundError:
            raise ConfigError(
                "matplotlib",
                "must be installed to write a PNG plot",
                None,
                fix="pip install matplotlib, or write the Vega-Lite spec (.json).",
            ) from None
        figure, axes = plt.subplots(figsize=(7, 4))
        axes.step(
            self.curve.threshold,
            self.curve.block_precision,
            where="post",
            label="block precision",
        )
        axes.step(
            self.curve.threshold,
            self.curve.allow_miss_rate,
            where="post",
            label="allow miss rate",
        )
        for value in (self.thresholds.review, self.thresholds.block):
            axes.axvline(value, linestyle="--", color="black", linewidth=0.8)
        axes.set_xlabel("threshold")
        axes.set_ylabel("rate")
        axes.legend()
        figure.savefig(path, dpi=100)
        plt.close(figure)
        return path

    def _row(self, t: float) -> dict[str, float | None]:
        curve = self.curve
        index = int(np.searchsorted(curve.threshold, t, side="left"))
        share_below = _share_below(curve, t)
        precision = _precision_between(curve, index)
        miss = _miss_at(curve, index)
        review, block = self.thresholds.review, self.thresholds.block
        share_block = _share_below(curve, block)
        share_review = _share_below(curve, review)
        if t <= block:
            review_share: float | None = share_block - share_below
        else:
            review_share = share_below - share_review
        return {
            "threshold": t,
            "share_at_or_above": 1.0 - share_below,
            "block_precision": precision,
            "allow_miss_rate": miss,
            "review_share": review_share,
        }


def threshold_curve(
    scores: ArrayLike, labels: ArrayLike, weights: ArrayLike | None = None
) -> ThresholdCurve:
    """Block precision, miss rate and share below at every distinct score.

    Parameters
    ----------
    scores
        Model scores in [0, 1].
    labels
        1 (or True) for unsafe, 0 for safe.
    weights
        Positive weights, the inverse labelling probability; 1 if None.
    """
    s, y, w = _validated(scores, labels, weights)
    order = np.argsort(s, kind="stable")
    s, y, w = s[order], y[order], w[order]
    threshold, first = np.unique(s, return_index=True)

    total = w.sum()
    unsafe_total = (w * y).sum()
    # Cumulative weight strictly below each distinct score.
    below = np.concatenate([[0.0], np.cumsum(w)])[first]
    unsafe_below = np.concatenate([[0.0], np.cumsum(w * y)])[first]
    at_or_above = total - below
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(
            at_or_above > 0, (unsafe_total - unsafe_below) / at_or_above, np.nan
        )
        miss = (
            unsafe_below / unsafe_total
            if unsafe_total > 0
            else np.full(threshold.shape, np.nan)
        )
    return ThresholdCurve(
        threshold=threshold.astype(np.float64),
        share_below=below / total,
        block_precision=precision,
        allow_miss_rate=miss,
    )


def tune_thresholds(
    scores: ArrayLike,
    labels: ArrayLike,
    weights: ArrayLike | None = None,
    *,
    target_block_precision: float = 0.95,
    target_allow_miss_rate: float = 0.05,
) -> TuningResult:
    """Thresholds meeting both targets with the least review work.

    Parameters
    ----------
    scores, labels, weights
        As in :func:`threshold_curve`.
    target_block_precision
        Least acceptable share of unsafe images among those blocked.
    target_allow_miss_rate
        Greatest acceptable share of unsafe images that are allowed.

    Returns
    -------
    TuningResult
        With ``reasons`` naming any target that could not be met.

    Examples
    --------
    >>> result = tune_thresholds([0.1, 0.4, 0.6, 0.9], [0, 0, 1, 1],
    ...                          target_block_precision=1.0,
    ...                          target_allow_miss_rate=0.0)
    >>> (result.thresholds.review, result.thresholds.block, result.review_share)
    (0.6, 0.6, 0.0)
    """
    for name, value in (
        ("target_block_precision", target_block_precision),
        ("target_allow_miss_rate", target_allow_miss_rate),
    ):
        if not 0.0 <= value <= 1.0:
            raise InputError(name, "must be a share in [0, 1]", value)
    curve = threshold_curve(scores, labels, weights)
    _, y, _ = _validated(scores, labels, weights)
    reasons: list[str] = []

    feasible_block = np.flatnonzero(curve.block_precision >= target_block_precision)
    if feasible_block.size:
        block = float(curve.threshold[feasible_block[0]])
    else:
        block = 1.0
        reasons.append("block_target_unreachable")

    if np.all(np.isnan(curve.allow_miss_rate)):
        review = float(curve.threshold[0])
        reasons.append("no_unsafe_labels")
    else:
        feasible_review = np.flatnonzero(
            curve.allow_miss_rate <= target_allow_miss_rate + 1e-12
        )
        review = float(curve.threshold[feasible_review[-1]])
    review = min(review, block)

    share_review = _share_below(curve, review)
    share_block = _share_below(curve, block)
    index_block = int(np.searchsorted(curve.threshold, block, side="left"))
    index_review = int(np.searchsorted(curve.threshold, review, side="left"))
    return TuningResult(
        thresholds=Thresholds(review=review, block=block),
        target_block_precision=target_block_precision,
        target_allow_miss_rate=target_allow_miss_rate,
        review_share=share_block - share_review,
        block_share=1.0 - share_block,
        allow_share=share_review,
        block_precision=_precision_between(curve, index_block),
        allow_miss_rate=_miss_at(curve, index_review),
        n=int(y.size),
        n_unsafe=int(y.sum()),
        reasons=tuple(reasons),
        curve=curve,
    )


def tradeoff(
    scores: ArrayLike,
    labels: ArrayLike,
    weights: ArrayLike | None = None,
    *,
    block_precisions: Sequence[float] = (0.8, 0.9, 0.95, 0.99),
    allow_miss_rates: Sequence[float] = (0.01, 0.02, 0.05, 0.1),
) -> list[dict[str, Any]]:
    """Review share needed for every pair of targets: the price of strictness."""
    rows = []
    for precision in block_precisions:
        for miss in allow_miss_rates:
            result = tune_thresholds(
                scores,
                labels,
                weights,
                target_block_precision=precision,
                target_allow_miss_rate=miss,
            )
            rows.append(
                {
                    "target_block_precision": precision,
                    "target_allow_miss_rate": miss,
                    "review_threshold": result.thresholds.review,
                    "block_threshold": result.thresholds.block,
                    "review_share": result.review_share,
                    "feasible": result.feasible,
                }
            )
    return rows


def _validated(
    scores: ArrayLike, labels: ArrayLike, weights: ArrayLike | None
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels, dtype=np.float64).ravel()
    w = np.ones_like(s) if weights is None else np.asarray(weights, np.float64).ravel()
    if s.size == 0:
        raise InputError("scores", "must not be empty", [], fix="Review some images.")
    if y.shape != s.shape or w.shape != s.shape:
        raise InputError(
            "labels", f"must have one entry per score ({s.size})", int(y.size)
        )
    if not np.all((s >= 0.0) & (s <= 1.0)):
        raise InputError(
            "scores", "must lie in [0, 1]", float(s[~((s >= 0) & (s <= 1))][0])
        )
    if not np.all((y == 0.0) | (y == 1.0)):
        raise InputError(
            "labels", "must be 0 (safe) or 1 (unsafe)", sorted(set(y.tolist()))[:5]
        )
    if not np.all(w > 0.0) or not np.all(np.isfinite(w)):
        raise InputError("weights", "must be positive and finite", float(w.min()))
    return s, y, w


def _share_below(curve: ThresholdCurve, t: float) -> float:
    index = int(np.searchsorted(curve.threshold, t, side="left"))
    if index >= curve.threshold.size:
        return 1.0
    return float(curve.share_below[index])


def _precision_between(curve: ThresholdCurve, index: int) -> float | None:
    # The blocked set for any t in (threshold[index-1], threshold[index]] is
    # the one at threshold[index].
    if index >= curve.threshold.size or np.isnan(curve.block_precision[index]):
        return None
    return float(curve.block_precision[index])


def _miss_at(curve: ThresholdCurve, index: int) -> float | None:
    if np.all(np.isnan(curve.allow_miss_rate)):
        return None
    if index >= curve.threshold.size:
        return 1.0
    return float(curve.allow_miss_rate[index])
