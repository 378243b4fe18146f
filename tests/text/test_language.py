"""Language detection on a small multilingual set written for these tests."""

from __future__ import annotations

import pytest

from veedel.errors import ConfigError
from veedel.text.language import (
    UNKNOWN,
    LangidDetector,
    LinguaDetector,
    make_detector,
)
from veedel.text.settings import TextSettings

# Two posts per default language, each clearly in one language.
POSTS = [
    ("de", "Wo gibt es hier in der Nähe einen guten Bäcker?"),
    ("de", "Morgen ist Flohmarkt auf dem Marktplatz, kommt alle vorbei"),
    ("en", "Where can I find a good bakery around here?"),
    ("en", "The flea market on the main square starts tomorrow morning"),
    ("fr", "Est-ce que quelqu'un connaît une bonne boulangerie dans le quartier?"),
    ("fr", "Le marché aux puces commence demain matin sur la place"),
    ("tr", "Bu mahallede iyi bir fırın biliyor musunuz?"),
    ("tr", "Yarın sabah meydanda bit pazarı kurulacak"),
    ("ar", "هل يعرف أحد مخبزا جيدا في الحي؟"),
    ("ar", "سوق البضائع المستعملة يبدأ غدا صباحا في الساحة"),
    ("es", "¿Alguien conoce una buena panadería en el barrio?"),
    ("es", "El mercadillo empieza mañana por la mañana en la plaza"),
    ("it", "Qualcuno conosce un buon panificio in zona?"),
    ("it", "Il mercatino delle pulci inizia domani mattina in piazza"),
    ("pl", "Czy ktoś zna dobrą piekarnię w okolicy?"),
    ("pl", "Pchli targ zaczyna się jutro rano na rynku"),
    ("ru", "Кто-нибудь знает хорошую пекарню в нашем районе?"),
    ("ru", "Блошиный рынок начинается завтра утром на площади"),
    ("nl", "Weet iemand een goede bakker in de buurt?"),
    ("nl", "De vlooienmarkt begint morgenochtend op het plein"),
]

# One-word posts, emoji and noise: too short to tell, "unknown" is right.
TOO_SHORT = ["Hallo", "Danke!", "lol", "😂😂😂", "", "   ", "#berlin @anna", "42", "ok"]


@pytest.mark.parametrize("expected,text", POSTS)
def test_lingua_names_the_language_of_each_post(
    lingua: LinguaDetector, expected: str, text: str
) -> None:
    """Every post of the set gets its language with confidence over 0.5."""
    result = lingua.detect(text)
    assert (result.language, result.reason) == (expected, "detected")
    assert 0.5 <= result.confidence <= 1.0


@pytest.mark.parametrize("expected,text", POSTS)
def test_py3langid_names_the_language_of_each_post(
    langid: LangidDetector, expected: str, text: str
) -> None:
    """The fast detector gets the same set right."""
    assert langid.detect(text).language == expected


@pytest.mark.parametrize("text", TOO_SHORT)
def test_too_short_posts_are_unknown(
    lingua: LinguaDetector, langid: LangidDetector, text: str
) -> None:
    """Fewer than two words or six letters: unknown with confidence 0."""
    for detector in (lingua, langid):
        result = detector.detect(text)
        assert (result.language, result.confidence) == (UNKNOWN, 0.0)
        assert result.reason == "too_short"


def test_low_confidence_is_unknown() -> None:
    """A threshold above what lingua gives a two-word greeting yields unknown."""
    detector = LinguaDetector(["de", "en", "nl"], min_confidence=0.99)
    result = detector.detect("hallo zusammen")
    assert result.language == UNKNOWN
    assert result.reason == "low_confidence"
    assert 0.0 < result.confidence < 0.99


def test_mixed_scripts_give_one_configured_language_or_unknown(
    lingua: LinguaDetector, langid: LangidDetector
) -> None:
    """Cyrillic, Arabic and Latin in one post: an allowed code, never a crash."""
    text = "Привет Berlin! مرحبا, wer kommt heute Abend mit ins Kino? 🎬"
    for detector in (lingua, langid):
        result = detector.detect(text)
        assert result.language in {*detector.languages, UNKNOWN}
        assert 0.0 <= result.confidence <= 1.0


def test_urls_and_mentions_do_not_count_as_words(lingua: LinguaDetector) -> None:
    """A URL plus one word is still too short."""
    assert lingua.detect("https://example.org/lange-seite super").reason == "too_short"


def test_restriction_to_configured_languages(lingua: LinguaDetector) -> None:
    """With only German and English allowed, Dutch text gets one of those two."""
    detector = LinguaDetector(["de", "en"])
    assert detector.detect("Weet iemand een goede bakker in de buurt?").language in {
        "de",
        "en",
        UNKNOWN,
    }


def test_settings_choose_the_detector() -> None:
    """language_detector picks the class; languages pass through."""
    fast = make_detector(TextSettings(language_detector="py3langid", languages=["de"]))
    assert isinstance(fast, LangidDetector) and fast.languages == ("de",)
    assert isinstance(
        make_detector(TextSettings(languages=["de", "en"])), LinguaDetector
    )


def test_languages_from_an_environment_string(monkeypatch: pytest.MonkeyPatch) -> None:
    """VEEDEL_TEXT__LANGUAGES=de,EN becomes ['de', 'en']."""
    from veedel.text.settings import get_text_settings

    monkeypatch.setenv("VEEDEL_TEXT__LANGUAGES", "de, EN")
    assert get_text_settings().languages == ["de", "en"]


@pytest.mark.parametrize("cls", [LinguaDetector, LangidDetector])
def test_unknown_language_code_is_a_config_error(cls: type) -> None:
    """A code the library does not know names the field and the value."""
    with pytest.raises(ConfigError, match="languages") as info:
        cls(["de", "zz"])
    assert "zz" in str(info.value)


def test_no_languages_is_a_config_error() -> None:
    """An empty language list is refused."""
    with pytest.raises(ConfigError, match="at least one language"):
        LinguaDetector([])
