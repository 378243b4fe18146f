"""From a score to an action: allow, send to human review, or block.

Each surface of the app (a post's image, a profile picture, ...) has its own
pair of thresholds, because a wrong call costs differently on each. With
``review <= block``::

    score <  review            -> allow
    review <= score < block    -> review
    block  <= score            -> block

A :class:`Verdict` records everything needed to explain the action later: the
score, the model version, the thresholds in force and the time.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from veedel.errors import InputError

__all__ = ["Action", "Policy", "Thresholds", "Verdict"]

#: Thresholds used for a surface nobody configured: block only near certainty.
DEFAULT_SURFACES: dict[str, tuple[float, float]] = {
    "post_image": (0.30, 0.85),
    "profile_picture": (0.20, 0.70),
}


class Action(enum.StrEnum):
    """What happens to an image."""

    ALLOW = "allow"
    REVIEW = "review"
    BLOCK = "block"


class Thresholds(BaseModel):
    """The two cut points of one surface, both in [0, 1], ``review <= block``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    review: float = Field(ge=0.0, le=1.0)
    block: float = Field(ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.review > self.block:
            raise ValueError(
                f"review threshold {self.review} must not exceed block "
                f"threshold {self.block}"
            )
        return self

    def action(self, score: float) -> Action:
        """The action for one score (trusted to be in [0, 1])."""
        if score >= self.block:
            return Action.BLOCK
        if score >= self.review:
            return Action.REVIEW
        return Action.ALLOW


@dataclass(frozen=True)
class Verdict:
    """The action taken for one image, with what it was based on."""

    surface: str
    score: float
    action: Action
    thresholds: Thresholds
    model_version: str
    decided_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "surface": self.surface,
            "score": self.score,
            "action": self.action.value,
            "review_threshold": self.thresholds.review,
            "block_threshold": self.thresholds.block,
            "model_version": self.model_version,
            "decided_at": self.decided_at.isoformat(),
        }


class Policy:
    """Thresholds per surface.

    Parameters
    ----------
    surfaces
        Surface name to :class:`Thresholds` or to a ``(review, block)`` pair.

    Examples
    --------
    >>> policy = Policy({"post_image": (0.3, 0.85)})
    >>> policy.action(0.5, "post_image").value
    'review'
    """

    def __init__(
        self,
        surfaces: Mapping[str, Thresholds | tuple[float, float]] | None = None,
    ) -> None:
        given = DEFAULT_SURFACES if surfaces is None else surfaces
        if not given:
            raise InputError("surfaces", "must name at least one surface", {})
        self.surfaces = {
            name: _thresholds(name, value) for name, value in given.items()
        }

    def thresholds(self, surface: str) -> Thresholds:
        """The thresholds of ``surface``; InputError naming the known ones if none."""
        try:
            return self.surfaces[surface]
        except KeyError:
            raise InputError(
                "surface",
                f"must be one of {sorted(self.surfaces)}",
                surface,
                fix="Add the surface under [images.surfaces] in veedel.toml.",
            ) from None

    def action(self, score: float, surface: str) -> Action:
        """The action for ``score`` on ``surface``."""
        return self.thresholds(surface).action(_checked_score(score))

    def decide(self, score: float, surface: str, model_version: str) -> Verdict:
        """A :class:`Verdict` for ``score`` on ``surface``, stamped now."""
        thresholds = self.thresholds(surface)
        score = _checked_score(score)
        return Verdict(
            surface=surface,
            score=score,
            action=thresholds.action(score),
            thresholds=thresholds,
            model_version=model_version,
        )


def _thresholds(name: str, value: Thresholds | tuple[float, float]) -> Thresholds:
    if isinstance(value, Thresholds):
        return value
    try:
        review, block = value
        return Thresholds(review=review, block=block)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"surfaces.{name}",
            "must be a (review, block) pair in [0, 1] with review <= block",
            value,
        ) from exc


def _checked_score(score: float) -> float:
    if not 0.0 <= score <= 1.0:  # also rejects NaN
        raise InputError("score", "must be a probability in [0, 1]", score)
    return float(score)
