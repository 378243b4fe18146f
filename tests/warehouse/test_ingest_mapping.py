"""Generic CSV and Parquet ingest through a YAML mapping."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ingest_support import snapshot

from veedel.errors import ConfigError, DataError
from veedel.warehouse import connect
from veedel.warehouse.ingest import ingest_files, read_mapping

POSTS_CSV = """id;author;posted;body;lat;lon
p1;u1;03.12.2026 10:00;Guten Morgen Ehrenfeld;50.95;6.92
p2;u2;03.12.2026 11:30;Wer kommt mit zum Markt?;;
"""

POSTS_MAPPING = """
inputs:
  - table: posts
    files: [posts.csv]
    delimiter: ";"
    timestamp_format: "%d.%m.%Y %H:%M"
    columns:
      post_id: id
      user_id: author
      created_at: posted
      text: body
      latitude: lat
      longitude: lon
    constants:
      channel_id: app:general
      city: Köln
"""


@pytest.fixture
def con(tmp_path: Path) -> Any:
    return connect(f"duckdb://{tmp_path / 'warehouse.duckdb'}")


def _write(folder: Path, **files: str) -> Path:
    for name, text in files.items():
        (folder / name.replace("_", ".")).write_text(text, encoding="utf-8")
    return folder / "mapping.yaml"


def _rows(con: Any, table: str, order: str) -> list[dict[str, Any]]:
    return [dict(r) for r in con.table(table).order_by(order).to_pyarrow().to_pylist()]


def test_csv_mapping_loads_columns_constants_and_timestamps(
    con: Any, tmp_path: Path
) -> None:
    """Mapped columns, constants and a strptime format land in canonical posts."""
    mapping = _write(tmp_path, posts_csv=POSTS_CSV, mapping_yaml=POSTS_MAPPING)

    summary = ingest_files(con, mapping)

    assert summary.tables["posts"].written == 2
    first, second = _rows(con, "posts", "post_id")
    assert first["post_id"] == "p1"
    assert first["created_at"] == datetime(2026, 12, 3, 10, 0)
    assert (first["latitude"], first["longitude"]) == (50.95, 6.92)
    assert (first["channel_id"], first["city"]) == ("app:general", "Köln")
    assert first["source"] == "files:mapping"
    assert second["latitude"] is None
    assert second["text"] == "Wer kommt mit zum Markt?"


def test_mapping_accepts_absolute_file_paths(con: Any, tmp_path: Path) -> None:
    """files may name absolute paths as well as paths relative to the mapping."""
    (tmp_path / "posts.csv").write_text(POSTS_CSV, encoding="utf-8")
    absolute = POSTS_MAPPING.replace("[posts.csv]", f"[{tmp_path / 'posts.csv'}]")
    elsewhere = tmp_path / "config"
    elsewhere.mkdir()
    (elsewhere / "mapping.yaml").write_text(absolute, encoding="utf-8")

    assert ingest_files(con, elsewhere / "mapping.yaml").written == 2


def test_csv_mapping_second_run_writes_nothing(con: Any, tmp_path: Path) -> None:
    """Idempotency: the same files again add no rows."""
    mapping = _write(tmp_path, posts_csv=POSTS_CSV, mapping_yaml=POSTS_MAPPING)
    ingest_files(con, mapping)
    before = snapshot(con)

    assert ingest_files(con, mapping).written == 0
    assert snapshot(con) == before


def test_parquet_mapping_with_unix_milliseconds(con: Any, tmp_path: Path) -> None:
    """Parquet votes with epoch milliseconds; the value column is checked."""
    votes = pa.table(
        {
            "vid": ["v1", "v2", "v3"],
            "pid": ["p1", "p1", "p2"],
            "voter": ["u2", None, "u1"],
            "v": [1, -1, 1],
            "at_ms": [1_764_756_000_000, 1_764_756_060_000, 1_764_756_120_500],
        }
    )
    pq.write_table(votes, tmp_path / "votes.parquet")
    mapping = _write(
        tmp_path,
        mapping_yaml="""
