"""The ``[images]`` section of ``veedel.toml``: limits, thresholds, sampling, model.

Every field can also be set with ``VEEDEL_IMAGES__<FIELD>``; see
:func:`veedel.settings.load_section` for the precedence.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Engine

from veedel.imagefilter.decode import DecodeLimits
from veedel.imagefilter.model import OPEN_NSFW, ModelSpec, OnnxClassifier
from veedel.imagefilter.policy import DEFAULT_SURFACES, Policy, Thresholds
from veedel.imagefilter.queue import ReviewQueue
from veedel.imagefilter.scan import Scanner, usable_cores
from veedel.settings import load_section

__all__ = ["ImageFilterSettings", "load_settings"]


def _default_surfaces() -> dict[str, Thresholds]:
    return {
        name: Thresholds(review=review, block=block)
        for name, (review, block) in DEFAULT_SURFACES.items()
    }


class ImageFilterSettings(BaseModel):
    """Settings of the image filter.

    Attributes
    ----------
    surfaces
        Thresholds per surface, ``{name = {review = 0.3, block = 0.85}}``.
    default_surface
        The surface used when a caller names none.
    max_bytes, max_pixels, max_frames
        Upload limits, see :class:`~veedel.imagefilter.decode.DecodeLimits`.
    batch_size, threads
        Frames per model call and onnxruntime intra-op threads (its default
        if None; a folder scan then gives the model half the cores).
    audit_allow_share, audit_block_share
        Shares of automatically allowed and blocked images that go to the
        review queue as a blind audit sample; they measure the error rates of
        the automatic decisions and give the tuner labels outside the band.
    second_review_share
        Share of reviewed items that get an independent second review.
    lease_seconds
        How long a claimed item stays with its reviewer before it returns.
    fast_decode
        Decode JPEGs at a reduced DCT scale that keeps them at least as large
        as the model's resize size: faster on phone photos; scores move by a
        few thousandths against the full decode.
    model
        The :class:`~veedel.imagefilter.model.ModelSpec`; open_nsfw by default.
    """

    model_config = ConfigDict(extra="forbid")

    surfaces: dict[str, Thresholds] = Field(default_factory=_default_surfaces)
    default_surface: str = "post_image"
    max_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    max_pixels: int = Field(default=50_000_000, ge=1)
    max_frames: int = Field(default=8, ge=1, le=64)
    batch_size: int = Field(default=16, ge=1, le=256)
    threads: int | None = Field(default=None, ge=1)
    audit_allow_share: float = Field(default=0.02, ge=0.0, le=1.0)
    audit_block_share: float = Field(default=0.05, ge=0.0, le=1.0)
    second_review_share: float = Field(default=0.10, ge=0.0, le=1.0)
    lease_seconds: int = Field(default=300, ge=1)
    fast_decode: bool = False
    model: ModelSpec = OPEN_NSFW

    @model_validator(mode="after")
    def _default_is_known(self) -> ImageFilterSettings:
        if self.default_surface not in self.surfaces:
            raise ValueError(
                f"default_surface {self.default_surface!r} must be one of "
                f"{sorted(self.surfaces)}"
            )
        return self

    def policy(self) -> Policy:
        """The thresholds as a :class:`~veedel.imagefilter.policy.Policy`."""
        return Policy(self.surfaces)

    def limits(self) -> DecodeLimits:
        """The upload limits."""
        width, height = self.model.preprocessing.resize
        return DecodeLimits(
            max_bytes=self.max_bytes,
            max_pixels=self.max_pixels,
            max_frames=self.max_frames,
            draft_size=(width, height) if self.fast_decode else None,
        )

    def queue(self, engine: Engine) -> ReviewQueue:
        """The review queue in the store at ``engine`` with these shares."""
        return ReviewQueue(
            engine,
            lease_seconds=self.lease_seconds,
            audit_allow_share=self.audit_allow_share,
            audit_block_share=self.audit_block_share,
            second_review_share=self.second_review_share,
        )

    def classifier(self) -> OnnxClassifier:
        """Load the configured model (takes about a second)."""
        return OnnxClassifier(
            self.model, batch_size=self.batch_size, threads=self.threads
        )

    def scanner(self, surface: str | None = None) -> Scanner:
        """A folder scanner: decoding workers on every core, the model on
        ``threads`` or on half the cores, so that decoding keeps the rest."""
        threads = self.threads or max(1, usable_cores() // 2)
        classifier = OnnxClassifier(
            self.model, batch_size=self.batch_size, threads=threads
        )
        return Scanner(
            classifier,
            self.policy(),
            surface=surface or self.default_surface,
            limits=self.limits(),
            batch_size=self.batch_size,
        )


def load_settings(**flags: Any) -> ImageFilterSettings:
    """Settings from flags, ``VEEDEL_IMAGES__*`` variables, the file, defaults."""
    return load_section("images", ImageFilterSettings, **flags)
