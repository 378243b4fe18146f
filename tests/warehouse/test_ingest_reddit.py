"""Reddit ingest: one channel per file, posts with text, score and time."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from ingest_support import snapshot

from veedel.data import bundled
from veedel.errors import DataError
from veedel.warehouse import connect
from veedel.warehouse.ingest import ingest_reddit
from veedel.warehouse.ingest.reddit import CITY_SUBREDDITS

REDDIT = bundled("reddit_geo")
FILES = sorted(REDDIT.glob("*.csv"))


@pytest.fixture
def con(tmp_path: Path) -> Any:
    return connect(f"duckdb://{tmp_path / 'warehouse.duckdb'}")


def test_reddit_files_load_one_channel_each_and_every_record(con: Any) -> None:
    """Ten files give ten channels and as many posts as pandas counts records."""
    summary = ingest_reddit(con, FILES)

    records = sum(len(pd.read_csv(path)) for path in FILES)
    assert records == 10_000
    assert summary.tables["channels"].written == 10
    assert summary.tables["posts"].written == records
    assert "users" not in summary.tables
    assert "votes" not in summary.tables

    channels = con.table("channels").to_pyarrow().to_pylist()
    assert {c["channel_id"] for c in channels} == {f"reddit:{p.stem}" for p in FILES}
    assert {c["name"] for c in channels} >= {"r/berlin", "r/de", "r/sanfrancisco"}


def test_reddit_post_keeps_title_score_and_utc_time(con: Any) -> None:
    """The first Berlin record, checked by hand against the CSV."""
    ingest_reddit(con, [REDDIT / "berlin.csv"])
    posts = con.table("posts")

    row = posts.filter(posts.post_id == "reddit:14t933").to_pyarrow().to_pylist()[0]

    assert row["channel_id"] == "reddit:berlin"
    assert row["text"] == "This just happened in the S-Bahn. I have no words."
    assert row["score"] == 168
    # created_utc 1355441176 is 2012-12-13 23:26:16 UTC.
    assert row["created_at"] == datetime(2012, 12, 13, 23, 26, 16)
    assert row["user_id"] is None
    assert row["source"] == "reddit"


def test_reddit_city_subreddit_posts_get_their_city(con: Any) -> None:
    """City files give every post the city; country files give none; no coordinates.

    Counts per file are the records pandas reads from the bundled files.
    """
    ingest_reddit(con, FILES)
    posts = con.table("posts")

    counts = (
        posts.group_by(["channel_id", "city"])
        .agg(n=posts.count(), located=posts.latitude.notnull().sum())
        .to_pyarrow()
        .to_pylist()
    )
    by_channel = {row["channel_id"]: row for row in counts}
    assert len(counts) == len(by_channel) == 10
    assert by_channel["reddit:berlin"]["city"] == "Berlin"
    assert by_channel["reddit:nyc"]["city"] == "New York"
    assert by_channel["reddit:sanfrancisco"]["city"] == "San Francisco"
    for country in ("reddit:de", "reddit:germany", "reddit:europe"):
        assert by_channel[country]["city"] is None
    assert {r["city"] for r in counts} == {*CITY_SUBREDDITS.values(), None}
    for path in FILES:
        assert by_channel[f"reddit:{path.stem}"]["n"] == len(pd.read_csv(path))
    assert sum(r["located"] for r in counts) == 0


def test_reddit_cities_argument_replaces_the_default(con: Any, tmp_path: Path) -> None:
    """A team's own mapping names the city; an empty mapping gives none."""
    koeln = _copy(tmp_path, HEADER + "1355441176.0,3,k1,Dom,\n", name="Koeln.csv")
    berlin = _copy(tmp_path, HEADER + "1355441176.0,3,b1,Spree,\n", name="berlin.csv")

    ingest_reddit(con, [koeln], cities={"koeln": "Köln"})
    ingest_reddit(con, [berlin], cities={})

    rows = con.table("posts").select("post_id", "city").to_pyarrow().to_pylist()
    assert sorted(rows, key=lambda r: r["post_id"]) == [
        {"post_id": "reddit:b1", "city": None},
        {"post_id": "reddit:k1", "city": "Köln"},
    ]


def test_reddit_second_ingest_writes_nothing(con: Any) -> None:
    """Idempotency over files: a rerun writes 0 rows."""
    ingest_reddit(con, FILES[:2])
    before = snapshot(con)

    again = ingest_reddit(con, FILES[:2])

    assert again.written == 0
    assert snapshot(con) == before


