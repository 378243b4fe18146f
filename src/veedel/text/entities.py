"""Named entities: a spaCy pipeline for German, proper nouns for English.

German entities come from the pipeline trained in the project on GermEval 2014
(see :mod:`veedel.text.ner_training`; trained on ``NER-de-test.tsv``, scored on
``NER-de-dev.tsv``), typed PER, LOC, ORG or OTH. It ships inside the package.

English has no openly licensed NER corpus at hand, so English entities are the
runs of proper nouns that HanTa tags (``NP0``), returned with the type
``PROPN``: they say "this is a name" but not what kind. Other languages have no
entities.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from veedel.errors import ConfigError
from veedel.text.ner_training import default_model_dir
from veedel.text.nouns import TaggedToken, Tagger
from veedel.text.tokenize import customize_tokenizer

__all__ = ["UNTYPED", "Entity", "EntityRecognizer"]

logger = logging.getLogger(__name__)

UNTYPED = "PROPN"


@dataclass(frozen=True)
class Entity:
    """A named entity: its text and type (PER, LOC, ORG, OTH or PROPN)."""

    text: str
    label: str

    def key(self) -> str:
        """``LABEL:text``, the form stored in the warehouse."""
        return f"{self.label}:{self.text}"


def _trimmed(span: Any) -> Any:
    """The span up to its first sentence end, without punctuation at its ends.

    Trained on edited sentences, the model sometimes runs a name into an
    exclamation mark and the next sentence ("Geheimtipp! Richtig").
    """
    from spacy.tokens import Span

    doc = span.doc
    start, end = span.start, span.end
    for token in span:
        if token.text in {".", "!", "?"}:
            end = token.i
            break
    while start < end and doc[start].is_punct:
        start += 1
    while end > start and doc[end - 1].is_punct:
        end -= 1
    return Span(doc, start, end, label=span.label_)


def _named(span: Any) -> bool:
    """False for handles and for one-word stop words.

    Spans made only of @mentions and URLs are handles, not names; a span that
    is one stop word ("Bin" at the start of a post) is a tagging error.
    """
    if all(token.text.startswith("@") or token.like_url for token in span):
        return False
    return not (len(span) == 1 and span[0].is_stop)


class EntityRecognizer:
    """Entities of German and English texts.

    Parameters
    ----------
    model_dir
        Folder of the German spaCy pipeline; the bundled one if None.
    tagger
        HanTa tagger for English proper nouns; a new one if None.
    """

    def __init__(
        self, model_dir: str | Path | None = None, tagger: Tagger | None = None
    ) -> None:
        self.model_dir = Path(model_dir) if model_dir else default_model_dir()
        self.tagger = tagger or Tagger()
        self._nlp: Any = None
        self._lock = threading.Lock()

    @property
    def nlp(self) -> Any:
        """The German pipeline, loaded on first use."""
        with self._lock:
            if self._nlp is None:
                self._nlp = self._load()
            return self._nlp

    def _load(self) -> Any:
        import spacy

        if not (self.model_dir / "config.cfg").is_file():
            raise ConfigError(
                "ner_model_path",
                "must name a trained spaCy pipeline folder",
                str(self.model_dir),
                fix="Train one with `veedel text train-ner`.",
            )
        nlp = customize_tokenizer(spacy.load(self.model_dir))
        logger.info("loaded German NER pipeline from %s", self.model_dir)
        return nlp

    def german(self, texts: Sequence[str], batch_size: int = 64) -> list[list[Entity]]:
        """Typed entities of German texts, one list per text."""
        if not texts:
            return []
        docs = self.nlp.pipe(texts, batch_size=batch_size)
        results = []
        for doc in docs:
            spans = [_trimmed(span) for span in doc.ents]
            results.append(
                [
                    Entity(span.text, span.label_)
                    for span in spans
                    if len(span) and _named(span) and not self._opening_verb(span)
                ]
            )
        return results

    def _opening_verb(self, span: Any) -> bool:
        """A one-word span opening a sentence that is a verb in lower case.

        Posts like "Verkaufe mein Rad" or "Suche WG" open with a capitalised
        verb, which the model, trained on edited text, takes for a name.
        Places are kept: "Essen" opening a post is more likely the city.
        """
        if len(span) != 1 or span.label_ == "LOC":
            return False
        start = span.start
        opening = start == 0 or span.doc[start - 1].text in {".", "!", "?", ":"}
        return opening and self.tagger.verb_in_lower_case(span.text, "de")

    def english(self, tagged: Sequence[TaggedToken]) -> list[Entity]:
        """Untyped entities of an English text: its proper-noun runs.

        A run that is one English stop word is a tagging error and dropped.
        """
        from spacy.lang.en.stop_words import STOP_WORDS

        return [
            Entity(span, UNTYPED)
            for span in self.tagger.proper_noun_spans(tagged, "en")
            if span.lower() not in STOP_WORDS
        ]

    def entities(self, text: str, language: str) -> list[Entity]:
        """Entities of one text in ``language`` (empty for other languages)."""
        if language == "de":
            return self.german([text])[0]
        if language == "en":
            from veedel.text.tokenize import tokenize

            return self.english(self.tagger.tag(tokenize(text, "en"), "en"))
        return []
