"""Stack Exchange ingest: exact counts, idempotency, malformed input, rejects."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.dom import minidom

import pytest
from ingest_support import CONLANG, dump_copy, line_of, replace_once, snapshot

from veedel.errors import DataError
from veedel.warehouse import connect
from veedel.warehouse.ingest import ingest_stackexchange


def _rows(name: str) -> list[dict[str, str]]:
    """All <row> attributes of a dump file, read with minidom (not iterparse)."""
    document = minidom.parse(str(CONLANG / name))
    return [
        dict(row.attributes.items()) for row in document.getElementsByTagName("row")
    ]


def expected_counts() -> dict[str, int]:
    """Rows per table, derived from the XML independently of the ingest code.

    Dumps omit deleted posts but keep their answers, comments and votes; those
    (and replies and votes on tag wikis) point at no post and are not loaded.
    """
    posts = _rows("Posts.xml")
    questions = {p["Id"] for p in posts if p["PostTypeId"] == "1"}
    answers = {
        p["Id"] for p in posts if p["PostTypeId"] == "2" and p["ParentId"] in questions
    }
    kept = questions | answers
    owned = {p["Id"] for p in posts if p["Id"] in kept and "OwnerUserId" in p}

    tags = {t["TagName"] for t in _rows("Tags.xml")}
    first_tags = {
        re.findall(r"<([^>]+)>", p["Tags"])[0] for p in posts if p["PostTypeId"] == "1"
    }
    comments = [c for c in _rows("Comments.xml") if c["PostId"] in kept]
    votes = _rows("Votes.xml")
    history = _rows("PostHistory.xml")

    events = (
        len(_rows("Badges.xml"))
        + sum(v["VoteTypeId"] not in {"2", "3"} and "UserId" in v for v in votes)
        + sum(link["PostId"] in owned for link in _rows("PostLinks.xml"))
        + sum(
            h["PostHistoryTypeId"] not in {"1", "2", "3"} and "UserId" in h
            for h in history
        )
    )
    return {
        "users": len(_rows("Users.xml")),
        "channels": len(tags | first_tags),
        "posts": len(kept) + len(comments),
        "votes": sum(
            v["VoteTypeId"] in {"2", "3"} and v["PostId"] in kept for v in votes
        ),
        "events": events,
    }


def one(con: Any, table: str, **where: Any) -> dict[str, Any]:
    """The single row of ``table`` matching ``where`` (column=value)."""
    t = con.table(table)
    for column, value in where.items():
        t = t.filter(t[column] == value)
    rows = t.to_pyarrow().to_pylist()
    assert len(rows) == 1, rows
    return dict(rows[0])


def table_counts(con: Any) -> dict[str, int]:
    """Rows per table that holds any (the ingest creates the rest empty)."""
    counts = {
        name: int(con.table(name).count().execute()) for name in con.list_tables()
    }
    return {name: n for name, n in counts.items() if n}


@pytest.fixture
def con(tmp_path: Path) -> Any:
    return connect(f"duckdb://{tmp_path / 'warehouse.duckdb'}")


def test_conlang_dump_loads_exact_counts_per_table(con: Any) -> None:
    """Every table holds exactly the rows the XML implies, counted another way."""
    summary = ingest_stackexchange(con, CONLANG)

    expected = expected_counts()
    assert table_counts(con) == expected
    # Pinned from grep counts of the raw files: 54 questions + 115 answers +
    # 230 comments; 950 up and 133 down votes, less 18 on seven deleted posts.
    assert expected == {
        "users": 272,
        "channels": 71,
        "posts": 399,
        "votes": 1065,
        "events": 794,
    }
    assert {t: c.written for t, c in summary.tables.items()} == expected
    assert summary.rejected == 0
    # The dump has no experiments; their tables exist, empty, all the same.
    assert {"assignments", "exposures"} <= set(con.list_tables())


def test_conlang_rows_keep_their_values(con: Any) -> None:
    """Spot checks: ids prefixed per site, replies, votes, locations, events."""
    ingest_stackexchange(con, CONLANG)

    question = one(con, "posts", post_id="se:conlang:post:1")
    assert question["user_id"] == "se:conlang:user:14"
    assert question["channel_id"] == "se:conlang:discussion"
    assert question["parent_id"] is None
    assert question["score"] == 10
    assert question["created_at"] == datetime(2018, 2, 6, 20, 19, 50, 957000)
    assert question["text"].startswith("Are questions asked in conlangs accepted")
    assert "<p>" not in question["text"]

    answer = one(con, "posts", post_id="se:conlang:post:2")
    assert (answer["parent_id"], answer["channel_id"]) == (
        "se:conlang:post:1",
        "se:conlang:discussion",
    )
    comment = one(con, "posts", post_id="se:conlang:comment:2")
    assert comment["parent_id"] == "se:conlang:post:3"
    assert comment["user_id"] == "se:conlang:user:31"

    votes = con.table("votes")
    assert int(votes.value.sum().execute()) == 948 - 117
    assert set(votes.value.execute()) == {1, -1}

    community = one(con, "users", user_id="se:conlang:user:-1")
    assert community["location_text"] == "on the server farm"

    events = con.table("events")
    counted = events.group_by("name").aggregate(n=events.count()).to_pyarrow()
    names = dict(zip(*counted.to_pydict().values(), strict=True))
    assert names["badge_awarded"] == 612
    assert names["favorite"] == 10
    assert names["post_link"] == 20
    favourite = events.filter(events.name == "favorite").to_pyarrow().to_pylist()[0]
    assert json.loads(favourite["properties"])["post_id"].startswith("se:conlang:")


def test_second_ingest_writes_nothing(con: Any) -> None:
    """Idempotency: the same dump again adds no row and reports 0 written."""
    ingest_stackexchange(con, CONLANG)
    before = snapshot(con)

    again = ingest_stackexchange(con, CONLANG)

    assert again.written == 0
    assert again.tables["posts"].present == 399
    assert snapshot(con) == before


def test_two_sites_do_not_collide(con: Any) -> None:
    """The same dump under two site names gives two disjoint sets of ids."""
    ingest_stackexchange(con, CONLANG)
    ingest_stackexchange(con, CONLANG, site="conlang2")

    assert table_counts(con)["posts"] == 2 * 399


# -- malformed input: error names the place, warehouse unchanged ----------------


@pytest.fixture
def loaded(con: Any) -> tuple[Any, dict[str, list[str]]]:
    """A warehouse holding the conlang dump, and its snapshot."""
    ingest_stackexchange(con, CONLANG)
    return con, snapshot(con)


def _fails(con: Any, folder: Path) -> str:
    with pytest.raises(DataError) as info:
        ingest_stackexchange(con, folder)
    return str(info.value)


def test_truncated_xml_is_reported_and_nothing_written(
    loaded: tuple[Any, dict[str, list[str]]], tmp_path: Path
) -> None:
    """A file cut mid-row names the file and its last line; no table changes."""
    con, before = loaded
    folder = dump_copy(tmp_path)
    votes = folder / "Votes.xml"
    data = votes.read_bytes()
    votes.write_bytes(data[: len(data) // 2])
    last_line = votes.read_bytes().count(b"\n") + 1

    message = _fails(con, folder)

    assert "Votes.xml" in message
    assert f"line {last_line}" in message
    assert "truncated" in message
    assert snapshot(con) == before


def test_invalid_xml_is_reported_with_line_and_text(
    loaded: tuple[Any, dict[str, list[str]]], tmp_path: Path
) -> None:
    """A broken tag names file, line, column and the text there."""
    con, before = loaded
    folder = dump_copy(tmp_path)
    comments = folder / "Comments.xml"
    replace_once(comments, b'<row Id="73" PostId="5"', b'<row Id="73" PostId="5" <oops')

    message = _fails(con, folder)

    assert "Comments.xml" in message
    assert f"line {line_of(comments, b'<oops')}" in message
    assert "well-formed" in message
    assert "<oops" in message
    assert snapshot(con) == before


def test_bad_row_names_row_field_and_value(
    loaded: tuple[Any, dict[str, list[str]]], tmp_path: Path
) -> None:
    """A bad timestamp names the file, the row and its Id, the field and the value."""
    con, before = loaded
    folder = dump_copy(tmp_path)
    replace_once(
        folder / "Posts.xml",
        b'CreationDate="2018-02-06T21:06:50.810"',
        b'CreationDate="yesterday"',
    )

    message = _fails(con, folder)

    assert "Posts.xml, row 9 (Id=9)" in message
    assert "CreationDate must be an ISO 8601 timestamp" in message
    assert "'yesterday'" in message
    assert snapshot(con) == before


def test_wrong_encoding_is_reported_with_the_bytes(
    loaded: tuple[Any, dict[str, list[str]]], tmp_path: Path
) -> None:
    """A Latin-1 byte in a UTF-8 file names the line, the column and the byte."""
    con, before = loaded
    folder = dump_copy(tmp_path)
    users = folder / "Users.xml"
    replace_once(users, b'Location="New York, NY"', b'Location="K\xf6ln"')

    message = _fails(con, folder)

    line = line_of(users, b"K\xf6ln")
    assert f"Users.xml, line {line}" in message
    assert "encoding must be UTF-8" in message
    assert "\\xf6ln" in message
    assert snapshot(con) == before


def test_missing_attribute_is_reported(
    loaded: tuple[Any, dict[str, list[str]]], tmp_path: Path
) -> None:
    """A row without a required attribute names it."""
    con, before = loaded
    folder = dump_copy(tmp_path)
    replace_once(
        folder / "Posts.xml",
        b'<row Id="12" PostTypeId="2" ParentId="9" ',
        b'<row Id="12" PostTypeId="2" ',
    )

    message = _fails(con, folder)

    assert "Posts.xml, row 12 (Id=12)" in message
    assert "ParentId is required" in message
    assert snapshot(con) == before


def test_empty_file_is_reported(
    loaded: tuple[Any, dict[str, list[str]]], tmp_path: Path
) -> None:
    """An empty dump file is an error naming it, not an empty site."""
    con, before = loaded
    folder = dump_copy(tmp_path)
    (folder / "Tags.xml").write_bytes(b"")

    message = _fails(con, folder)

    assert "Tags.xml: file must not be empty" in message
    assert snapshot(con) == before


def test_folder_without_posts_is_reported(con: Any, tmp_path: Path) -> None:
    """A folder that is not a dump says which file it lacks."""
    with pytest.raises(DataError, match=r"Posts\.xml must exist"):
        ingest_stackexchange(con, tmp_path)


def test_failure_on_a_fresh_warehouse_creates_no_table(
    con: Any, tmp_path: Path
) -> None:
    """Even table creation is undone: a failed first ingest leaves no tables."""
    folder = dump_copy(tmp_path)
    (folder / "PostHistory.xml").write_bytes(b"<posthistory><row Id=")

    _fails(con, folder)

    assert con.list_tables() == []


# -- skipping bad rows ------------------------------------------------------------


def _two_bad_rows(tmp_path: Path) -> Path:
    folder = dump_copy(tmp_path)
    replace_once(
        folder / "Comments.xml",
        b'CreationDate="2018-02-07T12:13:33.920"',
        b'CreationDate="yesterday"',
    )
    replace_once(
        folder / "Votes.xml",
        b'<row Id="1" PostId="1" VoteTypeId="2"',
        b'<row Id="1" PostId="1" VoteTypeId="up"',
    )
    return folder


def test_skip_bad_rows_writes_rejects_with_reasons(con: Any, tmp_path: Path) -> None:
    """Bad rows go to the rejects file with their reason; the rest is loaded."""
    folder = _two_bad_rows(tmp_path)
    rejects = tmp_path / "rejects.jsonl"

    summary = ingest_stackexchange(
        con, folder, site="conlang", skip_bad_rows=True, rejects=rejects
    )

    lines = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(r["table"], r["location"], r["field"], r["value"]) for r in lines] == [
        ("posts", "row 48 (Id=73)", "CreationDate", "yesterday"),
        ("votes", "row 1 (Id=1)", "VoteTypeId", "up"),
    ]
    assert lines[0]["reason"].startswith("CreationDate must be an ISO 8601 timestamp")
    assert lines[0]["file"].endswith("Comments.xml")
    assert (summary.tables["posts"].rejected, summary.tables["votes"].rejected) == (
        1,
        1,
    )
    assert summary.tables["posts"].read == 399
    assert table_counts(con)["posts"] == 398
    assert table_counts(con)["votes"] == 1064


def test_skip_bad_rows_writes_csv_rejects(con: Any, tmp_path: Path) -> None:
    """A .csv rejects path gets a CSV file with a header."""
    folder = _two_bad_rows(tmp_path)
    rejects = tmp_path / "rejects.csv"

    ingest_stackexchange(con, folder, skip_bad_rows=True, rejects=rejects)

    lines = rejects.read_text().splitlines()
    assert lines[0] == "file,location,table,field,value,reason"
    assert len(lines) == 3


def test_skip_bad_rows_does_not_skip_broken_files(con: Any, tmp_path: Path) -> None:
    """A file that cannot be parsed still fails; there is no row to set aside."""
    folder = dump_copy(tmp_path)
    (folder / "Tags.xml").write_bytes(b"")

    with pytest.raises(DataError, match="must not be empty"):
        ingest_stackexchange(con, folder, skip_bad_rows=True)
    assert con.list_tables() == []


# -- PostgreSQL -----------------------------------------------------------------


@pytest.mark.postgres
def test_conlang_on_postgres_counts_idempotency_and_failure(
    postgres_url: str, tmp_path: Path
) -> None:
    """The same ingest on a real PostgreSQL server: counts, rerun, rollback."""
    con = connect(postgres_url)

    first = ingest_stackexchange(con, CONLANG)
    second = ingest_stackexchange(con, CONLANG)

    assert table_counts(con) == expected_counts()
    assert first.written == sum(expected_counts().values())
    assert second.written == 0

    before = snapshot(con)
    folder = dump_copy(tmp_path)
    data = (folder / "Votes.xml").read_bytes()
    (folder / "Votes.xml").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated"):
        ingest_stackexchange(con, folder)
    assert snapshot(con) == before
