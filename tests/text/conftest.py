"""Fixtures of the text tests: models load once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from veedel.text import TextAnalyzer, TextSettings
from veedel.text.embedding import SentenceEncoder
from veedel.text.entities import EntityRecognizer
from veedel.text.labels import Labeler
from veedel.text.language import LangidDetector, LinguaDetector
from veedel.text.nouns import Tagger
from veedel.text.taxonomy import Taxonomy, load_taxonomy

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="session")
def text_settings(tmp_path_factory: pytest.TempPathFactory) -> TextSettings:
    """Default text settings, with no trained label model on disk."""
    folder = tmp_path_factory.mktemp("text-settings")
    return TextSettings(label_model_path=folder / "no-label-model.npz")


@pytest.fixture(scope="session")
def lingua(text_settings: TextSettings) -> LinguaDetector:
    return LinguaDetector(text_settings.languages)


@pytest.fixture(scope="session")
def langid(text_settings: TextSettings) -> LangidDetector:
    return LangidDetector(text_settings.languages)


@pytest.fixture(scope="session")
def tagger() -> Tagger:
    return Tagger()


@pytest.fixture(scope="session")
def recognizer(tagger: Tagger) -> EntityRecognizer:
    return EntityRecognizer(tagger=tagger)


@pytest.fixture(scope="session")
def encoder() -> SentenceEncoder:
    return SentenceEncoder()


@pytest.fixture(scope="session")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


@pytest.fixture(scope="session")
def analyzer(
    text_settings: TextSettings,
    lingua: LinguaDetector,
    tagger: Tagger,
    recognizer: EntityRecognizer,
    encoder: SentenceEncoder,
    taxonomy: Taxonomy,
) -> TextAnalyzer:
    """The analyzer with the default settings, shared by every text test."""
    return TextAnalyzer(
        text_settings,
        detector=lingua,
        tagger=tagger,
        recognizer=recognizer,
        labeler=Labeler(taxonomy, encoder, text_settings.label_model_path),
    )


@pytest.fixture(scope="session")
def germeval_dev() -> Path:
    """GermEval 2014's NER-de-dev.tsv, copied into the test fixtures (CC BY 4.0)."""
    return FIXTURES / "germeval2014" / "NER-de-dev.tsv"
