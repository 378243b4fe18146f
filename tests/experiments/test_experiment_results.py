"""Results: JSON, CSV and HTML exports, the store, and the command line."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from community import AS_OF, EXPERIMENT_YAML, community_frames, load_into
from typer.testing import CliRunner

from veedel.experiments.analysis import analyze
from veedel.experiments.definitions import ExperimentDefinition, load_experiment_text
from veedel.experiments.metrics import starter_metrics
from veedel.experiments.results import ExperimentResult
from veedel.warehouse import connect


@pytest.fixture(scope="module")
def result(tiny_definition: ExperimentDefinition) -> ExperimentResult:
    """The tiny experiment analysed on DuckDB."""
    con = connect("duckdb://")
    load_into(con, community_frames(users=600, doubles=0))
    return analyze(con, tiny_definition, starter_metrics(), AS_OF)


def test_json_round_trip_keeps_every_value(result: ExperimentResult) -> None:
    """to_json -> from_dict gives back the same result; no NaN anywhere."""
    text = result.to_json()
    assert "NaN" not in text
    again = ExperimentResult.from_dict(json.loads(text))
    assert again.to_dict() == result.to_dict()
    assert again.verdict.label == result.verdict.label


def test_result_keeps_a_snapshot_of_definitions(result: ExperimentResult) -> None:
    """The definition and metric definitions used are stored with the result."""
    assert result.definition["key"] == "tiny_test"
    assert set(result.metric_definitions) == {
        "sessions_per_user",
        "reports_per_user",
        "day1_retention",
        "votes_per_post",
        "posting_rate",
    }
    window = result.metric_definitions["sessions_per_user"]["window"]
    assert window == {"start_day": 0, "end_day": 14}


def test_csv_has_one_row_per_metric_and_slice(result: ExperimentResult) -> None:
    """Overall rows then per-city rows, with a header."""
    lines = result.to_csv().strip().splitlines()
    assert lines[0].startswith("metric,name,kind,role")
    assert len(lines) == 1 + len(result.metrics) + len(result.slices)
    assert len(result.slices) == 3 * len(result.metrics)  # three cities


def test_csv_defuses_text_a_spreadsheet_would_run(result: ExperimentResult) -> None:
    """A slice value from the warehouse such as '=HYPERLINK(...)' is written
    with a leading apostrophe; negative numbers are written as numbers."""
    import csv
    import dataclasses
    import io

    hostile = dataclasses.replace(result.slices[0], slice_value="=HYPERLINK(1)")
    edited = dataclasses.replace(result, slices=(hostile, *result.slices[1:]))

    rows = list(csv.DictReader(io.StringIO(edited.to_csv())))
    first_slice = rows[len(result.metrics)]
    assert first_slice["slice_value"] == "'=HYPERLINK(1)"
    # Every lower interval bound is a plain number, negative ones included.
    lowers = [row["absolute_ci_lower"] for row in rows if row["absolute_ci_lower"]]
    assert any(value.startswith("-") for value in lowers)
    assert [float(value) for value in lowers]


def test_terminal_metric_table_fits_80_columns(result: ExperimentResult) -> None:
    """At 80 columns no field of the metric table is cut: each metric's name
    over its role and variant, control over treatment, change over interval,
    outcome over p-value, all whole."""
    from rich.console import Console

    console = Console(width=80, record=True, color_system=None, file=io.StringIO())
    console.print(result)
    text = console.export_text()
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    lines = text.splitlines()
    title = next(i for i, line in enumerate(lines) if line.strip() == "Metrics")
    rows = [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in lines[title:]
        if line.startswith("│")
    ]
    assert len(rows) == 2 * len(result.metrics)
    for item, top, bottom in zip(result.metrics, rows[::2], rows[1::2], strict=True):
        assert item.relative_effect is not None and item.p_value is not None
        assert item.relative_ci_lower is not None and item.relative_ci_upper is not None
        assert top == [
            item.name,
            f"{item.control_value:.4g}",
            f"{item.relative_effect:+.2%}",
            item.outcome,
        ]
        assert bottom == [
            f"{item.role} · {item.variant}",
            f"{item.treatment_value:.4g}",
            f"{item.relative_ci_lower:+.2%} to {item.relative_ci_upper:+.2%}",
            f"p = {item.p_value:.3g}" if item.p_value >= 1e-4 else "p < 0.0001",
        ]


def test_html_report_is_self_contained(result: ExperimentResult) -> None:
    """The report names the verdict and fetches nothing from anywhere."""
    html = result.to_html()
    assert result.verdict.label.replace("'", "&#x27;") in html
    assert "<script" not in html
    assert "http://" not in html and "https://" not in html
    assert "<svg" in html


def test_store_round_trip(result: ExperimentResult, tmp_path: Path) -> None:
    """Definitions and results survive the application store."""
    import veedel.experiments.store as store
    from veedel.store import get_engine, init_store

    engine = get_engine(f"sqlite:///{tmp_path / 'store.sqlite'}")
    init_store(engine)
    definition = ExperimentDefinition.model_validate(result.definition)
    store.save_definition(engine, definition)
    assert store.load_definition(engine, "tiny_test") == definition
    first = store.save_result(engine, result)
    second = store.save_result(engine, result)
    assert second > first
    assert store.latest_result(engine, "tiny_test").to_dict() == result.to_dict()
    assert [row[0] for row in store.list_results(engine, "tiny_test")] == [
        second,
        first,
    ]


@pytest.fixture
def cli_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DuckDB warehouse with the tiny community and its definition on disk."""
    data = Path(str(tmp_path / "veedel-data"))
    (data / "experiments").mkdir(parents=True)
    (data / "experiments" / "tiny.yaml").write_text(EXPERIMENT_YAML, "utf-8")
    path = data / "warehouse.duckdb"
    con = connect(f"duckdb://{path}")
    load_into(con, community_frames(users=600, doubles=0))
    con.disconnect()
    monkeypatch.setenv("VEEDEL_DATA_DIR", str(data))
    return data