def _copy(tmp_path: Path, text: str | bytes, name: str = "local.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


HEADER = "created_utc,score,id,title,selftext\n"


def test_reddit_bad_row_names_file_line_field_value(con: Any, tmp_path: Path) -> None:
    """A bad timestamp names its line; the good file before it is not written."""
    ingest_reddit(con, [REDDIT / "de.csv"])
    before = snapshot(con)
    bad = _copy(tmp_path, HEADER + "1355441176.0,3,a1,fine,\nsoon,4,a2,bad,\n")

    with pytest.raises(DataError) as info:
        ingest_reddit(con, [REDDIT / "paris.csv", bad])

    message = str(info.value)
    assert "local.csv, line 3 (record 2)" in message
    assert "created_utc must be seconds since 1970-01-01 UTC" in message
    assert "'soon'" in message
    assert snapshot(con) == before


def test_reddit_missing_column_names_it(con: Any, tmp_path: Path) -> None:
    """A file without created_utc is refused with the header it has."""
    bad = _copy(tmp_path, "score,id,title\n3,a1,hello\n")

    with pytest.raises(DataError) as info:
        ingest_reddit(con, [bad])

    message = str(info.value)
    assert "local.csv, line 1: created_utc is a required column" in message
    assert "score, id, title" in message
    assert con.list_tables() == []


@pytest.mark.parametrize(
    ("delimiter", "name"), [(";", "semicolons"), ("\t", "tabs"), ("|", "bars")]
)
def test_reddit_header_with_another_delimiter_hints_at_it(
    con: Any, tmp_path: Path, delimiter: str, name: str
) -> None:
    """A semicolon- or tab-separated export reads as one column; the error says
    the delimiter may be wrong instead of only asking for the column."""
    header = delimiter.join(["id", "title", "created_utc"])
    bad = _copy(tmp_path, f"{header}\n{delimiter.join(['a1', 'x', '1'])}\n")

    with pytest.raises(DataError) as info:
        ingest_reddit(con, [bad])

    assert str(info.value) == (
        f"{bad}, line 1: id is a required column (the header has: {header});"
        f" got None. The header holds {delimiter!r}, so the file may be separated"
        f" by {name}, not commas: save it with commas (a mapping file can set"
        f" delimiter: {delimiter!r} instead)."
    )
    assert con.list_tables() == []


@pytest.mark.parametrize("file_name", ["we ird:name.csv", "a:b.csv", "tab\there.csv"])
def test_reddit_file_name_that_makes_a_bad_channel_id_is_refused(
    con: Any, tmp_path: Path, file_name: str
) -> None:
    """The file stem becomes the channel id reddit:<stem>: a ':' or whitespace
    in it is refused before anything is read, as Stack Exchange site names are."""
    bad = _copy(tmp_path, HEADER + "1355441176.0,3,a1,fine,\n", name=file_name)

    with pytest.raises(DataError) as info:
        ingest_reddit(con, [REDDIT / "de.csv", bad])

    assert str(info.value) == (
        "files must have names without ':' or whitespace (the name before .csv"
        f" becomes the channel id reddit:<name>); got {file_name!r}. Rename the"
        " file after its subreddit, e.g. cologne.csv."
    )
    assert con.list_tables() == []


def test_reddit_wrong_encoding_names_line_and_bytes(con: Any, tmp_path: Path) -> None:
    """A Latin-1 file is refused at the first byte that is not UTF-8."""
    text = HEADER + "1355441176.0,3,a1,Stra\xdfe,\n"
    bad = _copy(tmp_path, text.encode("latin-1"))

    with pytest.raises(DataError) as info:
        ingest_reddit(con, [bad])

    message = str(info.value)
    assert "local.csv, line 2, column 23: encoding must be utf-8" in message
    assert "\\xdfe" in message
    assert con.list_tables() == []


def test_reddit_empty_file_is_refused(con: Any, tmp_path: Path) -> None:
    """An empty export is an error, not an empty channel."""
    bad = _copy(tmp_path, "")

    with pytest.raises(DataError, match=r"local\.csv: file must not be empty"):
        ingest_reddit(con, [bad])


def test_reddit_skip_bad_rows_counts_and_keeps_the_rest(
    con: Any, tmp_path: Path
) -> None:
    """With skip_bad_rows a short record and a bad score are rejected, the rest kept."""
    bad = _copy(
        tmp_path,
        HEADER + "1355441176.0,3,a1,fine,\n1355441177.0,x,a2,bad score,\n1,2\n",
    )
    rejects = tmp_path / "rejects.jsonl"

    summary = ingest_reddit(con, [bad], skip_bad_rows=True, rejects=rejects)

    assert summary.tables["posts"].read == 3
    assert summary.tables["posts"].written == 1
    assert summary.tables["posts"].rejected == 2
    reasons = [r.reason for r in summary.rejects]
    assert reasons == [
        "score must be a whole number",
        "fields must number 5 like the header",
    ]
    assert len(rejects.read_text().splitlines()) == 2
