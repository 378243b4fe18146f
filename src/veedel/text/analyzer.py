"""One call for everything about a text: language, nouns, entities, label."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from veedel.errors import InputError
from veedel.text.embedding import SentenceEncoder
from veedel.text.entities import Entity, EntityRecognizer
from veedel.text.labels import Labeler
from veedel.text.language import LanguageDetector, LanguageResult, make_detector
from veedel.text.nouns import Noun, Tagger
from veedel.text.settings import TextSettings, get_text_settings
from veedel.text.taxonomy import load_taxonomy
from veedel.text.tokenize import blank_pipeline, clean_text, tokens_of

__all__ = ["Progress", "TextAnalysis", "TextAnalyzer", "default_label_model_path"]

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called with (done, total) after each batch."""


@dataclass(frozen=True)
class TextAnalysis:
    """What veedel finds in one text.

    Attributes
    ----------
    text : str
        The text analysed (cleaned, possibly cut to ``max_chars``).
    language : str
        ISO 639-1 code or ``"unknown"``.
    language_confidence : float
    nouns : list of Noun
        Common nouns with lemmas (German and English only).
    entities : list of Entity
        Typed entities for German, proper-noun spans (type PROPN) for English.
    label : str or None
        Content label id; None when the text is too short to tell its
        language (blank, emoji only, one word).
    label_confidence : float
    truncated : bool
        True when the text was cut to ``max_chars``.
    """

    text: str
    language: str
    language_confidence: float
    nouns: list[Noun] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    label: str | None = None
    label_confidence: float = 0.0
    truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return asdict(self)

    def noun_lemmas(self) -> list[str]:
        """Lemmas of the nouns, in text order."""
        return [noun.lemma for noun in self.nouns]

    def entity_keys(self) -> list[str]:
        """Entities as ``LABEL:text`` strings, in text order."""
        return [entity.key() for entity in self.entities]

    def __rich__(self) -> Any:
        from rich.table import Table

        table = Table(show_header=False, box=None)
        table.add_column(style="bold")
        table.add_column()
        language = f"{self.language} ({self.language_confidence:.2f})"
        label = f"{self.label} ({self.label_confidence:.2f})" if self.label else "none"
        table.add_row("language", language)
        table.add_row("nouns", ", ".join(self.noun_lemmas()) or "none")
        table.add_row("entities", ", ".join(self.entity_keys()) or "none")
        table.add_row("label", label)
        if self.truncated:
            table.add_row("note", f"text cut to {len(self.text)} characters")
        return table


def default_label_model_path(settings: TextSettings) -> Path:
    """Where train-labels writes the classifier unless settings say otherwise."""
    from veedel.settings import get_settings

    if settings.label_model_path is not None:
        return settings.label_model_path
    return get_settings().data_dir / "text" / "label_model.npz"


class TextAnalyzer:
    """Language, nouns, entities and content label of texts, in batches.

    Models load on first use and are shared by all calls, so one analyzer
    should serve a process.

    Parameters
    ----------
    settings
        Text settings; read from the environment and ``veedel.toml`` if None.
    detector, tagger, recognizer, labeler
        Parts to use instead of the ones the settings describe (tests and
        benchmarks pass their own).

    Examples
    --------
    >>> analyzer = TextAnalyzer()
    >>> result = analyzer.analyze("Ich verkaufe mein Fahrrad in Köln für 80 Euro")
    >>> result.language, result.noun_lemmas()
    ('de', ['Fahrrad', 'Euro'])
    """

    def __init__(
        self,
        settings: TextSettings | None = None,
        *,
        detector: LanguageDetector | None = None,
        tagger: Tagger | None = None,
        recognizer: EntityRecognizer | None = None,
        labeler: Labeler | None = None,
    ) -> None:
        self.settings = settings or get_text_settings()
        self.detector = detector or make_detector(self.settings)
        self.tagger = tagger or Tagger()
        self.recognizer = recognizer or EntityRecognizer(
            self.settings.ner_model_path, self.tagger
        )
        self.labeler = labeler or Labeler(
            load_taxonomy(self.settings.taxonomy_path),
            SentenceEncoder(),
            default_label_model_path(self.settings),
        )

    def analyze(self, text: object) -> TextAnalysis:
        """Analyse one text; see :meth:`analyze_many`."""
        return self.analyze_many([text])[0]

    def analyze_many(
        self,
        texts: Sequence[object],
        progress: Progress | None = None,
    ) -> list[TextAnalysis]:
        """Analyse texts in batches of ``settings.batch_size``.

        Parameters
        ----------
        texts
            Strings, bytes (decoded as UTF-8, invalid bytes replaced) or None
            (analysed as the empty text).
        progress
            Called with (done, total) after each batch.

        Returns
        -------
        list of TextAnalysis
            One per text, in order.
        """
        if isinstance(texts, str | bytes):
            raise InputError(
                "texts", "must be a list of texts, not one text", texts[:40]
            )
        results: list[TextAnalysis] = []
        size = self.settings.batch_size
        for start in range(0, len(texts), size):
            results.extend(self._analyze_batch(texts[start : start + size]))
            if progress is not None:
                progress(len(results), len(texts))
        return results

    def _analyze_batch(self, raw: Sequence[object]) -> list[TextAnalysis]:
        limit = self.settings.max_chars
        full = [clean_text(value) for value in raw]
        texts = [text[:limit] for text in full]
        languages = self.detector.detect_many(texts)

        # A post too short to tell its language is too short to label.
        labelled = [
            "" if lang.reason == "too_short" else text
            for text, lang in zip(texts, languages, strict=True)
        ]
        labels = self.labeler.label_many(labelled)

        # German entities come from one spaCy pass over the German texts.
        german = [i for i, lang in enumerate(languages) if lang.language == "de"]
        german_entities = self.recognizer.german([texts[i] for i in german])
        entities: dict[int, list[Entity]] = dict(
            zip(german, german_entities, strict=True)
        )

        results = []
        for i, (text, language) in enumerate(zip(texts, languages, strict=True)):
            nouns, english = self._nouns(text, language)
            results.append(
                TextAnalysis(
                    text=text,
                    language=language.language,
                    language_confidence=round(language.confidence, 4),
                    nouns=nouns,
                    entities=entities.get(i, english),
                    label=labels[i].label,
                    label_confidence=round(labels[i].confidence, 4),
                    truncated=len(full[i]) > limit,
                )
            )
        return results

    def _nouns(
        self, text: str, language: LanguageResult
    ) -> tuple[list[Noun], list[Entity]]:
        """Nouns of a text, and its proper-noun entities when it is English."""
        code = language.language
        if code not in ("de", "en") or not text.strip():
            return [], []
        tagged = self.tagger.tag(tokens_of(blank_pipeline(code)(text)), code)
        nouns = self.tagger.nouns_of(tagged, code)
        english = self.recognizer.english(tagged) if code == "en" else []
        return nouns, english