def _invoke(*args: str) -> Any:
    from veedel.cli.main import app

    return CliRunner().invoke(app, ["experiments", *args])


def test_cli_analyze_prints_json_and_stores_it(cli_warehouse: Path) -> None:
    """`analyze -f json` prints the result as JSON only, and stores it."""
    outcome = _invoke(
        "analyze", "tiny_test", "--as-of", AS_OF.isoformat(), "-f", "json"
    )
    assert outcome.exit_code == 0, outcome.output
    document = json.loads(outcome.stdout)
    assert document["key"] == "tiny_test"
    assert document["verdict"]["label"]
    assert (cli_warehouse / "store.sqlite").exists()


def test_cli_writes_the_html_report(cli_warehouse: Path, tmp_path: Path) -> None:
    """`-f html -o FILE` writes the report."""
    target = tmp_path / "report.html"
    outcome = _invoke(
        "analyze", "tiny_test", "--as-of", AS_OF.isoformat(), "-f", "html",
        "-o", str(target), "--no-save",
    )  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    assert target.read_text("utf-8").startswith("<!doctype html>")


def test_cli_assign_matches_the_library(cli_warehouse: Path) -> None:
    """`assign USER KEY` prints the variant assign() gives."""
    from veedel.experiments.randomisation import assign

    outcome = _invoke("assign", "u00042", "tiny_test")
    assert outcome.exit_code == 0
    expected = assign("u00042", "tiny_test", {"control": 1, "treatment": 1})
    assert outcome.stdout.strip() == expected


def test_cli_bad_input_is_a_clear_error(cli_warehouse: Path) -> None:
    """A bad date and an unknown key exit with 2 and a sentence, no traceback."""
    outcome = _invoke("analyze", "tiny_test", "--as-of", "2026-02-30")
    assert outcome.exit_code == 2
    assert "--as-of" in outcome.output and "Traceback" not in outcome.output
    outcome = _invoke("show", "nope")
    assert outcome.exit_code == 2
    assert "tiny_test" in outcome.output


