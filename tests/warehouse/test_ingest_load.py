"""The load step every ingest uses: new keys only, all or nothing, any engine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from ingest_support import snapshot

from veedel.errors import ConfigError, DataError
from veedel.warehouse import connect
from veedel.warehouse.load import StagedLoad, load

T0 = datetime(2026, 12, 1, 8, 0)


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def con(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """The same tests on an embedded DuckDB file and on a real PostgreSQL server."""
    if request.param == "postgres":
        return connect(request.getfixturevalue("postgres_url"))
    return connect(f"duckdb://{tmp_path / 'warehouse.duckdb'}")


def _posts(*ids: str, text: str = "hallo") -> pa.Table:
    return pa.table(
        {
            "post_id": list(ids),
            "created_at": [T0] * len(ids),
            "text": [text] * len(ids),
        }
    )


def _votes(*ids: str) -> pa.Table:
    return pa.table(
        {
            "vote_id": list(ids),
            "post_id": ["p1"] * len(ids),
            "value": [1] * len(ids),
            "created_at": [T0] * len(ids),
        }
    )


def test_load_writes_new_keys_only(con: Any) -> None:
    """Rows whose key exists are not written again; new keys are."""
    assert load(con, [("posts", _posts("p1", "p2"))]) == {"posts": 2}

    written = load(con, [("posts", _posts("p2", "p3", text="changed"))])

    assert written == {"posts": 1}
    rows = con.table("posts").order_by("post_id").to_pyarrow().to_pylist()
    assert [(r["post_id"], r["text"]) for r in rows] == [
        ("p1", "hallo"),
        ("p2", "hallo"),
        ("p3", "changed"),
    ]


def test_load_keeps_the_first_row_of_a_key_staged_twice(con: Any) -> None:
    """Duplicates inside one load keep the first staged row, whatever the engine."""
    batches = [
        ("posts", _posts("p1", text="first")),
        ("posts", _posts("p1", "p2", text="second")),
    ]

    assert load(con, batches) == {"posts": 2}

    rows = con.table("posts").order_by("post_id").to_pyarrow().to_pylist()
    assert [r["text"] for r in rows] == ["first", "second"]


def test_load_creates_tables_with_the_canonical_schema(con: Any) -> None:
    """A missing canonical table is created with every canonical column."""
    load(con, [("votes", _votes("v1"))])

    assert con.table("votes").columns == (
        "vote_id",
        "post_id",
        "user_id",
        "value",
        "created_at",
        "source",
    )
    assert con.list_tables() == ["votes"]  # staging tables are gone


def test_failure_inside_the_transaction_leaves_everything_as_it_was(
    con: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure after some tables were written rolls all of them back."""
    load(con, [("posts", _posts("p1"))])
    before = snapshot(con)

    original = StagedLoad._write

    def failing_write(self: StagedLoad, table: str) -> int:
        if table == "votes":
            raise RuntimeError("disk full")
        return original(self, table)

    monkeypatch.setattr(StagedLoad, "_write", failing_write)
    # The engine's own error comes back as a DataError naming table and cause.
    with pytest.raises(DataError, match=r"votes must be accepted .*disk full"):
        load(con, [("posts", _posts("p2")), ("votes", _votes("v1"))])

    assert snapshot(con) == before
    assert con.list_tables() == ["posts"]


def test_failure_while_staging_leaves_everything_as_it_was(con: Any) -> None:
    """A generator that raises half-way writes nothing."""
    load(con, [("posts", _posts("p1"))])
    before = snapshot(con)

    def batches() -> Iterator[tuple[str, pa.Table]]:
        yield "posts", _posts("p2")
        raise RuntimeError("source went away")

    with pytest.raises(RuntimeError, match="source went away"):
        load(con, batches())
    assert snapshot(con) == before


def test_load_of_a_non_canonical_table_needs_its_key(con: Any) -> None:
    """Tables outside the model (e.g. truth_*) load idempotently with a key."""
    truth = pa.table({"user_id": ["u1", "u2"], "engagement_type": ["a", "b"]})

    with pytest.raises(ConfigError, match="must be a canonical table"):
        load(con, [("truth_users", truth)])
    first = load(con, [("truth_users", truth)], keys={"truth_users": ["user_id"]})
    second = load(con, [("truth_users", truth)], keys={"truth_users": ["user_id"]})

    assert (first, second) == ({"truth_users": 2}, {"truth_users": 0})


@pytest.mark.parametrize(
    ("batch", "expected"),
    [
        (pa.table({"post_id": ["p1"], "mood": ["ok"]}), "posts.mood is not a column"),
        (pa.table({"text": ["no id"]}), "posts.post_id is required but missing"),
        (
            pa.table({"post_id": ["p1", None], "created_at": [T0, T0]}),
            "row 1: posts.post_id must not be null",
        ),
        (
            pa.table({"post_id": ["p1"], "created_at": ["soon"]}),
            "posts.created_at must be convertible to timestamp",
        ),
    ],
)
def test_batches_that_break_the_schema_are_refused(
    batch: pa.Table, expected: str, tmp_path: Path
) -> None:
    """Unknown, missing, null and uncastable columns raise a DataError."""
    con = connect(f"duckdb://{tmp_path / 'w.duckdb'}")

    with pytest.raises(DataError) as info:
        load(con, [("posts", batch)])

    assert expected in str(info.value)
    assert con.list_tables() == []


def test_existing_table_missing_a_column_is_refused(tmp_path: Path) -> None:
    """A warehouse table at an older schema is reported before writing."""
    con = connect(f"duckdb://{tmp_path / 'w.duckdb'}")
    con.create_table("posts", schema={"post_id": "string", "created_at": "timestamp"})

    with pytest.raises(ConfigError, match=r"posts\.user_id must exist"):
        load(con, [("posts", _posts("p1"))])
    assert con.table("posts").count().execute() == 0


@pytest.mark.postgres
def test_concurrent_loads_on_postgres_write_each_key_once(postgres_url: str) -> None:
    """Two loads of the same keys at once: the table lock lets one write them."""
    import threading

    load(connect(postgres_url), [("posts", _posts("p0"))])
    ids = [f"p{i}" for i in range(1, 2001)]
    results: list[dict[str, int]] = []

    def run() -> None:
        results.append(load(connect(postgres_url), [("posts", _posts(*ids))]))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    con = connect(postgres_url)
    assert sorted(r["posts"] for r in results) == [0, 2000]
    assert con.table("posts").count().execute() == 2001
