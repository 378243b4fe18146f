"""``veedel ingest`` through Click's test runner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ingest_support import CONLANG, dump_copy
from typer.testing import CliRunner

from veedel.cli.main import app
from veedel.data import bundled
from veedel.warehouse import connect

runner = CliRunner()


def _json(output: str) -> Any:
    """The JSON document in the output (log lines may precede it)."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("{"))
    return json.loads("\n".join(lines[start:]))


def _squeezed(text: str) -> str:
    """Text without any whitespace, so Rich's line wrapping cannot matter."""
    return "".join(text.split())


def test_ingest_stackexchange_prints_the_summary_table(tmp_path: Path) -> None:
    """The command loads the dump and prints rows per table."""
    url = f"duckdb://{tmp_path / 'w.duckdb'}"

    result = runner.invoke(app, ["ingest", "stackexchange", str(CONLANG), "-w", url])

    assert result.exit_code == 0, result.output
    assert "Ingest of stackexchange:conlang" in result.output
    assert "1,065" in result.output  # votes read and written
    assert connect(url).table("posts").count().execute() == 399


def test_ingest_twice_reports_zero_written_as_json(tmp_path: Path) -> None:
    """The second run's JSON summary shows every row as already present."""
    url = f"duckdb://{tmp_path / 'w.duckdb'}"
    args = ["ingest", "stackexchange", str(CONLANG), "-w", url, "--format", "json"]
    runner.invoke(app, args)

    result = runner.invoke(app, args)

    assert result.exit_code == 0, result.output
    tables = _json(result.output)["tables"]
    assert tables["posts"] == {"read": 399, "written": 0, "present": 399, "rejected": 0}


def test_ingest_reddit_and_files_commands(tmp_path: Path) -> None:
    """reddit takes files; files takes a mapping."""
    url = f"duckdb://{tmp_path / 'w.duckdb'}"
    reddit = [str(bundled("reddit_geo") / "berlin.csv")]
    (tmp_path / "users.csv").write_text("id,since\nu1,2026-01-05\n", encoding="utf-8")
    (tmp_path / "users.yaml").write_text(
        "table: users\nfiles: users.csv\ncolumns: {user_id: id, created_at: since}\n",
        encoding="utf-8",
    )

    first = runner.invoke(app, ["ingest", "reddit", *reddit, "-w", url, "-f", "json"])
    second = runner.invoke(
        app, ["ingest", "files", str(tmp_path / "users.yaml"), "-w", url, "-f", "json"]
    )

    assert first.exit_code == 0, first.output
    assert _json(first.output)["tables"]["channels"]["written"] == 1
    assert second.exit_code == 0, second.output
    assert _json(second.output)["tables"]["users"]["written"] == 1


def test_bad_input_is_a_message_and_exit_code_2(tmp_path: Path) -> None:
    """Malformed input prints the DataError, not a traceback."""
    folder = dump_copy(tmp_path)
    (folder / "Badges.xml").write_bytes(b"")
    url = f"duckdb://{tmp_path / 'w.duckdb'}"

    result = runner.invoke(app, ["ingest", "stackexchange", str(folder), "-w", url])

    assert result.exit_code == 2
    expected = _squeezed("Badges.xml: file must not be empty; got '0 bytes'.")
    assert expected in _squeezed(result.output)
    assert "Traceback" not in result.output


def test_skip_bad_rows_writes_the_default_rejects_file(tmp_path: Path) -> None:
    """Without --rejects the rejected rows go to the data folder."""
    folder = dump_copy(tmp_path)
    votes = folder / "Votes.xml"
    votes.write_bytes(
        votes.read_bytes().replace(b'VoteTypeId="2"', b'VoteTypeId="x"', 1)
    )
    url = f"duckdb://{tmp_path / 'w.duckdb'}"

    result = runner.invoke(
        app,
        [
            "ingest",
            "stackexchange",
            str(folder),
            "-w",
            url,
            "--skip-bad-rows",
            "-f",
            "json",
        ],
    )

    assert result.exit_code == 0, result.output
    summary = _json(result.output)
    assert summary["tables"]["votes"]["rejected"] == 1
    rejects = Path(summary["rejects_path"])
    assert rejects.parent == tmp_path / "veedel-data" / "rejects"
    assert json.loads(rejects.read_text())["field"] == "VoteTypeId"


def test_every_ingest_command_has_an_example() -> None:
    """Help texts carry an example line."""
    for command in ("stackexchange", "reddit", "files"):
        result = runner.invoke(app, ["ingest", command, "--help"])
        assert result.exit_code == 0
        assert "Example: veedel ingest" in result.output


def test_a_reddit_ingest_leaves_a_warehouse_that_passes_the_check(
    tmp_path: Path,
) -> None:
    """A Reddit export fills only channels and posts; the ingest still creates
    every other canonical table, empty, so the check finds the whole model."""
    from veedel.warehouse.schema import CANONICAL_TABLES

    url = f"duckdb://{tmp_path / 'w.duckdb'}"
    reddit = str(bundled("reddit_geo") / "berlin.csv")

    ingested = runner.invoke(app, ["ingest", "reddit", reddit, "-w", url])
    checked = runner.invoke(app, ["warehouse", "check", "-w", url, "-f", "json"])

    assert ingested.exit_code == 0, ingested.output
    assert checked.exit_code == 0, checked.output
    con = connect(url)
    assert set(CANONICAL_TABLES) <= set(con.list_tables())
    counts = {name: con.table(name).count().execute() for name in CANONICAL_TABLES}
    assert counts == {
        "users": 0, "channels": 1, "posts": 1000, "votes": 0,
        "events": 0, "assignments": 0, "exposures": 0,
    }  # fmt: skip
    assert "missing_table" not in checked.output


def test_the_check_says_how_to_create_a_missing_table(tmp_path: Path) -> None:
    """A warehouse built elsewhere without users: the error names the fix."""
    url = f"duckdb://{tmp_path / 'w.duckdb'}"
    con = connect(url)
    con.raw_sql("CREATE TABLE posts (post_id VARCHAR)")
    con.disconnect()

    checked = runner.invoke(app, ["warehouse", "check", "-w", url, "-f", "json"])

    assert checked.exit_code == 1
    users = next(
        v for v in _json(checked.output)["violations"] if v["table"] == "users"
    )
    assert users["code"] == "missing_table"
    assert (
        "`veedel ingest`, which creates every table of the model" in (users["message"])
    )