def test_cli_plan_uses_the_warehouse_history(cli_warehouse: Path) -> None:
    """`plan` answers in users per variant and days."""
    outcome = _invoke("plan", "--metric", "sessions_per_user", "--mde", "0.1",
                      "-f", "json")  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    plan = json.loads(outcome.stdout)
    assert plan["n_per_variant"] > 0
    assert plan["days"] is not None and plan["days"] >= 13


def test_api_assignment_matches_assign(tmp_path: Path) -> None:
    """The API buckets a user exactly as assign() and the CLI do."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    import veedel.experiments.store as store
    from veedel.api import assignment
    from veedel.experiments.definitions import example_experiments
    from veedel.experiments.randomisation import assign
    from veedel.store import get_engine, init_store

    engine = get_engine(f"sqlite:///{tmp_path / 'store.sqlite'}")
    init_store(engine)
    store.save_definition(engine, example_experiments()["push_notifications"])
    app = FastAPI()
    app.state.store = engine
    app.include_router(assignment.router)
    client = TestClient(app)

    answer = client.get("/api/v1/experiments/push_notifications/assignment/u00042")
    assert answer.status_code == 200
    expected = assign(
        "u00042", "push_notifications", {"control": 0.7, "daily_push": 0.3}
    )
    assert answer.json() == {
        "experiment": "push_notifications",
        "user_id": "u00042",
        "variant": expected,
        "held_out": False,
    }
    assert client.get("/api/v1/experiments/nope/assignment/u1").status_code == 404


def test_cli_show_prints_the_definition_as_yaml(cli_warehouse: Path) -> None:
    """`show KEY` prints YAML that reads back to the definition and its metrics."""
    import yaml

    outcome = _invoke("show", "tiny_test")
    assert outcome.exit_code == 0, outcome.output
    document = yaml.safe_load(outcome.stdout)
    expected = load_experiment_text(EXPERIMENT_YAML).model_dump(mode="json")
    assert document["experiment"] == expected
    assert sorted(document["metrics"]) == sorted(
        ["sessions_per_user", "reports_per_user", "day1_retention",
         "votes_per_post", "posting_rate"]
    )  # fmt: skip
    sessions = starter_metrics()["sessions_per_user"]
    assert document["metrics"]["sessions_per_user"]["name"] == sessions.name


def test_cli_analyze_csv_has_one_row_per_result(cli_warehouse: Path) -> None:
    """`analyze -f csv` prints one row per metric x treatment, then per slice.

    The values are the library's for the same warehouse and date, to the last
    digit (floats are written with their shortest round-trip repr).
    """
    import csv
    import io

    outcome = _invoke(
        "analyze", "tiny_test", "--as-of", AS_OF.isoformat(), "-f", "csv",
        "--no-save",
    )  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    rows = list(csv.DictReader(io.StringIO(outcome.stdout)))
    con = connect(f"duckdb://{cli_warehouse / 'warehouse.duckdb'}")
    expected = analyze(con, load_experiment_text(EXPERIMENT_YAML), None, AS_OF)
    con.disconnect()
    items = [*expected.metrics, *expected.slices]
    assert len(rows) == len(items) == 5 + 5 * 3  # 5 metrics; 3 cities
    for row, item in zip(rows, items, strict=True):
        assert (row["metric"], row["variant"], row["slice_value"]) == (
            item.metric, item.variant, item.slice_value or "",
        )  # fmt: skip
        effect = item.relative_effect
        assert row["relative_effect"] == ("" if effect is None else repr(effect))
        assert row["control_n"] == str(item.control_n)
    # --no-save: nothing stored (the store may exist: it also holds definitions).
    store = cli_warehouse / "store.sqlite"
    if store.exists():
        from veedel.experiments.store import list_results
        from veedel.store import get_engine

        assert list_results(get_engine(f"sqlite:///{store}"), "tiny_test") == []
