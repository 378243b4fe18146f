"""Settings of text analytics: the ``[text]`` section of ``veedel.toml``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from veedel.settings import load_section

__all__ = ["DEFAULT_LANGUAGES", "TextSettings", "get_text_settings"]

DEFAULT_LANGUAGES: tuple[str, ...] = (
    "de",
    "en",
    "fr",
    "tr",
    "ar",
    "es",
    "it",
    "pl",
    "ru",
    "nl",
)


class TextSettings(BaseModel):
    """Typed settings of :mod:`veedel.text`.

    Set them in the ``[text]`` table of ``veedel.toml`` or with
    ``VEEDEL_TEXT__<FIELD>`` variables (``VEEDEL_TEXT__LANGUAGE_DETECTOR=py3langid``).
    """

    language_detector: Literal["lingua", "py3langid"] = Field(
        "lingua",
        description="lingua (accurate on short posts) or py3langid (fast, small).",
    )
    languages: list[str] = Field(
        default_factory=lambda: list(DEFAULT_LANGUAGES),
        description="ISO 639-1 codes the detector chooses among.",
    )
    min_letters: int = Field(
        6, ge=0, description="Fewer letters than this: language is 'unknown'."
    )
    min_words: int = Field(
        2, ge=1, description="Fewer words than this: language is 'unknown'."
    )
    min_language_confidence: float = Field(
        0.5, ge=0.0, le=1.0, description="Lower confidence: language is 'unknown'."
    )
    max_chars: int = Field(
        20_000, ge=1, description="Longer texts are cut to this many characters."
    )
    taxonomy_path: Path | None = Field(
        None, description="YAML taxonomy of content labels; bundled one if unset."
    )
    label_model_path: Path | None = Field(
        None,
        description="Label classifier written by train-labels; "
        "<data_dir>/text/label_model.npz if unset.",
    )
    ner_model_path: Path | None = Field(
        None, description="spaCy NER pipeline for German; bundled one if unset."
    )
    batch_size: int = Field(256, ge=1, description="Posts analysed per batch.")

    @field_validator("languages", mode="before")
    @classmethod
    def _split_languages(cls, value: Any) -> Any:
        # An environment variable arrives as "de,en,fr".
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("languages")
    @classmethod
    def _lowercase_languages(cls, value: list[str]) -> list[str]:
        return [code.lower() for code in value]


def get_text_settings(**flags: Any) -> TextSettings:
    """Read the ``[text]`` settings: flags, then environment, then file."""
    return load_section("text", TextSettings, **flags)
