"""Rule-based tokenisation that keeps the pieces of social text whole.

spaCy's blank pipelines tokenise by rules shipped with spaCy itself (no model,
no download). Out of the box they split a hashtag into ``#`` and the word; the
tokenizer built here keeps ``#hashtags`` whole, as it already keeps
``@mentions``, URLs and emoji. A rule-based sentencizer splits long posts so
that the tagger sees sentences rather than one 2,000-word run.
"""

from __future__ import annotations

import logging
import math
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = [
    "Token",
    "blank_pipeline",
    "clean_text",
    "customize_tokenizer",
    "tokenize",
]

logger = logging.getLogger(__name__)

# Languages whose rules spaCy ships; any other text is tokenised by the
# language-neutral rules ("xx").
_SPACY_LANGUAGES = frozenset(
    {"de", "en", "fr", "tr", "ar", "es", "it", "pl", "ru", "nl"}
)


@dataclass(frozen=True)
class Token:
    """One token and what kind of social-text piece it is.

    Attributes
    ----------
    text : str
        The token as written.
    kind : str
        ``word``, ``hashtag``, ``mention``, ``url``, ``emoji``, ``number``,
        ``symbol`` or ``punct``.
    sentence : int
        Index of the sentence the token belongs to.
    """

    text: str
    kind: str
    sentence: int


def clean_text(value: object, max_chars: int | None = None) -> str:
    """Return a valid, NFC-normalised string from whatever a source held.

    Bytes are decoded as UTF-8 with invalid sequences replaced by U+FFFD;
    strings carrying lone surrogates (from ``errors="surrogateescape"``) are
    repaired the same way; None becomes the empty string; NUL characters are
    dropped. Texts longer than ``max_chars`` are cut. Missing values of data
    frames (NaN, ``pd.NA``) count as None.
    """
    if value is None or type(value).__name__ == "NAType":
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        text = bytes(value).decode("utf-8", errors="replace")
    else:
        text = str(value)
    # Lone surrogates cannot be encoded; round-trip them to U+FFFD.
    text = text.encode("utf-8", errors="surrogateescape").decode(
        "utf-8", errors="replace"
    )
    text = unicodedata.normalize("NFC", text.replace("\x00", ""))
    if max_chars is not None and len(text) > max_chars:
        text = text[:max_chars]
    return text


def customize_tokenizer(nlp: Any) -> Any:
    """Make ``nlp``'s tokenizer keep hashtags whole; returns ``nlp``."""
    from spacy.util import compile_prefix_regex

    prefixes = [prefix for prefix in nlp.Defaults.prefixes if prefix != "#"]
    nlp.tokenizer.prefix_search = compile_prefix_regex(prefixes).search
    return nlp


@lru_cache(maxsize=16)
def blank_pipeline(language: str) -> Any:
    """A blank spaCy pipeline for ``language`` with the social-text tokenizer.

    Languages spaCy has no rules for get the multi-language rules. The
    pipeline holds a rule-based sentencizer and nothing trained.
    """
    import spacy

    code = language if language in _SPACY_LANGUAGES else "xx"
    nlp = customize_tokenizer(spacy.blank(code))
    nlp.add_pipe("sentencizer")
    logger.debug("blank spaCy pipeline for %s", code)
    return nlp


def _kind(token: Any) -> str:
    text = token.text
    if token.like_url:
        return "url"
    if len(text) > 1 and text[0] == "#":
        return "hashtag"
    if len(text) > 1 and text[0] == "@":
        return "mention"
    if token.like_num:
        return "number"
    if token.is_punct:
        return "punct"
    categories = {unicodedata.category(char) for char in text}
    if categories & {"So", "Sk"}:
        return "emoji"
    if categories <= {"Sc", "Sm"}:
        return "symbol"
    return "word"


def tokens_of(doc: Any) -> list[Token]:
    """The :class:`Token` list of a spaCy ``Doc`` made by :func:`blank_pipeline`."""
    tokens = []
    for index, sentence in enumerate(doc.sents):
        for token in sentence:
            if token.is_space:
                continue
            tokens.append(Token(token.text, _kind(token), index))
    return tokens


def tokenize(text: str, language: str = "xx") -> list[Token]:
    """Tokenise ``text`` with the rules of ``language``.

    Examples
    --------
    >>> [t.text for t in tokenize("Wer kommt mit? #berlin @anna 😀", "de")]
    ['Wer', 'kommt', 'mit', '?', '#berlin', '@anna', '😀']
    """
    return tokens_of(blank_pipeline(language)(text))
