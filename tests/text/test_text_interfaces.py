"""The CLI, the JSON API and the page are thin layers over the same calls."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from veedel.accounts import add_user, create_token
from veedel.api.app import create_app
from veedel.cli import text as text_cli
from veedel.cli.main import app as cli_app
from veedel.settings import get_settings
from veedel.text import TextAnalyzer

runner = CliRunner()


def _json(output: str) -> Any:
    """The JSON document of a command's output, after any log lines."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.rstrip() in ("[", "{"))
    return json.loads("\n".join(lines[start:]))


@pytest.fixture
def shared_models(
    analyzer: TextAnalyzer, monkeypatch: pytest.MonkeyPatch
) -> TextAnalyzer:
    """The CLI uses the session's analyzer instead of loading the models again."""
    monkeypatch.setattr(text_cli, "_analyzer", lambda detector: analyzer)
    return analyzer


@pytest.fixture
def warehouse_url(tmp_path: Path) -> str:
    """A DuckDB file warehouse with three posts."""
    import ibis

    path = tmp_path / "warehouse.duckdb"
    con = ibis.duckdb.connect(str(path))
    posts = pd.DataFrame(
        {
            "post_id": ["1", "2", "3"],
            "text": [
                "Wo gibt es in Köln einen guten Bäcker?",
                "Lost my keys near Central Park yesterday",
                "Hallo",
            ],
            "city": ["Köln", "New York", "Köln"],
            "channel_id": ["a", "b", "a"],
            "created_at": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
        }
    )
    con.create_table("posts", posts)
    con.disconnect()
    return f"duckdb://{path}"


@pytest.fixture
def features_url(tmp_path: Path) -> str:
    """A DuckDB file warehouse with five posts and hand-written features.

    Channel reddit:berlin: de, de, en; reddit:london: en, unknown.
    """
    import ibis

    from veedel.text.enrich import FEATURES_SCHEMA, FEATURES_TABLE

    path = tmp_path / "features.duckdb"
    con = ibis.duckdb.connect(str(path))
    ids = ["b1", "b2", "b3", "l1", "l2"]
    posts = pd.DataFrame(
        {
            "post_id": ids,
            "text": [""] * 5,
            "city": ["Berlin"] * 3 + ["London"] * 2,
            "channel_id": ["reddit:berlin"] * 3 + ["reddit:london"] * 2,
            "created_at": pd.to_datetime(["2024-01-01"] * 5),
        }
    )
    features = pd.DataFrame(
        {
            "post_id": ids,
            "language": ["de", "de", "en", "en", "unknown"],
            "language_confidence": [0.9, 0.9, 0.8, 0.8, 0.0],
            "nouns": [["Spree"], [], [], ["tube"], []],
            "entities": [[], [], [], [], []],
            "label": ["humour"] * 4 + [None],
            "label_confidence": [0.5] * 4 + [0.0],
            "enriched_at": pd.to_datetime(["2024-02-01"] * 5),
        }
    )
    con.create_table("posts", posts)
    con.create_table(FEATURES_TABLE, features, schema=FEATURES_SCHEMA)
    con.disconnect()
    return f"duckdb://{path}"


def test_cli_report_shows_the_language_mix_per_channel(features_url: str) -> None:
    """--by channel_id: Berlin two German of three, London one English of two."""
    result = runner.invoke(
        cli_app, ["text", "report", "-w", features_url, "--by", "channel_id"]
    )
    assert result.exit_code == 0, result.output
    # One line per fact: the report says its post count, no log line repeats it.
    assert "built text report" not in result.output
    rows = [line.replace("│", " ").split() for line in result.output.splitlines()]
    assert ["reddit:berlin", "3", "de", "67%,", "en", "33%"] in rows
    assert ["reddit:london", "2", "en", "50%,", "unknown", "50%"] in rows

    as_json = runner.invoke(
        cli_app, ["text", "report", "-w", features_url, "--by", "city", "--json"]
    )
    mix = {
        (r["group"], r["language"]): (r["n"], round(r["share"], 4))
        for r in _json(as_json.output)["languages_by"]
    }
    assert mix == {
        ("Berlin", "de"): (2, 0.6667),
        ("Berlin", "en"): (1, 0.3333),
        ("London", "en"): (1, 0.5),
        ("London", "unknown"): (1, 0.5),
    }


