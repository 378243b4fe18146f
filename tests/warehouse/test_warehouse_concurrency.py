"""Two writers at once: a clear refusal or a clean queue, never lost rows.

DuckDB lets one process open a file for writing; the second must get an error
that says so, and what the first stored must stay. PostgreSQL takes writers at
once; two ingests of the same dump into a fresh database must both succeed and
store each row once.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from ingest_support import CONLANG, snapshot
from typer.testing import CliRunner

from veedel.cli.main import app
from veedel.errors import ConfigError
from veedel.warehouse import connect
from veedel.warehouse.ingest import ingest_stackexchange

runner = CliRunner()

_HOLD = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("ready", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def held_duckdb(tmp_path: Path) -> Any:
    """A DuckDB warehouse with the conlang dump, held open by another process."""
    path = tmp_path / "w.duckdb"
    con = connect(f"duckdb://{path}")
    ingest_stackexchange(con, CONLANG)
    before = snapshot(con)
    con.disconnect()

    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
    yield path, before, holder
    holder.communicate("")


def test_second_duckdb_writer_gets_a_clear_error(held_duckdb: Any) -> None:
    """Opening a DuckDB file another process holds is a ConfigError saying so."""
    path, _, _ = held_duckdb

    with pytest.raises(ConfigError) as caught:
        connect(f"duckdb://{path}")

    message = str(caught.value)
    assert "another process" in message
    assert str(path) in message


def test_second_duckdb_ingest_on_the_cli_exits_two(
    held_duckdb: Any,
) -> None:
    """The CLI prints one error (no traceback) and exits 2."""
    path, _, _ = held_duckdb
    url = f"duckdb://{path}"

    result = runner.invoke(app, ["ingest", "stackexchange", str(CONLANG), "-w", url])

    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "another process" in result.output
    assert not isinstance(result.exception, AssertionError)


def test_duckdb_data_survives_the_refused_writer(held_duckdb: Any) -> None:
    """After the holder lets go, every row it held is still there."""
    path, before, holder = held_duckdb
    with pytest.raises(ConfigError):
        ingest_stackexchange(connect(f"duckdb://{path}"), CONLANG)

    holder.communicate("")
    assert snapshot(connect(f"duckdb://{path}")) == before


def test_a_file_that_is_not_duckdb_is_a_clear_error(tmp_path: Path) -> None:
    """A file that is not a DuckDB database is a ConfigError, not a traceback."""
    path = tmp_path / "warehouse.duckdb"
    path.write_bytes(b"id,title\n1,hello\n" * 300)

    with pytest.raises(ConfigError, match="DuckDB"):
        connect(f"duckdb://{path}")


@pytest.mark.postgres
def test_two_ingests_into_a_fresh_postgres_both_succeed(postgres_url: str) -> None:
    """Concurrent first loads create each table once and store each row once."""
    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(ingest_stackexchange(connect(postgres_url), CONLANG))
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(summary.written for summary in results) == [0, 0, 2601]
    con = connect(postgres_url)
    assert con.table("posts").count().execute() == 399
    assert con.table("votes").count().execute() == 1065


def test_redact_hides_a_password_given_as_a_query_parameter() -> None:
    """postgres://host/db?password=... must not reach logs or error messages."""
    from veedel.warehouse.connection import redact

    url = "postgres://bob@127.0.0.1:9/db?sslmode=disable&password=s3cret"

    shown = redact(url)

    assert "s3cret" not in shown
    assert "sslmode=disable" in shown and "password=***" in shown
    assert "s3cret" not in redact("postgres://bob:s3cret@127.0.0.1:9/db")


def test_duckdb_url_with_a_tilde_opens_under_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """duckdb://~/w.duckdb is a file in $HOME; no folder named '~' appears."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)

    connect("duckdb://~/w.duckdb").disconnect()

    assert (tmp_path / "home" / "w.duckdb").is_file()
    assert not (tmp_path / "~").exists()


def test_check_finds_a_warehouse_named_with_a_tilde(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`warehouse check -w duckdb://~/w.duckdb` opens the file in $HOME."""
    monkeypatch.setenv("HOME", str(tmp_path))
    ingest_stackexchange(connect("duckdb://~/w.duckdb"), CONLANG)

    result = runner.invoke(app, ["warehouse", "check", "-w", "duckdb://~/w.duckdb"])

    assert result.exit_code == 0, result.output
