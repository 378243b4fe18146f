"""`check_warehouse` and `veedel warehouse check` on DuckDB and PostgreSQL.

A small warehouse is written by hand; the check must pass on it. Broken copies
plant exactly one fault per rule, with hand-counted numbers of offending rows,
and the check must report each with that count and the planted example.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from veedel.cli.warehouse import app as warehouse_app
from veedel.cli.warehouse import demo_step
from veedel.errors import DataError
from veedel.warehouse import TABLES, connect
from veedel.warehouse.check import RULES, check_warehouse

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
NAN = float("nan")


def ts(day: int, hour: int = 12) -> datetime:
    """A naive UTC timestamp in May 2026, before NOW."""
    return datetime(2026, 5, day, hour)


def good_rows() -> dict[str, list[dict[str, Any]]]:
    """A small consistent community: 3 users, 2 channels, 4 posts, 3 votes."""
    return {
        "users": [
            _user("u1", ts(1), "Köln", 50.94, 6.96),
            _user("u2", ts(2), "Berlin", 52.52, 13.40),
            _user("u3", ts(3), None, None, None),
        ],
        "channels": [
            {"channel_id": "c1", "name": "food", "created_at": ts(1)},
            {"channel_id": "c2", "name": "sport", "created_at": ts(1)},
        ],
        "posts": [
            _post("p1", "u1", "c1", None, ts(4), 50.94, 6.96),
            _post("p2", "u2", "c1", "p1", ts(5), 52.52, 13.40),
            _post("p3", "u3", "c2", None, ts(6), None, None),
            _post("p4", "u1", "c1", "p2", ts(7), -33.9, -180.0),
        ],
        "votes": [
            _vote("v1", "p1", "u2", 1, ts(5)),
            _vote("v2", "p1", "u3", -1, ts(6)),
            _vote("v3", "p3", None, 1, ts(7)),
        ],
        "events": [
            _event("e1", "u1", "app_open", ts(4)),
            _event("e2", "u2", "feed_view", ts(5)),
            _event("e3", "u3", "share", ts(6)),
        ],
        "assignments": [
            _assignment("exp1", "u1", "control", ts(2)),
            _assignment("exp1", "u2", "treatment", ts(2)),
            _assignment("exp2", "u3", "a", ts(3)),
        ],
        "exposures": [
            {
                "experiment_id": "exp1",
                "user_id": "u1",
                "variant": "control",
                "exposed_at": ts(3),
            }
        ],
    }


def _user(
    user_id: str,
    created_at: datetime,
    city: str | None,
    latitude: float | None,
    longitude: float | None,
) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "created_at": created_at,
        "city": city,
        "latitude": latitude,
        "longitude": longitude,
        "language": "de",
        "source": "test",
    }


def _post(
    post_id: str,
    user_id: str | None,
    channel_id: str | None,
    parent_id: str | None,
    created_at: datetime | None,
    latitude: float | None,
    longitude: float | None,
) -> dict[str, Any]:
    return {
        "post_id": post_id,
        "user_id": user_id,
        "channel_id": channel_id,
        "parent_id": parent_id,
        "created_at": created_at,
        "latitude": latitude,
        "longitude": longitude,
        "text": f"text of {post_id}",
        "score": 0,
        "source": "test",
    }


def _vote(
    vote_id: str, post_id: str, user_id: str | None, value: int, at: datetime
) -> dict[str, Any]:
    return {
        "vote_id": vote_id,
        "post_id": post_id,
        "user_id": user_id,
        "value": value,
        "created_at": at,
    }


def _event(event_id: str, user_id: str, name: str, at: datetime) -> dict[str, Any]:
    return {"event_id": event_id, "user_id": user_id, "name": name, "timestamp": at}


def _assignment(
    experiment_id: str, user_id: str, variant: str, at: datetime
) -> dict[str, Any]:
    return {
        "experiment_id": experiment_id,
        "user_id": user_id,
        "variant": variant,
        "assigned_at": at,
    }


def arrow_table(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    """Rows as an Arrow table of the canonical schema, every column nullable.

    Nullable so that broken copies can hold the NULLs the check must find.
    """
    schema = TABLES[name].schema.to_pyarrow()
    schema = pa.schema([f.with_nullable(True) for f in schema])
    columns = {f.name: [row.get(f.name) for row in rows] for f in schema}
    return pa.Table.from_pydict(columns, schema=schema)


def write(con: Any, tables: dict[str, pa.Table | list[dict[str, Any]]]) -> None:
    """Create each table in the warehouse (Arrow tables are written as given)."""
    for name, data in tables.items():
        table = data if isinstance(data, pa.Table) else arrow_table(name, data)
        con.create_table(name, table)


# -- warehouses ---------------------------------------------------------------

Warehouse = Callable[[], str]


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def new_warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Warehouse:
    """A factory of empty warehouse URLs on the engine under test."""
    if request.param == "duckdb":
        counter = iter(range(100))
        return lambda: f"duckdb://{tmp_path}/warehouse-{next(counter)}.duckdb"

    url: str = request.getfixturevalue("postgres_url")
    used: list[bool] = []

    def fresh() -> str:
        # One fresh database per test; a second warehouse would need a second one.
        assert not used, "one PostgreSQL warehouse per test"
        used.append(True)
        return url

    return fresh


def make(new_warehouse: Warehouse, rows: dict[str, Any]) -> Any:
    url = new_warehouse()
    con = connect(url)
    write(con, rows)
    return con


def broken_rows() -> dict[str, list[dict[str, Any]]]:
    """The good warehouse plus one planted fault per value rule."""
    rows = good_rows()
    rows["users"] += [
        _user("u2", ts(9), "Berlin", 52.5, 13.4),  # duplicate_key: u2 twice
        _user("u4", ts(9), "Nowhere", 10.0, -181.5),  # longitude out of range
    ]
    rows["posts"] += [
        _post("p5", "u1", "c1", None, None, None, None),  # null created_at
        _post("p6", "u1", "c1", "p404", ts(8), None, None),  # orphan reply
        _post("p7", "u2", "c2", None, ts(8), 91.0, 0.0),  # latitude > 90
        _post("p8", "u2", "c2", None, ts(8), NAN, 0.0),  # latitude NaN
        _post("p9", "ghost", "c2", None, ts(8), None, None),  # unknown user
        _post("p10", "u3", "c404", None, ts(8), None, None),  # unknown channel
    ]
    rows["votes"] += [
        _vote("v4", "p999", "u1", 1, ts(8)),  # orphan vote
        _vote("v5", "p1", "u1", 2, ts(8)),  # bad value
        _vote("v6", "p3", "u1", 0, ts(8)),  # bad value
    ]
    rows["events"] += [
        _event("e4", "u1", "app_open", datetime(2030, 1, 1)),  # in the future
    ]
    rows["assignments"] += [
        _assignment("exp1", "ghost", "control", ts(2)),  # unknown assigned user
        _assignment("exp2", "u3", "b", ts(3)),  # u3 in two variants of exp2
    ]
    rows["exposures"] += [
        {  # u2 was assigned treatment, not control
            "experiment_id": "exp1",
            "user_id": "u2",
            "variant": "control",
            "exposed_at": ts(4),
        }
    ]
    return rows


# -- the check ----------------------------------------------------------------


def test_check_passes_on_a_good_warehouse(new_warehouse: Warehouse) -> None:
    """A consistent warehouse has no violation, no skipped rule and is ok."""
    con = make(new_warehouse, good_rows())

    report = check_warehouse(con, now=NOW)

    assert report.violations == ()
    assert report.skipped == ()
    assert report.ok
    assert report.tables == tuple(TABLES)


def test_check_reports_each_planted_value_fault(new_warehouse: Warehouse) -> None:
    """Each planted fault is found once, with its hand-counted count and example."""
    con = make(new_warehouse, broken_rows())

    report = check_warehouse(con, now=NOW)
    found = {(v.code, v.table, v.column): v for v in report.violations}

    expected = {
        ("duplicate_key", "users", None): (1, {"user_id": "u2", "n_rows": 2}),
        ("coordinate_out_of_range", "users", "longitude"): (
            1,
            {"user_id": "u4", "longitude": -181.5},
        ),
        ("null_value", "posts", "created_at"): (
            1,
            {"post_id": "p5", "created_at": None},
        ),
        ("orphan_reply", "posts", "parent_id"): (
            1,
            {"post_id": "p6", "parent_id": "p404"},
        ),
        ("coordinate_out_of_range", "posts", "latitude"): (
            2,
            {"post_id": "p7", "latitude": 91.0},
        ),
        ("unknown_user", "posts", "user_id"): (
            1,
            {"post_id": "p9", "user_id": "ghost"},
        ),
        ("unknown_channel", "posts", "channel_id"): (
            1,
            {"post_id": "p10", "channel_id": "c404"},
        ),
        ("orphan_vote", "votes", "post_id"): (1, {"vote_id": "v4", "post_id": "p999"}),
        ("bad_vote_value", "votes", "value"): (2, {"vote_id": "v5", "value": 2}),
        ("future_timestamp", "events", "timestamp"): (
            1,
            {"event_id": "e4", "timestamp": "2030-01-01T00:00:00"},
        ),
        ("unknown_assigned_user", "assignments", "user_id"): (
            1,
            {"experiment_id": "exp1", "user_id": "ghost", "variant": "control"},
        ),
        ("multiple_variants", "assignments", "variant"): (
            1,
            {"experiment_id": "exp2", "user_id": "u3", "n_variants": 2},
        ),
        ("exposure_without_assignment", "exposures", None): (
            1,
            {
                "experiment_id": "exp1",
                "user_id": "u2",
                "variant": "control",
                "exposed_at": "2026-05-04T12:00:00",
            },
        ),
    }
    assert sorted(found, key=str) == sorted(expected, key=str)
    for where, (count, first_example) in expected.items():
        violation = found[where]
        assert violation.count == count, where
        assert violation.examples[0] == first_example, where
        assert violation.severity == RULES[violation.code].severity
    assert report.find("bad_vote_value")[0].examples[1] == {"vote_id": "v6", "value": 0}
    assert report.find("coordinate_out_of_range", "posts")[0].examples[1] == {
        "post_id": "p8",
        "latitude": "nan",
    }
    assert report.skipped == ()
    assert not report.ok


def test_check_reports_missing_tables_columns_and_wrong_types(
    new_warehouse: Warehouse,
) -> None:
    """Structural faults are reported and the rules that need them are skipped."""
    rows = good_rows()
    del rows["channels"], rows["exposures"]
    posts = arrow_table("posts", rows.pop("posts")).drop_columns(["city", "image_ref"])
    votes = arrow_table("votes", rows.pop("votes"))
    votes = votes.set_column(
        votes.schema.get_field_index("value"),
        "value",
        pa.array(["1", "-1", "1"]),
    )
    users = arrow_table("users", rows.pop("users"))
    users = users.set_column(
        users.schema.get_field_index("created_at"),
        "created_at",
        pa.array([date(2026, 5, d) for d in (1, 2, 3)]),
    )
    con = make(new_warehouse, {**rows, "posts": posts, "votes": votes, "users": users})

    report = check_warehouse(con, now=NOW)
    found = {(v.code, v.table): v for v in report.violations}

    assert set(found) == {
        ("missing_table", "channels"),
        ("missing_optional_table", "exposures"),
        ("missing_column", "posts"),
        ("wrong_type", "votes"),
        ("wrong_type", "users"),
    }
    assert found["missing_table", "channels"].severity == "error"
    assert found["missing_optional_table", "exposures"].severity == "warning"
    assert found["missing_column", "posts"].count == 2
    assert found["missing_column", "posts"].examples == (
        {"column": "city", "expected": "string"},
        {"column": "image_ref", "expected": "string"},
    )
    assert found["wrong_type", "votes"].examples == (
        {"column": "value", "expected": "int8", "got": "string"},
    )
    assert found["wrong_type", "users"].examples[0]["got"] == "date"
    assert report.skipped == (
        "future_timestamp on users: needs created_at present with the declared type",
        "bad_vote_value on votes: needs value present with the declared type",
    )
    assert not report.ok


def test_check_accepts_wider_integers_and_zoned_timestamps(tmp_path: Path) -> None:
    """Same type family passes: int64 votes and UTC timestamps, as other tools write.

    The zoned column is still compared with the check time: one event is future.
    """
    rows = good_rows()
    rows["events"].append(_event("e9", "u1", "app_open", datetime(2030, 1, 1)))
    votes = arrow_table("votes", rows.pop("votes"))
    index = votes.schema.get_field_index("value")
    votes = votes.set_column(index, "value", votes["value"].cast(pa.int64()))
    events = arrow_table("events", rows.pop("events"))
    index = events.schema.get_field_index("timestamp")
    zoned = events["timestamp"].cast(pa.timestamp("us", tz="UTC"))
    events = events.set_column(index, "timestamp", zoned)
    con = connect(f"duckdb://{tmp_path}/w.duckdb")
    write(con, {**rows, "votes": votes, "events": events})

    report = check_warehouse(con, now=NOW)

    assert con.table("events").timestamp.type().timezone == "UTC"
    assert [(v.code, v.table, v.count) for v in report.violations] == [
        ("future_timestamp", "events", 1)
    ]
    assert report.violations[0].examples[0] == {
        "event_id": "e9",
        "timestamp": "2030-01-01T00:00:00+00:00",
    }


def test_check_on_an_empty_warehouse_lists_every_table() -> None:
    """With no table at all, four required tables are errors, three optional warn."""
    report = check_warehouse(connect("duckdb://"), now=NOW)

    assert [v.code for v in report.errors] == ["missing_table"] * 4
    assert [v.table for v in report.warnings] == ["events", "assignments", "exposures"]


def test_check_takes_a_naive_now_as_utc(tmp_path: Path) -> None:
    """now=naive 2029-12-31 equals now=2029-12-31 UTC; a later event is future."""
    rows = good_rows()
    rows["events"].append(_event("e4", "u1", "app_open", datetime(2030, 1, 1)))
    con = connect(f"duckdb://{tmp_path}/w.duckdb")
    write(con, rows)

    naive = check_warehouse(con, now=datetime(2029, 12, 31))
    aware = check_warehouse(con, now=datetime(2029, 12, 31, tzinfo=UTC))

    assert naive.violations == aware.violations
    assert [v.count for v in naive.find("future_timestamp")] == [1]
    assert check_warehouse(con, now=datetime(2030, 1, 2)).ok


def test_report_round_trips_through_json(tmp_path: Path) -> None:
    """to_json holds ok, counts and every violation with its examples."""
    con = connect(f"duckdb://{tmp_path}/w.duckdb")
    write(con, broken_rows())
    report = check_warehouse(con, now=NOW)

    data = json.loads(report.to_json())

    assert data["ok"] is False
    assert data["n_errors"] == len(report.errors) == 9
    assert data["n_warnings"] == len(report.warnings) == 4
    assert data["checked_at"] == "2026-06-01T12:00:00+00:00"
    first = data["violations"][0]
    assert first == report.violations[0].to_dict()


# -- the command line -----------------------------------------------------------

runner = CliRunner()


def test_cli_check_exits_zero_on_a_good_warehouse(new_warehouse: Warehouse) -> None:
    """`veedel warehouse check` prints the verdict and exits 0 when nothing fails."""
    url = new_warehouse()
    write(connect(url), good_rows())

    result = runner.invoke(warehouse_app, ["check", "--warehouse", url])

    assert result.exit_code == 0, result.output
    assert "Warehouse check passed: 0 errors, 0 warnings." in result.output


def test_cli_check_exits_one_and_writes_json_on_faults(
    new_warehouse: Warehouse,
) -> None:
    """On a broken warehouse the JSON report is printed and the exit code is 1."""
    url = new_warehouse()
    write(connect(url), broken_rows())

    result = runner.invoke(
        warehouse_app, ["check", "--warehouse", url, "--format", "json"]
    )

    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False
    codes = {v["code"] for v in data["violations"]}
    assert codes == set(RULES) - {
        "missing_table",
        "missing_optional_table",
        "missing_column",
        "wrong_type",
    }


def test_cli_check_refuses_a_missing_duckdb_file(tmp_path: Path) -> None:
    """A DuckDB path that does not exist is an error (exit 2), not a new file."""
    path = tmp_path / "nope.duckdb"

    result = runner.invoke(warehouse_app, ["check", "--warehouse", f"duckdb://{path}"])

    assert result.exit_code == 2
    assert "no warehouse" in result.output
    assert not path.exists()


def test_cli_check_rejects_an_unknown_format(tmp_path: Path) -> None:
    """--format accepts only table or json."""
    result = runner.invoke(warehouse_app, ["check", "--format", "xml"])

    assert result.exit_code == 2


def test_demo_step_keeps_the_report_and_fails_on_errors(tmp_path: Path) -> None:
    """The demo step stores the report; a warehouse with errors fails the step."""
    good = SimpleNamespace(
        warehouse=make_duckdb(tmp_path / "good.duckdb", good_rows()), results={}
    )
    broken = SimpleNamespace(
        warehouse=make_duckdb(tmp_path / "broken.duckdb", broken_rows()), results={}
    )

    demo_step(good)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="must pass veedel warehouse check"):
        demo_step(broken)  # type: ignore[arg-type]

    assert good.results["warehouse_check"].ok
    assert len(broken.results["warehouse_check"].errors) == 9


def make_duckdb(path: Path, rows: dict[str, Any]) -> Any:
    con = connect(f"duckdb://{path}")
    write(con, rows)
    return con


def test_cli_check_reports_an_unreachable_server_with_exit_two() -> None:
    """A PostgreSQL URL nobody answers is a clear error (exit 2), no traceback."""
    url = "postgres://nobody:secret@127.0.0.1:9/none"

    result = runner.invoke(warehouse_app, ["check", "--warehouse", url])

    assert result.exit_code == 2
    assert "warehouse_url" in result.output
    assert "secret" not in result.output
