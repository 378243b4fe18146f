"""Language identification of short posts, restricted to configured languages.

Two detectors share one interface: :class:`LinguaDetector` (lingua, accurate on
short informal text, n-gram models loaded per language on first use) and
:class:`LangidDetector` (py3langid, a naive Bayes model of a few MB, faster and
lighter; ``benchmarks/text_enrich.py`` measures both). Both return
``"unknown"`` when a text has too few letters or words to decide, or when the
best language's confidence is below the threshold.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from veedel.errors import ConfigError
from veedel.text.settings import TextSettings

__all__ = [
    "UNKNOWN",
    "LangidDetector",
    "LanguageDetector",
    "LanguageResult",
    "LinguaDetector",
    "make_detector",
]

logger = logging.getLogger(__name__)

UNKNOWN = "unknown"

Reason = Literal["detected", "too_short", "low_confidence"]

# Words for the length guard: runs of letters, so URLs, mentions and emoji
# do not make a post long enough to decide its language.
_WORD = re.compile(r"[^\W\d_]{2,}")
_NOISE = re.compile(r"https?://\S+|www\.\S+|[@#]\w+")


@dataclass(frozen=True)
class LanguageResult:
    """The language of one text.

    Attributes
    ----------
    language : str
        ISO 639-1 code, or ``"unknown"``.
    confidence : float
        Confidence of the best language in [0, 1]; 0 when too short.
    reason : str
        ``detected``, ``too_short`` or ``low_confidence``.
    """

    language: str
    confidence: float
    reason: Reason


class LanguageDetector(Protocol):
    """What both detectors offer."""

    name: str
    languages: tuple[str, ...]

    def detect(self, text: str) -> LanguageResult:
        """Detect the language of one text."""
        ...

    def detect_many(self, texts: Iterable[str]) -> list[LanguageResult]:
        """Detect the language of each text."""
        ...


class _GuardedDetector:
    """Shared guards: too-short texts and low confidence become unknown."""

    name = "base"

    def __init__(
        self,
        languages: Sequence[str],
        *,
        min_letters: int = 6,
        min_words: int = 2,
        min_confidence: float = 0.5,
    ) -> None:
        if not languages:
            raise ConfigError(
                "languages", "must name at least one language", list(languages)
            )
        self.languages = tuple(code.lower() for code in languages)
        self.min_letters = min_letters
        self.min_words = min_words
        self.min_confidence = min_confidence

    def detect(self, text: str) -> LanguageResult:
        """Detect the language of one text; see the module notes."""
        content = _NOISE.sub(" ", text)
        words = _WORD.findall(content)
        letters = sum(len(word) for word in words)
        if len(words) < self.min_words or letters < self.min_letters:
            return LanguageResult(UNKNOWN, 0.0, "too_short")

        language, confidence = self._best(content)
        if confidence < self.min_confidence:
            return LanguageResult(UNKNOWN, confidence, "low_confidence")
        return LanguageResult(language, confidence, "detected")

    def detect_many(self, texts: Iterable[str]) -> list[LanguageResult]:
        """Detect the language of each text."""
        return [self.detect(text) for text in texts]

    def _best(self, text: str) -> tuple[str, float]:
        raise NotImplementedError


class LinguaDetector(_GuardedDetector):
    """lingua restricted to the configured languages.

    The confidence is lingua's relative confidence of the best language among
    the configured ones (they sum to one over those languages).
    """

    name = "lingua"

    def __init__(self, languages: Sequence[str], **guards: Any) -> None:
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

        super().__init__(languages, **guards)
        members = []
        for code in self.languages:
            try:
                members.append(
                    Language.from_iso_code_639_1(IsoCode639_1.from_str(code))
                )
            except ValueError:
                raise ConfigError(
                    "languages",
                    "must hold ISO 639-1 codes that lingua knows",
                    code,
                ) from None
        if len(members) == 1:
            self._single: str | None = self.languages[0]
            self._detector: Any = None
        else:
            self._single = None
            self._detector = LanguageDetectorBuilder.from_languages(*members).build()
        logger.info("language detector lingua for %s", ",".join(self.languages))

    def _best(self, text: str) -> tuple[str, float]:
        if self._single is not None:
            return self._single, 1.0
        values = self._detector.compute_language_confidence_values(text)
        if not values:
            return UNKNOWN, 0.0
        best = values[0]
        return best.language.iso_code_639_1.name.lower(), float(best.value)


class LangidDetector(_GuardedDetector):
    """py3langid restricted to the configured languages.

    The confidence is the normalised posterior probability of the best
    language among the configured ones.
    """

    name = "py3langid"

    def __init__(self, languages: Sequence[str], **guards: Any) -> None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        super().__init__(languages, **guards)
        self._identifier = LanguageIdentifier.from_model_file(
            MODEL_FILE, norm_probs=True
        )
        known = set(self._identifier.nb_classes)
        missing = [code for code in self.languages if code not in known]
        if missing:
            raise ConfigError(
                "languages", "must hold ISO 639-1 codes that py3langid knows", missing
            )
        self._identifier.set_languages(list(self.languages))
        logger.info("language detector py3langid for %s", ",".join(self.languages))

    def _best(self, text: str) -> tuple[str, float]:
        language, probability = self._identifier.classify(text)
        return str(language), float(probability)


def make_detector(settings: TextSettings | None = None) -> LanguageDetector:
    """Build the detector the settings choose.

    Parameters
    ----------
    settings
        Text settings; read from the environment and ``veedel.toml`` if None.

    Returns
    -------
    LanguageDetector
    """
    from veedel.text.settings import get_text_settings

    settings = settings or get_text_settings()
    guards = {
        "min_letters": settings.min_letters,
        "min_words": settings.min_words,
        "min_confidence": settings.min_language_confidence,
    }
    if settings.language_detector == "py3langid":
        return LangidDetector(settings.languages, **guards)
    return LinguaDetector(settings.languages, **guards)
