"""What the review queue tells about the filter: load, agreement, error rates.

* **Queue**: open, held and decided items by kind.
* **Reviewers**: decisions, approvals and rejections per reviewer.
* **Agreement**: Cohen's kappa between first and independent second reviews.
* **Error rates of the automatic decisions**, from the blind audit samples:
  the share of automatically allowed images that reviewers rejected (unsafe
  content that got through) and the share of automatically blocked images
  they approved (safe content blocked), each with a 95 % Wilson interval.
* **Labels** for threshold tuning: every first review as (score, unsafe,
  weight), the weight being the inverse of the chance the image was queued.

A figure that cannot be computed is None with a reason code.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import cohen_kappa_score
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import aliased

from veedel.imagefilter.queue import utcnow
from veedel.imagefilter.tables import ImageDecision, ReviewDecision, ReviewItem
from veedel.store import session_scope

__all__ = [
    "Agreement",
    "ErrorRate",
    "QueueStats",
    "agreement",
    "queue_stats",
    "review_labels",
    "wilson_interval",
]

REASONS = {
    "too_few_pairs": "fewer than 2 items have both a first and a second review",
    "one_category_only": "both reviewers gave one and the same verdict throughout, "
    "so kappa is undefined (agreement by chance is 1)",
    "no_audits": "no audit sample of this kind has been decided yet",
}


@dataclass(frozen=True)
class Agreement:
    """Cohen's kappa between first and second reviews of the same items."""

    n_pairs: int
    observed: float | None
    kappa: float | None
    reason: str | None = None

    @property
    def reason_text(self) -> str | None:
        """Why kappa is missing, in words (``reason`` is the stable code)."""
        return None if self.reason is None else REASONS[self.reason]


@dataclass(frozen=True)
class ErrorRate:
    """A share with its 95 % Wilson interval, from ``n`` audited items."""

    n: int
    errors: int
    rate: float | None
    low: float | None
    high: float | None
    reason: str | None = None

    @property
    def reason_text(self) -> str | None:
        """Why the rate is missing, in words (``reason`` is the stable code)."""
        return None if self.reason is None else REASONS[self.reason]


@dataclass(frozen=True)
class QueueStats:
    """Everything ``veedel images stats`` shows."""

    open: int
    held: int
    decided: int
    by_kind: dict[str, dict[str, int]]
    reviewers: dict[str, dict[str, int]]
    agreement: Agreement
    allowed_but_unsafe: ErrorRate
    blocked_but_safe: ErrorRate
    decisions: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        data = asdict(self)
        for key in ("agreement", "allowed_but_unsafe", "blocked_but_safe"):
            reason = data[key].get("reason")
            if reason:
                data[key]["reason_text"] = REASONS[reason]
        return data


def wilson_interval(errors: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval of a binomial share ``errors / n`` (n > 0).

    Notes
    -----
    ``(p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)``, Wilson (1927).
    """
    p = errors / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def agreement(engine: Engine) -> Agreement:
    """Cohen's kappa of first against second reviews."""
    first_item = aliased(ReviewItem)
    first = aliased(ReviewDecision)
    second = aliased(ReviewDecision)
    with session_scope(engine) as session:
        pairs = session.execute(
            select(first.verdict, second.verdict)
            .select_from(ReviewItem)
            .join(second, second.item_id == ReviewItem.id)
            .join(first_item, first_item.id == ReviewItem.first_item_id)
            .join(first, first.item_id == first_item.id)
            .where(ReviewItem.kind == "second")
        ).all()
    n = len(pairs)
    if n < 2:
        return Agreement(n, None, None, "too_few_pairs")
    a = [row[0] for row in pairs]
    b = [row[1] for row in pairs]
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    if len(set(a) | set(b)) == 1:
        return Agreement(n, observed, None, "one_category_only")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        kappa = float(cohen_kappa_score(a, b))
    if math.isnan(kappa):
        return Agreement(n, observed, None, "one_category_only")
    return Agreement(n, observed, kappa)


def queue_stats(engine: Engine) -> QueueStats:
    """Queue size, decisions per reviewer, agreement and audit error rates."""
    now = utcnow()
    with session_scope(engine) as session:
        by_kind: dict[str, dict[str, int]] = {}
        leased = ReviewItem.lease_expires_at > now
        for kind, status, held, count in session.execute(
            select(ReviewItem.kind, ReviewItem.status, leased, func.count()).group_by(
                ReviewItem.kind, ReviewItem.status, leased
            )
        ):
            state = "decided" if status == "done" else ("held" if held else "open")
            counts = by_kind.setdefault(kind, {"open": 0, "held": 0, "decided": 0})
            counts[state] += int(count)

        reviewers: dict[str, dict[str, int]] = {}
        for reviewer, verdict, count in session.execute(
            select(
                ReviewDecision.reviewer, ReviewDecision.verdict, func.count()
            ).group_by(ReviewDecision.reviewer, ReviewDecision.verdict)
        ):
            row = reviewers.setdefault(
                reviewer, {"decisions": 0, "approve": 0, "reject": 0}
            )
            row[verdict] += int(count)
            row["decisions"] += int(count)

        decisions = {
            str(action): int(count)
            for action, count in session.execute(
                select(ImageDecision.action, func.count()).group_by(
                    ImageDecision.action
                )
            )
        }
        audits = session.execute(
            select(ImageDecision.action, ReviewDecision.verdict, func.count())
            .select_from(ReviewItem)
            .join(ImageDecision, ImageDecision.id == ReviewItem.decision_id)
            .join(ReviewDecision, ReviewDecision.item_id == ReviewItem.id)
            .where(ReviewItem.kind == "audit")
            .group_by(ImageDecision.action, ReviewDecision.verdict)
        ).all()

    totals = {
        state: sum(c[state] for c in by_kind.values())
        for state in ("open", "held", "decided")
    }
    return QueueStats(
        open=totals["open"],
        held=totals["held"],
        decided=totals["decided"],
        by_kind=by_kind,
        reviewers=reviewers,
        agreement=agreement(engine),
        allowed_but_unsafe=_error_rate(audits, "allow", "reject"),
        blocked_but_safe=_error_rate(audits, "block", "approve"),
        decisions=decisions,
    )


def review_labels(
    engine: Engine,
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]]:
    """Scores, labels (1 = rejected as unsafe) and weights of first reviews."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(
                ImageDecision.score,
                ReviewDecision.verdict,
                ReviewItem.inclusion_probability,
            )
            .select_from(ReviewItem)
            .join(ImageDecision, ImageDecision.id == ReviewItem.decision_id)
            .join(ReviewDecision, ReviewDecision.item_id == ReviewItem.id)
            .where(ReviewItem.kind != "second")
            .order_by(ReviewItem.id)
        ).all()
    scores = np.array([row[0] for row in rows], dtype=np.float64)
    labels = np.array([row[1] == "reject" for row in rows], dtype=np.int64)
    weights = np.array([1.0 / max(row[2], 1e-9) for row in rows], dtype=np.float64)
    return scores, labels, weights


def _error_rate(rows: Sequence[Any], action: str, wrong: str) -> ErrorRate:
    n = sum(int(count) for act, _, count in rows if act == action)
    errors = sum(
        int(count) for act, verdict, count in rows if act == action and verdict == wrong
    )
    if n == 0:
        return ErrorRate(0, 0, None, None, None, "no_audits")
    low, high = wilson_interval(errors, n)
    return ErrorRate(n, errors, errors / n, low, high)
