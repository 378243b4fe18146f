"""Ingest under hostile input: every bad value is a row error, never a crash.

Each case feeds one malformed value through a real ingest. Without
``--skip-bad-rows`` it must raise :class:`~veedel.errors.DataError` naming the
file, the row, the field and the value, and leave the warehouse exactly as it
was; with it the row must land in the rejects and the rest must load.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ingest_support import dump_copy, replace_once, snapshot

from veedel.errors import ConfigError, DataError
from veedel.warehouse import connect
from veedel.warehouse.ingest import ingest_files, ingest_reddit, ingest_stackexchange

HEADER = "id,title,created_utc,score,selftext\n"
GOOD = "ok1,Fine,1355441176.0,5,body\n"
MAPPING = """table: posts
files: [p.csv]
columns: {post_id: id, created_at: ts, score: score, text: text}
"""


@pytest.fixture
def con(tmp_path: Path) -> Any:
    return connect(f"duckdb://{tmp_path / 'warehouse.duckdb'}")


def _reddit(tmp_path: Path, body: bytes, name: str = "city") -> Path:
    path = tmp_path / f"{name}.csv"
    path.write_bytes(body)
    return path


def _mapping(tmp_path: Path, data: bytes, extra: str = "") -> Path:
    (tmp_path / "p.csv").write_bytes(data)
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING + extra, encoding="utf-8")
    return mapping


def _refused(con: Any, load: Any, *needles: str) -> DataError:
    """``load()`` raises a DataError holding every needle; nothing changes."""
    before = snapshot(con)
    with pytest.raises(DataError) as caught:
        load()
    message = str(caught.value)
    for needle in needles:
        assert needle in message, message
    assert snapshot(con) == before
    return caught.value


@pytest.mark.parametrize(
    "score",
    ["99999999999999999999999", "-9223372036854775809", "inf", "-inf"],
)
def test_reddit_score_beyond_int64_is_a_row_error(
    con: Any, tmp_path: Path, score: str
) -> None:
    """A score no 64-bit integer holds names line, field and value."""
    row = f"big,Title,1355441176.0,{score},x\n"
    path = _reddit(tmp_path, (HEADER + GOOD + row).encode())

    _refused(con, lambda: ingest_reddit(con, [path]), "line 3", "score", score)

    summary = ingest_reddit(con, [path], skip_bad_rows=True)
    assert (summary.rejected, con.table("posts").count().execute()) == (1, 1)


def test_stackexchange_score_beyond_int64_is_a_row_error(
    con: Any, tmp_path: Path
) -> None:
    """A Score of 2**70 in Posts.xml is refused with its row, then rejected."""
    dump = dump_copy(tmp_path)
    replace_once(
        dump / "Posts.xml",
        b'CreationDate="2018-02-06T20:19:50.957" Score="10"',
        b'CreationDate="2018-02-06T20:19:50.957" Score="1180591620717411303424"',
    )

    _refused(
        con,
        lambda: ingest_stackexchange(con, dump, site="conlang"),
        "Posts.xml",
        "Score",
        "1180591620717411303424",
    )

    summary = ingest_stackexchange(con, dump, site="conlang", skip_bad_rows=True)
    assert summary.rejected == 1
    ids = set(con.table("posts").post_id.to_pyarrow().to_pylist())
    assert "se:conlang:post:1" not in ids
    assert "se:conlang:post:3" in ids


@pytest.mark.parametrize(
    "stamp", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00"]
)
def test_zoned_timestamp_outside_the_calendar_is_a_row_error(
    con: Any, tmp_path: Path, stamp: str
) -> None:
    """A zoned time that leaves years 1..9999 once moved to UTC is a row error."""
    dump = dump_copy(tmp_path)
    replace_once(
        dump / "Users.xml",
        b'<row Id="1" Reputation="101" CreationDate="2018-02-06T19:55:45.000"',
        f'<row Id="1" Reputation="101" CreationDate="{stamp}"'.encode(),
    )
    _refused(con, lambda: ingest_stackexchange(con, dump), "CreationDate", stamp)

    mapping = _mapping(tmp_path, f"id,ts,score,text\nm1,{stamp},1,x\n".encode())
    _refused(con, lambda: ingest_files(con, mapping), "line 2", "ts", stamp)


def test_mapped_integer_keeps_every_digit(con: Any, tmp_path: Path) -> None:
    """Integers beyond 2**53 are stored exactly, not rounded through a float."""
    mapping = _mapping(
        tmp_path, b"id,ts,score,text\nm1,2020-01-01,12345678901234567,x\n"
    )

    ingest_files(con, mapping)

    assert con.table("posts").score.max().execute() == 12345678901234567


def test_mapped_integer_beyond_int64_is_a_row_error(con: Any, tmp_path: Path) -> None:
    """A CSV integer of 10**20 is refused naming the column and value."""
    mapping = _mapping(
        tmp_path, b"id,ts,score,text\nm1,2020-01-01,100000000000000000000,x\n"
    )

    _refused(con, lambda: ingest_files(con, mapping), "score", "100000000000000000000")
    summary = ingest_files(con, mapping, skip_bad_rows=True)
    assert summary.rejected == 1


def test_parquet_uint64_beyond_int64_is_a_row_error(con: Any, tmp_path: Path) -> None:
    """An unsigned 64-bit Parquet value above 2**63-1 is refused, not a crash."""
    table = pa.table(
        {
            "id": ["p1"],
            "ts": ["2020-01-01"],
            "score": pa.array([2**64 - 1], pa.uint64()),
            "text": ["x"],
        }
    )
    pq.write_table(table, tmp_path / "p.parquet")
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING.replace("p.csv", "p.parquet"), encoding="utf-8")

    _refused(con, lambda: ingest_files(con, mapping), "row 1", "score")


def test_binary_parquet_text_must_be_utf8(con: Any, tmp_path: Path) -> None:
    """Bytes in a text column are decoded as UTF-8, or refused; never repr()."""
    table = pa.table(
        {
            "id": ["p1", "p2"],
            "ts": ["2020-01-01", "2020-01-01"],
            "score": [1, 2],
            "text": pa.array(["grüß".encode(), b"\xff\xfe"], pa.binary()),
        }
    )
    pq.write_table(table, tmp_path / "p.parquet")
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING.replace("p.csv", "p.parquet"), encoding="utf-8")

    _refused(con, lambda: ingest_files(con, mapping), "row 2", "text")
    ingest_files(con, mapping, skip_bad_rows=True)
    assert con.table("posts").text.to_pyarrow().to_pylist() == ["grüß"]


def test_nul_byte_in_text_is_a_row_error(con: Any, tmp_path: Path) -> None:
    """PostgreSQL cannot store U+0000, so no warehouse gets it: a row error."""
    path = _reddit(tmp_path, (HEADER + GOOD + "nul,a\x00b,1355441176,1,x\n").encode())

    _refused(con, lambda: ingest_reddit(con, [path]), "line 3", "NUL")
    summary = ingest_reddit(con, [path], skip_bad_rows=True)
    assert summary.rejected == 1


def test_csv_with_old_mac_line_ends_is_read(con: Any, tmp_path: Path) -> None:
    """Lines ended by a bare carriage return are lines too."""
    path = _reddit(tmp_path, (HEADER + GOOD).replace("\n", "\r").encode())

    ingest_reddit(con, [path])

    assert con.table("posts").count().execute() == 1


def test_utf16_csv_with_its_encoding_named_loads(con: Any, tmp_path: Path) -> None:
    """A mapping naming utf-16 reads a UTF-16 file (BOM and all)."""
    data = "id,ts,score,text\nm1,2020-01-01,1,Grüße\n".encode("utf-16")
    mapping = _mapping(tmp_path, data, "encoding: utf-16\n")

    ingest_files(con, mapping)

    assert con.table("posts").text.to_pyarrow().to_pylist() == ["Grüße"]


def test_utf16_csv_read_as_utf8_says_it_is_utf16(con: Any, tmp_path: Path) -> None:
    """The error for a UTF-16 file names UTF-16 and how to read it."""
    path = _reddit(tmp_path, (HEADER + GOOD).encode("utf-16"))

    _refused(con, lambda: ingest_reddit(con, [path]), "line 1", "UTF-16")


def test_utf16_dump_file_says_it_is_utf16(con: Any, tmp_path: Path) -> None:
    """A dump file saved as UTF-16 is named as such, with the fix."""
    dump = dump_copy(tmp_path)
    text = (dump / "Tags.xml").read_bytes().removeprefix(codecs.BOM_UTF8)
    (dump / "Tags.xml").write_bytes(text.decode("utf-8").encode("utf-16"))

    _refused(con, lambda: ingest_stackexchange(con, dump), "Tags.xml", "UTF-16")


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ("encoding: klingon\n", "inputs[0].encoding"),
        ("delimiter: ';;'\n", "inputs[0].delimiter"),
        ("delimiter: ''\n", "inputs[0].delimiter"),
        ("constants: {channel_id: [1, 2]}\n", "inputs[0].constants.channel_id"),
    ],
)
def test_mapping_reading_options_are_checked_up_front(
    con: Any, tmp_path: Path, extra: str, field: str
) -> None:
    """An unknown encoding, a long delimiter or a list constant is a ConfigError."""
    mapping = _mapping(tmp_path, b"id,ts,score,text\nm1,2020-01-01,1,x\n", extra)

    with pytest.raises(ConfigError) as caught:
        ingest_files(con, mapping)

    assert field in str(caught.value)
    assert con.list_tables() == []


def test_unwritable_rejects_file_is_a_clear_error(con: Any, tmp_path: Path) -> None:
    """A rejects path that cannot be created names the path; nothing is written."""
    path = _reddit(tmp_path, (HEADER + GOOD + ",no id,1355441176,1,x\n").encode())
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    rejects = blocker / "rejects.csv"

    error = _refused(
        con,
        lambda: ingest_reddit(con, [path], skip_bad_rows=True, rejects=rejects),
        "rejects",
        str(rejects),
    )

    assert error.fix is not None and "--rejects" in error.fix


def test_engine_that_refuses_the_rows_is_a_clear_error(tmp_path: Path) -> None:
    """An Ibis engine that cannot take the staged rows (SQLite here) is a DataError
    naming the engine and the table, and leaves its tables as they were."""
    con = connect(f"sqlite:///{tmp_path / 'w.sqlite'}")
    path = _reddit(tmp_path, (HEADER + GOOD).encode())

    with pytest.raises(DataError) as caught:
        ingest_reddit(con, [path])

    assert "sqlite" in str(caught.value)
    # Ibis's own scratch tables may linger; no table of veedel's may.
    assert [t for t in con.list_tables() if not t.startswith("ibis_")] == []


@pytest.mark.parametrize("site", ["", "a:b", "two words"])
def test_site_name_must_be_usable_in_ids(con: Any, site: str) -> None:
    """An empty site, or one with a colon or space, would make ambiguous ids."""
    from ingest_support import CONLANG

    with pytest.raises(ConfigError) as caught:
        ingest_stackexchange(con, CONLANG, site=site)

    assert caught.value.field == "site"
    assert con.list_tables() == []


def test_utf8_file_declared_utf16_is_a_clear_error(con: Any, tmp_path: Path) -> None:
    """A mapping that says utf-16 for a UTF-8 file gets an encoding error."""
    mapping = _mapping(
        tmp_path, b"id,ts,score,text\nm1,2020-01-01,1,x\n", "encoding: utf-16\n"
    )

    _refused(con, lambda: ingest_files(con, mapping), "p.csv", "encoding", "utf-16")


def test_duplicate_column_names_in_the_header_are_refused(
    con: Any, tmp_path: Path
) -> None:
    """Two columns named title would silently keep the last; name the column."""
    path = _reddit(
        tmp_path, b"id,title,created_utc,title\nd1,First,1355441176,Second\n"
    )

    _refused(con, lambda: ingest_reddit(con, [path]), "line 1", "title", "once")


def test_parquet_text_that_is_not_utf8_is_a_row_error(con: Any, tmp_path: Path) -> None:
    """A Parquet string column with invalid UTF-8 (a surrogate's bytes) names the
    row and column, and only that row is rejected with --skip-bad-rows."""
    raw = pa.array([b"ok1", b"\xed\xa0\x80", b"ok3"], pa.binary())
    ids = pa.Array.from_buffers(pa.string(), len(raw), raw.buffers())
    table = pa.table(
        {
            "id": ids,
            "ts": ["2020-01-01"] * 3,
            "score": [1, 2, 3],
            "text": ["a", "b", "c"],
        }
    )
    pq.write_table(table, tmp_path / "p.parquet")
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING.replace("p.csv", "p.parquet"), encoding="utf-8")

    _refused(con, lambda: ingest_files(con, mapping), "row 2", "id", "UTF-8")

    summary = ingest_files(con, mapping, skip_bad_rows=True)
    assert summary.rejected == 1
    assert sorted(con.table("posts").post_id.to_pyarrow().to_pylist()) == [
        "ok1",
        "ok3",
    ]


def test_parquet_timestamp_beyond_year_9999_is_a_row_error(
    con: Any, tmp_path: Path
) -> None:
    """A Parquet timestamp Python cannot hold names its row and column."""
    table = pa.table(
        {
            "id": ["t1", "t2"],
            "ts": pa.array([0, 2**62], pa.timestamp("us")),
            "score": [1, 2],
            "text": ["a", "b"],
        }
    )
    pq.write_table(table, tmp_path / "p.parquet")
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING.replace("p.csv", "p.parquet"), encoding="utf-8")

    _refused(con, lambda: ingest_files(con, mapping), "row 2", "ts", "9999")

    assert ingest_files(con, mapping, skip_bad_rows=True).rejected == 1


def test_dump_file_with_another_root_element_is_refused(
    con: Any, tmp_path: Path
) -> None:
    """Comments saved as Votes.xml (root <comments>) is named, not loaded as 0 votes."""
    dump = dump_copy(tmp_path)
    (dump / "Votes.xml").write_bytes((dump / "Comments.xml").read_bytes())

    _refused(
        con,
        lambda: ingest_stackexchange(con, dump, site="conlang"),
        "Votes.xml",
        "<votes>",
        "<comments>",
    )


@pytest.mark.parametrize("kind", ["reddit", "csv", "parquet", "parquet_no_rows"])
def test_empty_file_is_refused_and_the_warehouse_kept(
    con: Any, tmp_path: Path, kind: str
) -> None:
    """An empty Reddit, mapped CSV or Parquet file is a DataError naming the
    file; rows an earlier ingest stored are all still there afterwards."""
    ingest_reddit(con, [_reddit(tmp_path, (HEADER + GOOD).encode(), "kept")])
    assert con.table("posts").count().execute() == 1
    empty = tmp_path / "empty"
    empty.mkdir()

    if kind == "reddit":
        path = _reddit(empty, b"")
        _refused(con, lambda: ingest_reddit(con, [path]), str(path), "empty")
        return
    if kind == "csv":
        mapping = _mapping(empty, b"")
        _refused(con, lambda: ingest_files(con, mapping), "p.csv", "empty")
        return
    parquet = empty / "p.parquet"
    if kind == "parquet":
        parquet.write_bytes(b"")
    else:
        columns = {"id": pa.string(), "ts": pa.string(), "score": pa.int64()}
        schema = pa.schema({**columns, "text": pa.string()})
        pq.write_table(schema.empty_table(), parquet)
    mapping = empty / "m.yaml"
    mapping.write_text(MAPPING.replace("p.csv", "p.parquet"), encoding="utf-8")

    if kind == "parquet":
        _refused(con, lambda: ingest_files(con, mapping), "p.parquet", "empty")
        return
    # A Parquet file with its columns and no rows is valid and adds nothing.
    before = snapshot(con)
    summary = ingest_files(con, mapping)
    assert (summary.read, summary.written) == (0, 0)
    assert snapshot(con) == before