table: votes
files: votes.parquet
timestamp_format: unix_ms
columns: {vote_id: vid, post_id: pid, user_id: voter, value: v, created_at: at_ms}
constants: {source: app}
""",
    )

    summary = ingest_files(con, mapping)

    assert summary.tables["votes"].written == 3
    rows = _rows(con, "votes", "vote_id")
    # 1_764_756_000_000 ms is 2025-12-03 10:00:00 UTC.
    assert rows[0]["created_at"] == datetime(2025, 12, 3, 10, 0)
    assert rows[2]["created_at"] == datetime(2025, 12, 3, 10, 2, 0, 500000)
    assert [r["value"] for r in rows] == [1, -1, 1]
    assert rows[1]["user_id"] is None
    assert {r["source"] for r in rows} == {"app"}


def test_parquet_missing_column_names_it(con: Any, tmp_path: Path) -> None:
    """A Parquet file lacking a mapped column is refused with its columns."""
    pq.write_table(pa.table({"vid": ["v1"]}), tmp_path / "votes.parquet")
    mapping = _write(
        tmp_path,
        mapping_yaml="""
table: votes
files: votes.parquet
columns: {vote_id: vid, post_id: pid, value: v, created_at: at}
""",
    )

    with pytest.raises(DataError) as info:
        ingest_files(con, mapping)

    assert "votes.parquet: at is a required column (the file has: vid)" in str(
        info.value
    )
    assert con.list_tables() == []


def test_bad_csv_value_names_file_line_field_and_value(
    con: Any, tmp_path: Path
) -> None:
    """A latitude out of range names its line; nothing is written."""
    text = POSTS_CSV + "p3;u3;03.12.2026 12:00;weit weg;123.0;6.9\n"
    mapping = _write(tmp_path, posts_csv=text, mapping_yaml=POSTS_MAPPING)

    with pytest.raises(DataError) as info:
        ingest_files(con, mapping)

    message = str(info.value)
    assert "posts.csv, line 4 (record 3): lat must lie between -90 and 90" in message
    assert "'123.0'" in message
    assert con.list_tables() == []


def test_vote_value_other_than_plus_minus_one_is_rejected(
    con: Any, tmp_path: Path
) -> None:
    """With skip_bad_rows a vote of 2 is rejected with its reason."""
    mapping = _write(
        tmp_path,
        votes_csv="id,post,v,at\nv1,p1,1,2026-12-03T10:00:00\nv2,p1,2,2026-12-03\n",
        mapping_yaml="""
table: votes
files: [votes.csv]
columns: {vote_id: id, post_id: post, value: v, created_at: at}
""",
    )

    summary = ingest_files(con, mapping, skip_bad_rows=True)

    assert (summary.tables["votes"].written, summary.tables["votes"].rejected) == (1, 1)
    assert summary.rejects[0].reason == "v must be +1 or -1 (a vote's value)"
    assert summary.rejects[0].location == "line 3 (record 2)"


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("table: friends\nfiles: posts.csv\n", "inputs[0].table must be one of"),
        (
            "table: posts\nfiles: posts.csv\ncolumns: {post_id: id, created: posted}\n",
            "inputs[0].columns.created must be a column of posts",
        ),
        (
            "table: posts\nfiles: posts.csv\ncolumns: {post_id: id}\n",
            "inputs[0].columns.created_at is required for posts",
        ),
        (
            "table: posts\nfiles: nothing-*.csv\n"
            "columns: {post_id: id, created_at: posted}\n",
            "inputs[0].files must match files",
        ),
        (
            "table: posts\nfiles: posts.csv\ntimestamp_format: dd.mm.yyyy\n"
            "columns: {post_id: id, created_at: posted}\n",
            "inputs[0].timestamp_format must be iso, unix, unix_ms or a strptime",
        ),
        (
            "table: posts\nfiles: posts.csv\ncolumns: {post_id: id}\n"
            "constants: {created_at: never}\n",
            "inputs[0].constants.created_at must be a timestamp",
        ),
        ("table: posts\nfile: posts.csv\n", "inputs[0].file is not a mapping key"),
        ("inputs: []\n", "inputs must list at least one input"),
        ("inputs: notalist\n", "inputs must be a list of inputs; got 'notalist'."),
        (
            "inputs: {table: posts, files: posts.csv}\n",
            "inputs must be a list of inputs; got 'a dict of 2 items'.",
        ),
        (
            "- table: posts\n- table: users\n",
            "mapping must be a YAML mapping: one input's fields, or inputs: with a"
            " list; got 'a list of 2 items'.",
        ),
        ("table: [posts\n", "mapping must be valid UTF-8 YAML"),
    ],
)
def test_mapping_errors_name_file_field_and_value(
    tmp_path: Path, yaml_text: str, expected: str
) -> None:
    """Each broken mapping is refused before reading data, naming the field."""
    mapping = _write(tmp_path, posts_csv=POSTS_CSV, mapping_yaml=yaml_text)

    with pytest.raises(ConfigError) as info:
        read_mapping(mapping)

    message = str(info.value)
    assert message.startswith(f"{mapping}: ")
    assert expected in message
