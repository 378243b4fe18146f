"""Tokenisation keeps social-text pieces whole; HanTa nouns and lemmas, pinned."""

from __future__ import annotations

import pytest

from veedel.text.nouns import Tagger
from veedel.text.tokenize import clean_text, tokenize


def test_hashtags_mentions_urls_and_emoji_survive() -> None:
    """Each of them is one token of its own kind."""
    tokens = tokenize("Wer kommt mit? #Flohmarkt @anna https://x.de/a?b=1 😀", "de")
    pairs = [(t.text, t.kind) for t in tokens]
    assert pairs == [
        ("Wer", "word"),
        ("kommt", "word"),
        ("mit", "word"),
        ("?", "punct"),
        ("#Flohmarkt", "hashtag"),
        ("@anna", "mention"),
        ("https://x.de/a?b=1", "url"),
        ("😀", "emoji"),
    ]


def test_hashtag_keeps_its_word_before_punctuation() -> None:
    """Trailing punctuation splits off, the hashtag stays whole."""
    texts = [t.text for t in tokenize("(#Köln!)", "de")]
    assert texts == ["(", "#Köln", "!", ")"]


def test_sentences_are_numbered() -> None:
    """The rule-based sentencizer splits at sentence punctuation."""
    tokens = tokenize("Eins zwei. Drei vier!", "de")
    assert [t.sentence for t in tokens] == [0, 0, 0, 1, 1, 1]


def test_any_language_code_tokenises() -> None:
    """Codes spaCy has no rules for fall back to the multi-language rules."""
    assert [t.text for t in tokenize("salam dunya", "az")] == ["salam", "dunya"]


@pytest.mark.parametrize(
    "value,expected",
    [
        (None, ""),
        (float("nan"), ""),
        (b"caf\xe9 am Markt", "caf\ufffd am Markt"),
        ("a\udcffb", "a\ufffdb"),
        ("nul\x00byte", "nulbyte"),
        ("Cafe\u0301", "Café"),
    ],
)
def test_clean_text_repairs_what_sources_hold(value: object, expected: str) -> None:
    """Invalid UTF-8, lone surrogates, NUL and missing values become valid text."""
    assert clean_text(value) == expected


def test_clean_text_cuts_long_texts() -> None:
    """max_chars cuts; shorter texts are untouched."""
    assert len(clean_text("x" * 10_001, max_chars=10_000)) == 10_000
    assert clean_text("kurz", max_chars=10) == "kurz"


GERMAN = [
    (
        "Ich suche meine Schlüssel am Hauptbahnhof in Köln.",
        [("Schlüssel", "Schlüssel"), ("Hauptbahnhof", "Hauptbahnhof")],
    ),
    (
        "Die Stadtverwaltung plant neue Radwege entlang der Isar.",
        [("Stadtverwaltung", "Stadtverwaltung"), ("Radwege", "Radweg")],
    ),
    (
        "ich verkaufe mein fahrrad, preis vb",
        [("fahrrad", "Fahrrad"), ("preis", "Preis")],
    ),
    (
        "Ich suche ein Zimmer in einer WG ab März #wohnung @studis 😀",
        [("Zimmer", "Zimmer"), ("März", "März")],
    ),
]

ENGLISH = [
    (
        "I lost my keys near Central Park yesterday.",
        [("keys", "key")],
    ),
    (
        "Looking for a flatmate in Brooklyn, rent is 900 dollars.",
        [("flatmate", "flatmate"), ("rent", "rent"), ("dollars", "dollar")],
    ),
    (
        "The children played football in the parks #sunday",
        [("children", "child"), ("football", "football"), ("parks", "park")],
    ),
]


@pytest.mark.parametrize("text,expected", GERMAN)
def test_german_nouns_and_lemmas(tagger: Tagger, text: str, expected: list) -> None:
    """Common nouns with HanTa lemmas, capitalised even in lower-case posts."""
    assert [(n.text, n.lemma) for n in tagger.nouns(text, "de")] == expected


@pytest.mark.parametrize("text,expected", ENGLISH)
def test_english_nouns_and_lemmas(tagger: Tagger, text: str, expected: list) -> None:
    """Common nouns with lower-case lemmas; proper nouns are not among them."""
    assert [(n.text, n.lemma) for n in tagger.nouns(text, "en")] == expected


def test_hashtags_are_not_nouns(tagger: Tagger) -> None:
    """Hashtags, mentions and URLs stay out of the tagger."""
    lemmas = [n.lemma for n in tagger.nouns("#Wohnung @Vermieter https://a.de", "de")]
    assert lemmas == []


def test_other_languages_have_no_nouns(tagger: Tagger) -> None:
    """HanTa has models for German and English only."""
    assert tagger.nouns("Le marché commence demain", "fr") == []


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Verkaufe mein Fahrrad in Köln, 80 Euro VB", ["Fahrrad"]),
        (
            "Suche ein Zimmer ab März. Biete Hilfe im Garten.",
            ["Zimmer", "März", "Hilfe", "Garten"],
        ),
        ("Polizei sperrt die Brücke", ["Polizei", "Brücke"]),
    ],
)
def test_a_post_opening_with_a_verb_does_not_make_it_a_noun(
    tagger: Tagger, text: str, expected: list[str]
) -> None:
    """ "Verkaufe", "Suche", "Biete" open sentences as verbs; "Polizei" stays."""
    assert [n.lemma for n in tagger.nouns(text, "de")] == expected
