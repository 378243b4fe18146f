"""Content labels: taxonomy, classifier, cross-validation, CSV training."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from veedel.errors import ConfigError, DataError, InputError
from veedel.text.embedding import SentenceEncoder
from veedel.text.labels import (
    LabelClassifier,
    Labeler,
    cross_validate_labels,
    read_labelled_csv,
    train_labels,
)
from veedel.text.taxonomy import Taxonomy, load_taxonomy

# The floor docs/text.md states for the bundled examples (measured: 0.769).
MACRO_F1_FLOOR = 0.65


def test_bundled_taxonomy_has_seven_bilingual_buckets(taxonomy: Taxonomy) -> None:
    """Seven labels, each with a description and 16 German and 16 English posts."""
    assert taxonomy.ids == [
        "question_help",
        "local_news_events",
        "humour",
        "relationships_dating",
        "study_work",
        "rant_complaint",
        "buy_sell_lost_found",
    ]
    for label in taxonomy.labels:
        assert label.description
        assert {lang: len(texts) for lang, texts in label.examples.items()} == {
            "de": 16,
            "en": 16,
        }
    assert len(taxonomy.example_groups()) == len(taxonomy.examples()[0]) == 224


def test_bundled_examples_cross_validate_above_the_floor(
    taxonomy: Taxonomy, encoder: SentenceEncoder
) -> None:
    """Grouped 5-fold macro-F1 (translations kept in one fold) beats the floor."""
    texts, labels = taxonomy.examples()
    scores = cross_validate_labels(
        encoder.encode(texts), labels, groups=taxonomy.example_groups()
    )
    assert scores.n == 224 and scores.n_splits == 5
    assert scores.macro_f1 >= MACRO_F1_FLOOR
    assert scores.macro_f1 == pytest.approx(np.mean(list(scores.per_label_f1.values())))


def test_classifier_matches_sklearn_probabilities(rng: np.random.Generator) -> None:
    """The saved coefficients reproduce LogisticRegression.predict_proba."""
    from sklearn.linear_model import LogisticRegression

    X = rng.normal(size=(60, 5))
    y = np.array(["a", "b", "c"])[rng.integers(0, 3, size=60)]
    ours = LabelClassifier(C=10.0).fit(X, y.tolist())
    reference = LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced")
    reference.fit(X, y)
    np.testing.assert_allclose(ours.predict_proba(X), reference.predict_proba(X))


def test_binary_classifier_matches_sklearn(rng: np.random.Generator) -> None:
    """Two labels: the expanded softmax pair equals sklearn's probabilities."""
    from sklearn.linear_model import LogisticRegression

    X = rng.normal(size=(40, 3))
    y = np.where(X[:, 0] + rng.normal(size=40) > 0, "yes", "no")
    ours = LabelClassifier().fit(X, y.tolist())
    reference = LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced")
    np.testing.assert_allclose(
        ours.predict_proba(X), reference.fit(X, y).predict_proba(X), atol=1e-10
    )


def test_save_and_load_round_trip(tmp_path: Path, rng: np.random.Generator) -> None:
    """A loaded classifier gives the same probabilities and keeps its metadata."""
    X = rng.normal(size=(30, 4))
    y = ["a"] * 10 + ["b"] * 10 + ["c"] * 10
    model = LabelClassifier().fit(X, y)
    model.save(tmp_path / "m.npz", meta={"cv_macro_f1": 0.5})
    loaded, meta = LabelClassifier.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.classes_ == ["a", "b", "c"] and meta == {"cv_macro_f1": 0.5}


def test_too_few_posts_per_label_is_an_input_error(rng: np.random.Generator) -> None:
    """Five folds need five posts per label; the message names the label."""
    with pytest.raises(InputError, match="rare") as caught:
        cross_validate_labels(rng.normal(size=(13, 3)), ["common"] * 10 + ["rare"] * 3)
    assert str(caught.value).split("; got ")[1].startswith("{'rare': 3}.")