def test_cli_analyze_json(shared_models: TextAnalyzer) -> None:
    """analyze --json prints one object per text."""
    result = runner.invoke(
        cli_app, ["text", "analyze", "--json", "Wo gibt es in Köln einen Bäcker?", "ok"]
    )
    assert result.exit_code == 0, result.output
    data = _json(result.output)
    assert [d["language"] for d in data] == ["de", "unknown"]
    assert data[0]["nouns"] == [{"text": "Bäcker", "lemma": "Bäcker"}]


def test_cli_enrich_then_report(
    shared_models: TextAnalyzer, warehouse_url: str
) -> None:
    """enrich writes three rows; a second run writes none; report counts them."""
    first = runner.invoke(cli_app, ["text", "enrich", "-w", warehouse_url, "--json"])
    assert first.exit_code == 0, first.output
    assert _json(first.output)["n_enriched"] == 3
    again = runner.invoke(cli_app, ["text", "enrich", "-w", warehouse_url, "--json"])
    assert _json(again.output)["n_already"] == 3

    report = runner.invoke(cli_app, ["text", "report", "-w", warehouse_url, "--json"])
    assert report.exit_code == 0, report.output
    data = _json(report.output)
    assert data["n_posts"] == 3
    assert {row["language"]: row["n"] for row in data["languages"]} == {
        "de": 1,
        "en": 1,
        "unknown": 1,
    }


def test_cli_report_without_features_is_a_clear_error(warehouse_url: str) -> None:
    """No post_text_features yet: exit code 2 and a sentence, no traceback."""
    result = runner.invoke(cli_app, ["text", "report", "-w", warehouse_url])
    assert result.exit_code == 2
    assert "veedel text enrich" in result.output
    assert "Traceback" not in result.output


def test_cli_train_labels_reports_macro_f1(
    tmp_path: Path, shared_models: TextAnalyzer
) -> None:
    """train-labels prints the cross-validated macro-F1 and writes the model."""
    from veedel.text.taxonomy import load_taxonomy

    texts, labels = load_taxonomy().examples()
    csv = tmp_path / "labelled.csv"
    pd.DataFrame({"text": texts, "label": labels}).to_csv(csv, index=False)
    model = tmp_path / "model.npz"
    result = runner.invoke(
        cli_app,
        ["text", "train-labels", str(csv), "--output", str(model), "--json"],
    )
    assert result.exit_code == 0, result.output
    data = _json(result.output)
    assert data["n"] == 224 and 0.0 < data["macro_f1"] <= 1.0
    assert model.is_file()


def test_cli_train_ner_needs_the_corpus_files(tmp_path: Path) -> None:
    """A folder without the GermEval files is an input error naming it."""
    result = runner.invoke(cli_app, ["text", "train-ner", str(tmp_path)])
    assert result.exit_code == 2
    assert "NER-de-test.tsv" in result.output


@pytest.fixture
def client(
    analyzer: TextAnalyzer, warehouse_url: str, monkeypatch: Any
) -> Iterator[tuple[TestClient, str]]:
    """The app with a viewer's API token and the session's analyzer."""
    monkeypatch.setenv("VEEDEL_WAREHOUSE_URL", warehouse_url)
    app = create_app(get_settings())
    app.state.text_analyzer = analyzer
    add_user(app.state.store, "vera", "vera-password", "viewer")
    token = create_token(app.state.store, "vera", "tests")
    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client, token


def test_api_analyze_one_and_a_batch(client: tuple[TestClient, str]) -> None:
    """One text or a batch; results in order; the label mode is stated."""
    http, token = client
    headers = {"Authorization": f"Bearer {token}"}
    one = http.post(
        "/api/v1/text:analyze",
        json={"text": "Lost my keys near Central Park yesterday"},
        headers=headers,
    )
    assert one.status_code == 200, one.text
    body = one.json()
    assert body["label_mode"] == "examples"
    assert body["results"][0]["entities"] == [
        {"text": "Central Park", "label": "PROPN"}
    ]

    batch = http.post(
        "/api/v1/text:analyze", json={"texts": ["Hallo", "", "😀"]}, headers=headers
    )
    assert [r["language"] for r in batch.json()["results"]] == ["unknown"] * 3


