"""`warehouse check` and `summary` on warehouses no ingest would write.

Infinite timestamps (DuckDB and PostgreSQL both allow them) and views whose
table was dropped must be reported, never crash the command.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from veedel.cli.warehouse import app as warehouse_app
from veedel.warehouse import connect
from veedel.warehouse.check import check_warehouse
from veedel.warehouse.summary import summarise_warehouse

runner = CliRunner()


def _duckdb(tmp_path: Path, sql: str) -> str:
    path = tmp_path / "odd.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(sql)
    return f"duckdb://{path}"


INFINITE = """
CREATE TABLE posts (post_id VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL);
INSERT INTO posts VALUES
    ('p1', TIMESTAMP '2020-01-01 00:00:00'),
    ('p2', 'infinity'::TIMESTAMP),
    ('p3', '-infinity'::TIMESTAMP);
"""


def test_infinite_timestamp_is_a_future_timestamp(tmp_path: Path) -> None:
    """'infinity' is after any check time: one future_timestamp row, shown as text."""
    report = check_warehouse(connect(_duckdb(tmp_path, INFINITE)))

    future = [v for v in report.violations if v.code == "future_timestamp"]
    assert [(v.table, v.column, v.count) for v in future] == [
        ("posts", "created_at", 1)
    ]
    assert future[0].examples[0]["post_id"] == "p2"
    assert "infinity" in str(future[0].examples[0]["created_at"])
    assert not any("future_timestamp" in s for s in report.skipped)


def test_summary_of_infinite_timestamps_shows_the_finite_span(tmp_path: Path) -> None:
    """The summary counts every row and spans the timestamps Python can hold."""
    summary = summarise_warehouse(connect(_duckdb(tmp_path, INFINITE)))

    posts = summary.table("posts")
    assert posts.rows == 3
    assert posts.first is not None and posts.first.year == 2020
    assert posts.last is not None and posts.last.year == 2020


BROKEN_VIEW = """
CREATE TABLE base (post_id VARCHAR);
CREATE VIEW posts AS SELECT post_id FROM base;
DROP TABLE base;
"""


def test_check_reports_a_view_that_cannot_be_read(tmp_path: Path) -> None:
    """A view over a dropped table is named as unreadable; the check goes on."""
    url = _duckdb(tmp_path, BROKEN_VIEW)

    result = runner.invoke(warehouse_app, ["check", "-w", url, "--format", "json"])

    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    posts = [v for v in report["violations"] if v["table"] == "posts"]
    assert [v["code"] for v in posts] == ["missing_table"]
    assert "cannot be read" in posts[0]["message"]


def test_summary_marks_a_view_that_cannot_be_read(tmp_path: Path) -> None:
    """The summary lists such a table as absent instead of failing."""
    url = _duckdb(tmp_path, BROKEN_VIEW)

    result = runner.invoke(warehouse_app, ["summary", "-w", url, "--format", "json"])

    assert result.exit_code == 0, result.output
    tables = {t["name"]: t for t in json.loads(result.stdout)["tables"]}
    assert tables["posts"]["present"] is False


@pytest.mark.postgres
def test_infinite_timestamp_on_postgres(postgres_url: str) -> None:
    """PostgreSQL's 'infinity' is reported the same way, and summarised."""
    import psycopg

    with psycopg.connect(postgres_url.replace("postgres://", "postgresql://")) as pg:
        pg.execute(INFINITE)

    con = connect(postgres_url)
    future = [
        v for v in check_warehouse(con).violations if v.code == "future_timestamp"
    ]
    assert [(v.table, v.count) for v in future] == [("posts", 1)]
    assert summarise_warehouse(con).table("posts").rows == 3


def test_check_table_shows_codes_whole_in_an_80_column_terminal() -> None:
    """Rule codes are what users search the docs for: never cut with an ellipsis."""
    from rich.console import Console

    report = check_warehouse(connect("duckdb://"))
    console = Console(width=80, record=True, color_system=None)

    console.print(report)

    text = console.export_text()
    assert "…" not in text
    assert "missing_optional_table" in text
    assert "table=assignments" in text


def test_summary_table_shows_names_whole_in_an_80_column_terminal(
    tmp_path: Path,
) -> None:
    """Table and source names are never cut with an ellipsis."""
    from rich.console import Console

    url = _duckdb(
        tmp_path,
        """
        CREATE TABLE truth_retention_driver (user_id VARCHAR);
        CREATE TABLE users (user_id VARCHAR, source VARCHAR);
        INSERT INTO users VALUES ('u1', 'stackexchange:quantumcomputing');
        """,
    )
    console = Console(width=80, record=True, color_system=None)

    console.print(summarise_warehouse(connect(url)))

    text = console.export_text()
    assert "…" not in text
    assert "truth_retention_driver" in text
    assert "stackexchange:quantumcomputing" in "".join(text.split())


@pytest.mark.postgres
def test_uuid_keys_on_postgres_still_give_examples(postgres_url: str) -> None:
    """A uuid user_id (a wrong type) must not stop the value rules' examples."""
    import psycopg

    with psycopg.connect(postgres_url.replace("postgres://", "postgresql://")) as pg:
        pg.execute(
            """
            CREATE TABLE users (user_id uuid, created_at timestamp,
                                latitude double precision, longitude double precision);
            INSERT INTO users VALUES
                ('00000000-0000-0000-0000-000000000001', '2999-01-01', 95, 0);
            """
        )

    report = check_warehouse(connect(postgres_url))

    codes = {v.code for v in report.violations if v.table == "users"}
    assert {"wrong_type", "future_timestamp", "coordinate_out_of_range"} <= codes
    future = report.find("future_timestamp", "users")[0]
    assert future.examples[0]["user_id"] == "00000000-0000-0000-0000-000000000001"
    assert not [s for s in report.skipped if "engine failed" in s]
