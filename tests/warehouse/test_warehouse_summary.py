"""`summarise_warehouse` and `veedel warehouse summary` on a hand-made warehouse."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from test_check import good_rows, write
from typer.testing import CliRunner

from veedel.cli.warehouse import app as warehouse_app
from veedel.warehouse import connect, summarise_warehouse
from veedel.warehouse.summary import MAX_SOURCES


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The good warehouse of test_check without exposures, plus a truth table."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
    else:
        url = f"duckdb://{tmp_path}/w.duckdb"
    rows = good_rows()
    del rows["exposures"]
    rows["users"][2]["source"] = "simulator"
    con = connect(url)
    write(con, rows)
    con.create_table("truth_users", pa.table({"user_id": ["u1", "u2"]}))
    return url


def test_summary_counts_rows_spans_and_sources(warehouse_url: str) -> None:
    """Rows, first and last timestamps and rows per source match the data."""
    summary = summarise_warehouse(connect(warehouse_url))

    users = summary.table("users")
    assert (users.rows, users.time_column) == (3, "created_at")
    assert (users.first, users.last) == (
        datetime(2026, 5, 1, 12),
        datetime(2026, 5, 3, 12),
    )
    assert users.sources == {"test": 2, "simulator": 1}
    events = summary.table("events")
    assert (events.rows, events.time_column) == (3, "timestamp")
    assert summary.table("votes").sources == {"(none)": 3}
    assert summary.table("assignments").sources == {}


def test_summary_marks_absent_tables_and_lists_others(warehouse_url: str) -> None:
    """Canonical tables come first in model order; others follow by name."""
    summary = summarise_warehouse(connect(warehouse_url))

    names = [t.name for t in summary.tables]
    assert names == [
        "users",
        "channels",
        "posts",
        "votes",
        "events",
        "assignments",
        "exposures",
        "truth_users",
    ]
    assert not summary.table("exposures").present
    assert summary.table("truth_users").rows == 2
    assert summary.table("truth_users").time_column is None
    with pytest.raises(KeyError):
        summary.table("nope")


def test_summary_folds_rare_sources_into_other(tmp_path: Path) -> None:
    """Past MAX_SOURCES sources, the rest is one (other) row with their sum."""
    con = connect(f"duckdb://{tmp_path}/w.duckdb")
    rows: dict[str, list[dict[str, Any]]] = {"channels": []}
    for i in range(MAX_SOURCES + 3):
        # source s00 has the most rows, so the order is by count, then name
        copies = 2 if i == 0 else 1
        rows["channels"] += [
            {"channel_id": f"c{i}-{k}", "source": f"s{i:02d}"} for k in range(copies)
        ]
    write(con, rows)

    sources = summarise_warehouse(con).table("channels").sources

    assert len(sources) == MAX_SOURCES + 1
    assert next(iter(sources.items())) == ("s00", 2)
    assert sources["(other)"] == 3
    assert sum(sources.values()) == MAX_SOURCES + 4


def test_cli_summary_prints_table_and_json(warehouse_url: str) -> None:
    """`veedel warehouse summary` shows every table; --format json parses."""
    runner = CliRunner()

    shown = runner.invoke(warehouse_app, ["summary", "-w", warehouse_url])
    as_json = runner.invoke(
        warehouse_app, ["summary", "-w", warehouse_url, "-f", "json"]
    )

    assert shown.exit_code == 0, shown.output
    assert "truth_users" in shown.output
    assert "absent" in shown.output
    # Each source is a row of its own: its name, then its count.
    assert re.search(r"│\s+simulator\s+│\s+1 │", shown.output), shown.output
    data = json.loads(as_json.stdout)
    assert data["tables"][0] == {
        "name": "users",
        "present": True,
        "rows": 3,
        "time_column": "created_at",
        "first": "2026-05-01T12:00:00",
        "last": "2026-05-03T12:00:00",
        "sources": {"test": 2, "simulator": 1},
    }