def test_api_analyze_validates_the_body(client: tuple[TestClient, str]) -> None:
    """Neither or both of text and texts: 422; no token: 401."""
    http, token = client
    headers = {"Authorization": f"Bearer {token}"}
    assert (
        http.post("/api/v1/text:analyze", json={}, headers=headers).status_code == 422
    )
    both = {"text": "a", "texts": ["b"]}
    assert (
        http.post("/api/v1/text:analyze", json=both, headers=headers).status_code == 422
    )
    assert http.post("/api/v1/text:analyze", json={"text": "a"}).status_code == 401


def test_text_page_without_features_says_what_to_do(
    client: tuple[TestClient, str],
) -> None:
    """Before enrichment the page explains how to get features."""
    http, token = client
    page = http.get("/text", headers={"Authorization": f"Bearer {token}"})
    assert page.status_code == 200
    assert "veedel text enrich" in page.text


def test_text_page_shows_the_report_and_chart(
    client: tuple[TestClient, str], analyzer: TextAnalyzer, warehouse_url: str
) -> None:
    """After enrichment: the chart spec, the tables and the report endpoint."""
    from veedel.text import enrich_posts
    from veedel.warehouse import connect

    con = connect(warehouse_url)
    enrich_posts(con, analyzer=analyzer)
    con.disconnect()
    http, token = client
    headers = {"Authorization": f"Bearer {token}"}
    page = http.get("/text?by=channel_id", headers=headers)
    assert page.status_code == 200
    assert 'id="label-spec"' in page.text and "vega-lite.min.js" in page.text
    assert "Bäcker" in page.text
    report = http.get("/api/v1/text/report", headers=headers).json()
    assert report["n_posts"] == 3


def _viewer_app(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, dict[str, str]]:
    """The app over warehouse ``url`` and a viewer's bearer-token headers."""
    monkeypatch.setenv("VEEDEL_WAREHOUSE_URL", url)
    app = create_app(get_settings())
    add_user(app.state.store, "vera", "vera-password", "viewer")
    return app, {"Authorization": f"Bearer {create_token(app.state.store, 'vera')}"}


