"""Nouns and their lemmas, tagged by HanTa for German and English.

HanTa (Hanover Tagger) ships its German and English models inside its wheel,
so tagging needs no download. It tags the word tokens of each sentence; hashtags,
mentions, URLs and emoji are kept out of the tagger's input so that they neither
become nouns nor disturb the tags of their neighbours. Texts in other languages
have no nouns here; that is a limit of the available taggers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from veedel.text.tokenize import Token, tokenize

__all__ = [
    "TAGGED_LANGUAGES",
    "Noun",
    "TaggedToken",
    "Tagger",
]

logger = logging.getLogger(__name__)

_MODELS = {"de": "morphmodel_ger.pgz", "en": "morphmodel_en.pgz"}
TAGGED_LANGUAGES: tuple[str, ...] = tuple(_MODELS)

# Common and proper nouns in the tag sets of HanTa's models: STTS for German,
# the BNC (C5) tags for English.
_COMMON = {"de": frozenset({"NN"}), "en": frozenset({"NN0", "NN1", "NN2"})}
_PROPER = {"de": frozenset({"NE"}), "en": frozenset({"NP0"})}
_TAGGED_KINDS = frozenset({"word", "number", "punct", "symbol"})
_MAX_REMEMBERED = 200_000


@dataclass(frozen=True)
class TaggedToken:
    """A token with its part-of-speech tag, and its lemma if it is a noun.

    Lemmatising is HanTa's costliest step, so only nouns are lemmatised; other
    tokens carry their text as lemma.
    """

    text: str
    lemma: str
    tag: str
    sentence: int


@dataclass(frozen=True)
class Noun:
    """A common noun as written and as lemma."""

    text: str
    lemma: str


def _normal_lemma(text: str, lemma: str, language: str) -> str:
    # Abbreviations (WG, AG, BVG) keep their spelling whatever the lemmatiser
    # makes of them; German nouns are capitalised, informal posts often not.
    if text.isupper() and len(text) > 1:
        return text
    if language == "de" and lemma[:1].islower():
        return lemma[:1].upper() + lemma[1:]
    if language == "en":
        return lemma.lower()
    return lemma


class Tagger:
    """HanTa taggers for German and English, loaded once on first use.

    Examples
    --------
    >>> tagger = Tagger()
    >>> [n.lemma for n in tagger.nouns("Ich suche meine Schlüssel.", "de")]
    ['Schlüssel']
    """

    def __init__(self) -> None:
        self._models: dict[str, Any] = {}
        self._lemmas: dict[tuple[str, str, str], str] = {}
        self._lock = threading.Lock()

    def _model(self, language: str) -> Any:
        with self._lock:
            if language not in self._models:
                from HanTa import HanoverTagger

                self._models[language] = HanoverTagger.HanoverTagger(_MODELS[language])
                logger.info("loaded HanTa model for %s", language)
            return self._models[language]

    def tag(self, tokens: Sequence[Token], language: str) -> list[TaggedToken]:
        """Tag the word tokens of ``tokens``, sentence by sentence.

        Returns an empty list for languages HanTa has no model for.
        """
        if language not in _MODELS:
            return []
        model = self._model(language)
        common = _COMMON[language]
        tagged: list[TaggedToken] = []
        words = [token for token in tokens if token.kind in _TAGGED_KINDS]
        for sentence, group in groupby(words, key=lambda token: token.sentence):
            texts = [token.text for token in group]
            tags = [str(tag) for tag in model.tag_sent(texts, taglevel=0)]
            for text, tag in zip(texts, tags, strict=True):
                lemma = self._lemma(language, text, tag) if tag in common else text
                tagged.append(TaggedToken(text, lemma, tag, sentence))
        return tagged

    def clear_cache(self) -> None:
        """Forget the remembered lemmas (for fair timings)."""
        self._lemmas.clear()

    def _lemma(self, language: str, word: str, tag: str) -> str:
        """HanTa's lemma of a word with a known tag, remembered across posts."""
        key = (language, word, tag)
        lemma = self._lemmas.get(key)
        if lemma is None:
            model = self._model(language)
            lemma = str(model._analyze(word, model.tag2int[tag], taglevel=1)[0])
            if len(self._lemmas) < _MAX_REMEMBERED:
                self._lemmas[key] = lemma
        return lemma

    def nouns_of(self, tagged: Sequence[TaggedToken], language: str) -> list[Noun]:
        """The common nouns among tagged tokens.

        A German post often opens with a verb and no subject ("Verkaufe mein
        Rad", "Suche WG"); capitalised at the start, HanTa reads it as a
        noun. A sentence's first word whose lower-case form HanTa reads as a
        verb is therefore not counted as a noun.
        """
        common = _COMMON.get(language, frozenset())
        nouns = []
        previous_sentence = -1
        for token in tagged:
            opening = token.sentence != previous_sentence
            previous_sentence = token.sentence
            if token.tag not in common or not _is_wordlike(token.text):
                continue
            if opening and language == "de" and self.verb_in_lower_case(token.text):
                continue
            nouns.append(
                Noun(token.text, _normal_lemma(token.text, token.lemma, language))
            )
        return nouns

    def verb_in_lower_case(self, word: str, language: str = "de") -> bool:
        """Whether HanTa's likeliest tag of ``word`` in lower case is a verb."""
        if language not in _MODELS:
            return False
        key = (language, word.lower(), "?verb")
        answer = self._lemmas.get(key)
        if answer is None:
            tags = self._model(language).tag_word(word.lower(), cutoff=0)
            answer = "1" if tags and str(tags[0][0]).startswith("V") else "0"
            if len(self._lemmas) < _MAX_REMEMBERED:
                self._lemmas[key] = answer
        return answer == "1"

    def proper_noun_spans(
        self, tagged: Sequence[TaggedToken], language: str
    ) -> list[str]:
        """Runs of adjacent proper nouns, joined by spaces ("Central Park")."""
        proper = _PROPER.get(language, frozenset())
        spans: list[str] = []
        run: list[str] = []
        previous_sentence = -1
        for token in tagged:
            if token.tag in proper and _is_wordlike(token.text):
                if run and token.sentence != previous_sentence:
                    spans.append(" ".join(run))
                    run = []
                run.append(token.text)
                previous_sentence = token.sentence
            elif run:
                spans.append(" ".join(run))
                run = []
        if run:
            spans.append(" ".join(run))
        return spans

    def nouns(self, text: str, language: str) -> list[Noun]:
        """Tokenise, tag and return the common nouns of ``text``."""
        return self.nouns_of(self.tag(tokenize(text, language), language), language)


def _is_wordlike(text: str) -> bool:
    return len(text) >= 2 and any(char.isalpha() for char in text)
