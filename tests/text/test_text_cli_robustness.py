"""Hostile input to the veedel text commands: exit code 2 and a sentence."""

from __future__ import annotations

from pathlib import Path

import ibis
import pandas as pd
import pytest
from typer.testing import CliRunner

from veedel.cli import text as text_cli
from veedel.cli.main import app as cli_app
from veedel.text import TextAnalyzer
from veedel.text.embedding import SentenceEncoder
from veedel.text.labels import Labeler, train_labels
from veedel.text.taxonomy import Taxonomy

runner = CliRunner()


@pytest.fixture
def shared_models(
    analyzer: TextAnalyzer, monkeypatch: pytest.MonkeyPatch
) -> TextAnalyzer:
    """The CLI uses the session's analyzer instead of loading the models again."""
    monkeypatch.setattr(text_cli, "_analyzer", lambda detector: analyzer)
    return analyzer


def _warehouse(tmp_path: Path, posts: pd.DataFrame | None) -> str:
    path = tmp_path / "warehouse.duckdb"
    con = ibis.duckdb.connect(str(path))
    if posts is not None:
        con.create_table("posts", posts)
    con.disconnect()
    return f"duckdb://{path}"


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(cli_app, ["text", *args])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_enrich_without_a_posts_table(tmp_path: Path, shared_models: object) -> None:
    """No posts table: exit 2 naming it."""
    code, output = _run("enrich", "--warehouse", _warehouse(tmp_path, None))

    assert code == 2
    assert "posts" in output and "must exist" in output


def test_enrich_on_an_empty_posts_table_and_null_texts(
    tmp_path: Path, shared_models: object
) -> None:
    """An empty table enriches nothing; NULL texts are enriched as unknown."""
    empty = pd.DataFrame({"post_id": pd.Series([], dtype=str), "text": []})
    code, output = _run("enrich", "--warehouse", _warehouse(tmp_path, empty))
    assert code == 0, output
    assert "Enriched 0 new posts" in output

    nulls = pd.DataFrame({"post_id": ["1", "2"], "text": [None, "Hallo Köln"]})
    (tmp_path / "n").mkdir()
    url = _warehouse(tmp_path / "n", nulls)
    code, output = _run("enrich", "--warehouse", url)
    assert code == 0, output
    assert "Enriched 2 new posts (0 failed" in output


def test_report_with_no_enriched_posts(tmp_path: Path) -> None:
    """A report before any enrichment: exit 2 saying what to run."""
    posts = pd.DataFrame({"post_id": ["1"], "text": ["Hallo"]})
    code, output = _run("report", "--warehouse", _warehouse(tmp_path, posts))

    assert code == 2
    assert "enrich" in output


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "header"),
        (b"text;label\nHallo;humour\n", "header"),
        (b"text,label\n", "at least two labels"),
        (b"text,label\nHallo,no_such_label\n", "no_such_label"),
        (b'text,label\n"' + b"x" * 200_000 + b'",humour\n', "text"),
        (b'text,label\n"unclosed quote,humour\n', "label"),
        (b"\x00\x01\x02\xff\xfe", "header"),
    ],
)
def test_train_labels_refuses_malformed_csv(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    """Empty, wrong delimiter, no rows, unknown label, huge field, bad quote."""
    path = tmp_path / "labels.csv"
    path.write_bytes(content)

    code, output = _run("train-labels", str(path), "--output", str(tmp_path / "m"))

    assert code == 2, output
    assert expected in output


def test_a_classifier_trained_on_two_labels_is_used(
    tmp_path: Path, encoder: SentenceEncoder, taxonomy: Taxonomy
) -> None:
    """Trained on two of the seven labels, the saved classifier is the one
    analyze uses (it was ignored: its labels were not all the taxonomy's)."""
    texts, ids = taxonomy.examples()
    rows = [
        (t, i) for t, i in zip(texts, ids, strict=True) if i in {"humour", "study_work"}
    ]
    model = tmp_path / "model.npz"
    train_labels([t for t, _ in rows], [i for _, i in rows], encoder, model)

    labeler = Labeler(taxonomy, encoder, model)

    assert labeler.mode == "trained"
    assert {
        r.label for r in labeler.label_many(["Klausur morgen, wer lernt mit?"])
    } <= {
        "humour",
        "study_work",
    }