def test_text_page_shows_the_language_mix_per_group(
    features_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's table per channel and the API report hold the same shares."""
    app, headers = _viewer_app(features_url, monkeypatch)
    with TestClient(app, base_url="https://testserver") as http:
        page = http.get("/text?by=channel_id", headers=headers)
        report = http.get("/api/v1/text/report?by=channel_id", headers=headers)

    assert page.status_code == 200
    assert "Languages per channel" in page.text
    assert (
        '<tr><td>reddit:berlin</td><td class="num">3</td>'
        "<td>de 66.7 % (2), en 33.3 % (1)</td></tr>"
    ) in page.text
    assert "en 50.0 % (1), unknown 50.0 % (1)" in page.text
    berlin = [r for r in report.json()["languages_by"] if r["group"] == "reddit:berlin"]
    assert [(r["language"], r["n"]) for r in berlin] == [("de", 2), ("en", 1)]


def test_empty_warehouse_gives_a_clear_message_on_page_api_and_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No posts and no features: the page says to load posts, the API is a 409."""
    import ibis

    path = tmp_path / "empty.duckdb"
    ibis.duckdb.connect(str(path)).disconnect()
    url = f"duckdb://{path}"
    app, headers = _viewer_app(url, monkeypatch)
    with TestClient(app, base_url="https://testserver") as http:
        page = http.get("/text?by=week", headers=headers)
        report = http.get("/api/v1/text/report", headers=headers)

    assert page.status_code == 200
    assert "No posts in the warehouse" in page.text
    assert "posts must exist in the warehouse; got []." in page.text
    assert "<code>veedel ingest</code>" in page.text
    assert 'id="label-spec"' not in page.text
    assert report.status_code == 409
    detail = report.json()["detail"]
    assert detail.startswith("posts must exist in the warehouse; got [].")
    assert "`veedel demo`" in detail and "`veedel text enrich`" in detail

    cli = runner.invoke(cli_app, ["text", "report", "-w", url])
    assert cli.exit_code != 0
    assert "posts must exist in the warehouse" in cli.output


def test_page_with_posts_but_no_features_says_to_enrich(
    client: tuple[TestClient, str],
) -> None:
    """Posts without post_text_features: the page and the API name that table."""
    http, token = client
    headers = {"Authorization": f"Bearer {token}"}
    page = http.get("/text", headers=headers)
    assert "No text features yet" in page.text
    assert "post_text_features must exist in the warehouse" in page.text
    report = http.get("/api/v1/text/report", headers=headers)
    assert report.status_code == 409
    assert report.json()["detail"].startswith("post_text_features must exist")


def _demo_posts() -> Any:
    """A warehouse of three Reddit posts, two simulated ones and one of no source."""
    import ibis

    con = ibis.duckdb.connect()
    posts = pd.DataFrame(
        {
            "post_id": [str(i) for i in range(6)],
            "text": [
                "Wo ist der Bäcker?",
                "Lost my keys",
                "Hallo",
                "a b c",
                "x y",
                "z",
            ],
            "city": ["Köln", "London", None, None, None, None],
            "channel_id": ["a", "b", "reddit:de", "c", "c", "c"],
            "created_at": pd.to_datetime(["2024-01-01"] * 6),
            "source": ["reddit", "reddit", "reddit", "simulator", "simulator", None],
        }
    )
    con.create_table("posts", posts)
    return con


def test_demo_step_enriches_every_real_post_and_caps_the_simulator(
    analyzer: TextAnalyzer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """All Reddit posts, one of two simulated ones; real channels show by channel."""
    import veedel.text as text_package
    from veedel.cli.demo import DemoContext

    monkeypatch.setattr(text_package, "TextAnalyzer", lambda: analyzer)
    monkeypatch.setattr(text_cli, "DEMO_SIMULATED_POSTS", 1)
    ctx = DemoContext(
        settings=get_settings(),
        warehouse=_demo_posts(),
        store=None,  # type: ignore[arg-type]
        users=0,
        days=0,
        seed=0,
    )
    text_cli.demo_step(ctx)
    enriched = ctx.results["text"]["enriched"]
    assert {s: r["n_enriched"] for s, r in enriched.items()} == {
        "reddit": 3,
        "simulator": 1,
    }
    assert ctx.results["text"]["n_posts"] == 4
    out = capsys.readouterr().out
    assert "simulated community is capped at 1 new posts" in out
    assert "Languages per channel_id" in out
    rows = [line.replace("│", " ").split() for line in out.splitlines()]
    assert ["reddit:de", "1", "unknown", "100%"] in rows
    # One table row per source: posts enriched, failed (then seconds, rate).
    assert ["reddit", "3", "0"] in [row[:3] for row in rows]
    assert ["simulator", "1", "0"] in [row[:3] for row in rows]


def test_demo_step_text_posts_caps_every_source_and_the_next_run_goes_on(
    analyzer: TextAnalyzer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--text-posts 1: one post per source, real ones too; a second run takes
    the next one of each, so four of the five posts with a source are done."""
    import veedel.text as text_package
    from veedel.cli.demo import DemoContext

    monkeypatch.setattr(text_package, "TextAnalyzer", lambda: analyzer)
    con = _demo_posts()
    ctx = DemoContext(
        settings=get_settings(),
        warehouse=con,
        store=None,  # type: ignore[arg-type]
        users=0,
        days=0,
        seed=0,
        text_posts=1,
    )

    text_cli.demo_step(ctx)
    first = ctx.results["text"]
    out = capsys.readouterr().out
    text_cli.demo_step(ctx)
    second = ctx.results["text"]

    for run in (first, second):
        assert {s: r["n_enriched"] for s, r in run["enriched"].items()} == {
            "reddit": 1,
            "simulator": 1,
        }
    assert (first["n_posts"], second["n_posts"]) == (2, 4)
    enriched = con.table("post_text_features").post_id.execute()
    assert sorted(enriched) == ["0", "1", "3", "4"]
    assert "At most 1 new posts per source are enriched in this run" in out
    assert "--text-posts 1" in out
    assert "Every real post is enriched" not in out


def test_cli_train_ner_and_eval_ner(tmp_path: Path, germeval_dev: Path) -> None:
    """train-ner writes a model and prints its scores; eval-ner scores it again."""
    blocks = germeval_dev.read_text(encoding="utf-8").split("\n\n")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "NER-de-test.tsv").write_text("\n\n".join(blocks[:120]) + "\n")
    (corpus / "NER-de-dev.tsv").write_text("\n\n".join(blocks[120:180]) + "\n")
    model = tmp_path / "model"
    command = ["text", "train-ner", str(corpus), "--output", str(model)]
    trained = runner.invoke(cli_app, [*command, "--max-epochs", "1", "--json"])
    assert trained.exit_code == 0, trained.output
    scores = _json(trained.output)
    assert scores["train_file"] == "NER-de-test.tsv"
    assert scores["eval_file"] == "NER-de-dev.tsv" and scores["n_sentences"] == 60
    assert (model / "NOTICE.md").is_file()

    evaluated = runner.invoke(
        cli_app, ["text", "eval-ner", str(corpus), "--model", str(model), "--json"]
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert _json(evaluated.output)["overall"] == scores["overall"]


@pytest.mark.parametrize(
    "command", ["analyze", "enrich", "report", "train-labels", "train-ner", "eval-ner"]
)
def test_every_text_command_has_help_with_an_example(command: str) -> None:
    """`veedel text COMMAND --help` shows an example."""
    result = runner.invoke(cli_app, ["text", command, "--help"])
    assert result.exit_code == 0
    assert "Example: veedel text" in result.output


def test_counts_have_thousands_separators_on_page_and_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1,200 posts read '1,200 enriched posts' and '1,200' in the tables of the
    page and of the terminal report, never '1200'."""
    import ibis

    from veedel.text.enrich import FEATURES_SCHEMA, FEATURES_TABLE

    path = tmp_path / "many.duckdb"
    con = ibis.duckdb.connect(str(path))
    ids = [f"p{i}" for i in range(1200)]
    con.create_table(
        "posts",
        pd.DataFrame(
            {
                "post_id": ids,
                "text": [""] * 1200,
                "city": ["Berlin"] * 1200,
                "channel_id": ["reddit:berlin"] * 1200,
                "created_at": pd.to_datetime(["2024-01-01"] * 1200),
            }
        ),
    )
    features = pd.DataFrame(
        {
            "post_id": ids,
            "language": ["de"] * 1200,
            "language_confidence": [0.9] * 1200,
            "nouns": [["Spree"] for _ in ids],
            "entities": [[] for _ in ids],
            "label": ["humour"] * 1200,
            "label_confidence": [0.5] * 1200,
            "enriched_at": pd.to_datetime(["2024-02-01"] * 1200),
        }
    )
    con.create_table(FEATURES_TABLE, features, schema=FEATURES_SCHEMA)
    con.disconnect()
    url = f"duckdb://{path}"
    app, headers = _viewer_app(url, monkeypatch)
    with TestClient(app, base_url="https://testserver") as http:
        page = http.get("/text", headers=headers).text

    assert "1,200 enriched posts" in page
    assert '<td class="num">1,200</td>' in page
    assert "de 100.0 % (1,200)" in page and "Spree (1,200)" in page
    assert "1200" not in page.replace('"n": 1200', "")

    cli = runner.invoke(cli_app, ["text", "report", "-w", url], env={"COLUMNS": "120"})
    assert cli.exit_code == 0, cli.output
    assert "1,200 enriched posts" in cli.output
    assert "Spree (1,200)" in cli.output
    assert "1200" not in cli.output


def test_text_page_shows_label_names_and_the_api_keeps_ids(
    features_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """People read the taxonomy's names ('Humour'); the API keeps the ids."""
    app, headers = _viewer_app(features_url, monkeypatch)
    with TestClient(app, base_url="https://testserver") as http:
        page = http.get("/text", headers=headers).text
        report = http.get("/api/v1/text/report", headers=headers).json()

    assert '<tr><td>Humour</td><td class="num">4</td>' in page
    spec = re.search(r'id="label-spec">(.*?)</script>', page, re.S)
    assert spec is not None
    values = json.loads(spec.group(1))["data"]["values"]
    assert {value["label"] for value in values} == {"Humour"}
    assert {row["label"] for row in report["labels"]} == {"humour"}