def test_labeler_uses_examples_then_descriptions(
    taxonomy: Taxonomy, encoder: SentenceEncoder
) -> None:
    """Examples give the classifier; without them, description similarity."""
    posts = [
        "Verkaufe mein altes Sofa, 50 Euro, Abholung in Ehrenfeld",
        "Morgen Mathe-Klausur und ich verstehe gar nichts",
        "Found a black cat near the station, who is missing her?",
    ]
    labeler = Labeler(taxonomy, encoder)
    assert labeler.mode == "examples"
    results = labeler.label_many(posts)
    assert [r.label for r in results] == [
        "buy_sell_lost_found",
        "study_work",
        "buy_sell_lost_found",
    ]
    assert all(0.0 < r.confidence <= 1.0 for r in results)

    bare = Taxonomy(
        tuple(dataclasses.replace(label, examples={}) for label in taxonomy.labels)
    )
    fallback = Labeler(bare, encoder)
    assert fallback.mode == "descriptions"
    assert fallback.label_many(posts[:1])[0].label == "buy_sell_lost_found"


def test_blank_texts_get_no_label(taxonomy: Taxonomy, encoder: SentenceEncoder) -> None:
    """Blank texts are not embedded; their label is None with confidence 0."""
    results = Labeler(taxonomy, encoder).label_many(["", "  "])
    assert [(r.label, r.confidence) for r in results] == [(None, 0.0), (None, 0.0)]


def _write_csv(path: Path, taxonomy: Taxonomy) -> None:
    texts, labels = taxonomy.examples()
    rows = [b"text,label"]
    for text, label in zip(texts, labels, strict=True):
        quoted = text.replace('"', '""')
        rows.append(f'"{quoted}",{label}'.encode())
    rows.append(b'"Verkaufe Stuhl f\xfcr 5 Euro",buy_sell_lost_found')  # Latin-1 byte
    rows.append(b",question_help")  # blank text: skipped
    path.write_bytes(b"\n".join(rows) + b"\n")


def test_train_labels_from_csv(
    tmp_path: Path, taxonomy: Taxonomy, encoder: SentenceEncoder
) -> None:
    """CSV with invalid UTF-8 trains; the labeler then runs in trained mode."""
    path = tmp_path / "labelled.csv"
    _write_csv(path, taxonomy)
    texts, labels = read_labelled_csv(path, taxonomy)
    assert len(texts) == 225 and texts[-1] == "Verkaufe Stuhl f\ufffdr 5 Euro"

    scores = train_labels(texts, labels, encoder, tmp_path / "model.npz")
    assert scores.n == 225 and 0.0 <= scores.macro_f1 <= 1.0
    labeler = Labeler(taxonomy, encoder, tmp_path / "model.npz")
    assert labeler.mode == "trained"
    _, meta = LabelClassifier.load(tmp_path / "model.npz")
    assert meta["cv_macro_f1"] == pytest.approx(scores.macro_f1)


def test_unknown_label_in_csv_names_the_line(
    tmp_path: Path, taxonomy: Taxonomy
) -> None:
    """A label outside the taxonomy is a DataError naming file and line."""
    path = tmp_path / "bad.csv"
    path.write_text("text,label\nhallo welt,question_help\nnoch was,spam\n")
    with pytest.raises(DataError, match=r"bad\.csv:3") as info:
        read_labelled_csv(path, taxonomy)
    assert "spam" in str(info.value)


def test_csv_without_label_column(tmp_path: Path, taxonomy: Taxonomy) -> None:
    """The header must name text and label."""
    path = tmp_path / "bad.csv"
    path.write_text("post,category\nx,y\n")
    with pytest.raises(DataError, match="header"):
        read_labelled_csv(path, taxonomy)


@pytest.mark.parametrize(
    "document,match",
    [
        ({"labels": "nope"}, "must be a list"),
        ({"labels": [{"id": "a", "description": "x"}]}, "at least two"),
        (
            {
                "labels": [
                    {"id": "a", "description": "x"},
                    {"id": "a", "description": "y"},
                ]
            },
            "unique",
        ),
        ({"labels": [{"id": "A b", "description": "x"}, {"id": "c"}]}, "lower-case"),
        ({"labels": [{"id": "a"}, {"id": "b", "description": "y"}]}, "description"),
    ],
)
def test_taxonomy_validation(document: object, match: str) -> None:
    """Broken taxonomies are ConfigErrors naming the rule."""
    with pytest.raises(ConfigError, match=match):
        Taxonomy.from_dict(document)


def test_taxonomy_file_errors(tmp_path: Path) -> None:
    """A missing file and invalid YAML name the path."""
    with pytest.raises(ConfigError, match="existing file"):
        load_taxonomy(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("labels: [unclosed\n")
    with pytest.raises(ConfigError, match="valid YAML"):
        load_taxonomy(bad)
