"""Hostile and odd input to text analytics: API bodies, warehouses, CSVs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from veedel.accounts import add_user, create_token
from veedel.api.app import create_app
from veedel.errors import VeedelError
from veedel.settings import get_settings
from veedel.text import TextAnalyzer, enrich_posts
from veedel.warehouse import connect


@pytest.fixture
def api(
    analyzer: TextAnalyzer, tmp_path: Path, monkeypatch: Any
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The app with the session's analyzer and a viewer's bearer header."""
    monkeypatch.setenv("VEEDEL_DATA_DIR", str(tmp_path))
    app = create_app(get_settings())
    app.state.text_analyzer = analyzer
    add_user(app.state.store, "vera", "vera-password", "viewer")
    token = create_token(app.state.store, "vera", "tests")
    with TestClient(app, base_url="https://testserver") as client:
        yield client, {"Authorization": f"Bearer {token}"}


def _analyze(api: tuple[TestClient, dict[str, str]], raw: str) -> Any:
    client, headers = api
    return client.post(
        "/api/v1/text:analyze",
        content=raw.encode(),
        headers=headers | {"Content-Type": "application/json"},
    )


@pytest.mark.parametrize(
    "raw",
    [
        '{"text": "caf\\ud800 in K\\u00f6ln"}',
        '{"texts": ["ok", "\\udfff"]}',
    ],
)
def test_lone_surrogates_are_a_422_naming_the_field(
    api: tuple[TestClient, dict[str, str]], raw: str
) -> None:
    """A JSON escape of a lone surrogate is not text: 422, never a 500."""
    response = _analyze(api, raw)

    assert response.status_code == 422, response.text
    assert "surrogate" in response.text


def test_invalid_utf8_bytes_are_a_4xx(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    """Raw invalid UTF-8 in the body is a client error."""
    client, headers = api
    response = client.post(
        "/api/v1/text:analyze",
        content=b'{"text": "\xff\xfe K\xc3"}',
        headers=headers | {"Content-Type": "application/json"},
    )

    assert 400 <= response.status_code < 500


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"text": 5}', "text"),
        ('{"texts": "one string"}', "texts"),
        ('{"texts": [1, null]}', "texts"),
        ('{"text": null, "texts": null}', "text"),
        ("[1, 2]", "body"),
        ('{"text": "' + "a" * 100_001 + '"}', "text"),
        ('{"texts": [' + ",".join(['"a"'] * 10_000) + "]}", "texts"),
    ],
)
def test_bad_bodies_are_422(
    api: tuple[TestClient, dict[str, str]], raw: str, field: str
) -> None:
    """Wrong types, too long, too many: 422 naming the field."""
    response = _analyze(api, raw)

    assert response.status_code == 422, response.text
    assert field in response.text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t ",
        "😀😀🎉🔥",
        "https://example.com/a https://veedel.de/b?x=1",
        "مرحبا بكم في كولونيا Hallo zusammen שלום",
        "\u202eevil\u202c text \u200f\u200e",
        "\x00\x01 control",
        "Köln " * 2000,
    ],
)
def test_odd_texts_are_analysed(
    api: tuple[TestClient, dict[str, str]], text: str
) -> None:
    """Empty, emoji, URLs, RTL and mixed scripts, control characters: 200."""
    client, headers = api
    response = client.post("/api/v1/text:analyze", json={"text": text}, headers=headers)

    assert response.status_code == 200, response.text
    result = response.json()["results"][0]
    assert 0.0 <= result["language_confidence"] <= 1.0


class _GatedAnalyzer:
    """Holds its first batch until released, so a second run can overlap."""

    def __init__(self, inner: TextAnalyzer) -> None:
        self.inner = inner
        self.settings = inner.settings
        self.started = threading.Event()
        self.release = threading.Event()

    def analyze_many(self, texts: list[object]) -> Any:
        self.started.set()
        self.release.wait(timeout=60)
        return self.inner.analyze_many(texts)

    def analyze(self, text: object) -> Any:
        return self.inner.analyze(text)


def _three_posts(con: Any) -> None:
    con.create_table(
        "posts",
        pd.DataFrame(
            {
                "post_id": ["1", "2", "3"],
                "text": ["Hallo Köln", "Lost my keys", None],
            }
        ),
        overwrite=True,
    )


@pytest.mark.postgres
def test_concurrent_enrich_runs_write_each_post_once(
    postgres_url: str, analyzer: TextAnalyzer
) -> None:
    """While one enrich run holds the warehouse, a second one fails with a
    sentence saying so and writes nothing; the first writes each post once."""
    from veedel.text.enrich import FEATURES_TABLE

    first_con, second_con = connect(postgres_url), connect(postgres_url)
    _three_posts(first_con)
    gated = _GatedAnalyzer(analyzer)
    outcome: dict[str, Any] = {}

    def first_run() -> None:
        outcome["first"] = enrich_posts(first_con, analyzer=gated)  # type: ignore[arg-type]

    worker = threading.Thread(target=first_run)
    worker.start()
    assert gated.started.wait(timeout=60)
    try:
        with pytest.raises(VeedelError, match=r"another .*enrich.* is running"):
            enrich_posts(second_con, analyzer=analyzer)
    finally:
        gated.release.set()
        worker.join(timeout=120)

    ids = second_con.table(FEATURES_TABLE).execute()["post_id"].tolist()
    assert sorted(ids) == ["1", "2", "3"]
    assert outcome["first"].n_enriched == 3
    assert enrich_posts(second_con, analyzer=analyzer).n_enriched == 0
    first_con.disconnect()
    second_con.disconnect()


def test_report_while_another_process_holds_the_warehouse(
    analyzer: TextAnalyzer, tmp_path: Path, monkeypatch: Any
) -> None:
    """While `veedel text enrich` holds the DuckDB file, the report API and
    page answer 503 with the sentence saying so, not a 500."""
    import subprocess
    import sys

    path = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; con = duckdb.connect(sys.argv[1]);"
            " print('open', flush=True); sys.stdin.read()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        monkeypatch.setenv("VEEDEL_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("VEEDEL_WAREHOUSE_URL", f"duckdb://{path}")
        app = create_app(get_settings())
        add_user(app.state.store, "vera", "vera-password", "viewer")
        token = create_token(app.state.store, "vera", "tests")
        with TestClient(app, base_url="https://testserver") as client:
            response = client.get(
                "/api/v1/text/report", headers={"Authorization": f"Bearer {token}"}
            )
    finally:
        holder.communicate("", timeout=30)

    assert response.status_code == 503, response.text
    assert "another process" in response.json()["detail"]
