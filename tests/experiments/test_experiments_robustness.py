"""Hostile and confusing inputs: definitions, verdict wording, CLI output."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, cast

import pytest
from community import EXPERIMENT_YAML

from veedel.errors import ConfigError, DataError, InputError
from veedel.experiments.definitions import example_experiments, load_experiment_text
from veedel.experiments.metrics import starter_metrics
from veedel.experiments.results import MetricResult
from veedel.experiments.verdict import decide


def _primary(metric: str, name: str, outcome: str, sentence: str) -> MetricResult:
    return MetricResult(
        metric=metric,
        name=name,
        kind="mean",
        role="primary",
        direction="increase",
        variant="treatment",
        control_variant="control",
        slice_name=None,
        slice_value=None,
        control_n=1000,
        treatment_n=1000,
        control_value=1.0,
        treatment_value=1.1 if outcome == "better" else 1.0,
        absolute_effect=0.1,
        absolute_ci_lower=0.05,
        absolute_ci_upper=0.15,
        relative_effect=0.1,
        relative_ci_lower=0.05,
        relative_ci_upper=0.15,
        p_value=0.001 if outcome == "better" else 0.6,
        significant=outcome == "better",
        outcome=cast(Any, outcome),
        method="welch",
        sentence=sentence,
    )


FIRST = "Posts per user: no clear effect (95% interval -1% to +2%)."
SECOND = "Day-7 retention rose by 2.0% (95% interval +0.4% to +3.8%)."


def test_ship_on_second_primary_leads_with_the_metric_that_drove_it() -> None:
    """Ship because of the second primary: its sentence comes first, not 'no effect'."""
    definition = example_experiments()["feed_ranking_v2"]
    overall = [
        _primary("posts_per_user", "Posts per user", "none", FIRST),
        _primary("day7_retention", "Day-7 retention", "better", SECOND),
    ]
    verdict = decide(definition, starter_metrics(), overall, [], cast(Any, None))

    assert verdict.decision == "ship"
    assert "Day-7 retention" in verdict.sentence
    assert verdict.reasons == (SECOND, FIRST)


def test_demo_summary_row_names_the_metric_behind_the_verdict() -> None:
    """The demo table's row pairs 'Ship' with the deciding metric's sentence."""
    from veedel.cli.experiments import summary_row

    definition = example_experiments()["feed_ranking_v2"]
    overall = [
        _primary("posts_per_user", "Posts per user", "none", FIRST),
        _primary("day7_retention", "Day-7 retention", "better", SECOND),
    ]
    verdict = decide(definition, starter_metrics(), overall, [], cast(Any, None))
    key, label, why = summary_row("feed_ranking_v2", verdict)

    assert (key, label) == ("feed_ranking_v2", "Ship")
    assert why.startswith(verdict.explanation)
    assert SECOND in why
    assert FIRST not in why


def test_demo_step_reports_an_experiment_outside_the_days_and_runs_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Seven simulated days end before three experiments start (day 7): each
    gets a 'not analysed' row with its reason, and the fourth, ASOS and Upworthy
    are still analysed instead of the whole step failing."""
    from veedel.api.state import open_store
    from veedel.cli.demo import DemoContext
    from veedel.cli.experiments import demo_step
    from veedel.experiments.store import list_definitions
    from veedel.settings import Settings
    from veedel.warehouse import connect
    from veedel.warehouse.simulator import simulate

    settings = Settings(data_dir=tmp_path)
    con = connect(f"duckdb://{tmp_path / 'warehouse.duckdb'}")
    simulate(con, users=200, days=7, seed=5)
    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    ctx = DemoContext(settings, con, store, users=200, days=7, seed=5)

    demo_step(ctx)

    out = capsys.readouterr().out
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in out.splitlines()
        if line.startswith("│ ") and line.split("│")[1].strip()
    }
    for key in ("aa_check", "feed_ranking_v2", "push_notifications"):
        assert rows[key] == "not analysed"
    assert rows["onboarding_checklist"] != "not analysed"
    assert "does not fit the 7 simulated days" in out
    assert "ASOS: 78 experiments" in out
    assert ctx.results["experiments"]["asos"]["experiments"] == 78
    assert [d.key for d in list_definitions(store)] == ["onboarding_checklist"]


def _feed_yaml(**changes: Any) -> str:
    import yaml

    data = example_experiments()["feed_ranking_v2"].model_dump(mode="json")
    data.update(changes)
    return yaml.safe_dump(data)


@pytest.mark.parametrize("weight", [float("inf"), float("nan")])
def test_experiment_refuses_a_weight_that_is_not_finite(weight: float) -> None:
    """An infinite weight would turn every share into NaN; it is refused."""
    variants = [
        {"key": "control", "weight": weight, "control": True},
        {"key": "treatment", "weight": 1.0},
    ]
    with pytest.raises(ConfigError, match=r"variants\.0\.weight"):
        load_experiment_text(_feed_yaml(variants=variants))


@pytest.mark.parametrize("field", ["name", "owner"])
def test_experiment_text_fields_fit_the_store_columns(field: str) -> None:
    """Name and owner longer than the store's 200 characters are refused on load.

    PostgreSQL refuses a longer value with a database error at save time.
    """
    load_experiment_text(_feed_yaml(**{field: "x" * 200}))
    with pytest.raises(ConfigError, match=field):
        load_experiment_text(_feed_yaml(**{field: "x" * 201}))


@pytest.fixture
def empty_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder whose DuckDB warehouse holds no tables at all."""
    from veedel.warehouse import connect

    data = tmp_path / "veedel-data"
    (data / "experiments").mkdir(parents=True)
    (data / "experiments" / "tiny.yaml").write_text(EXPERIMENT_YAML, "utf-8")
    con = connect(f"duckdb://{data / 'warehouse.duckdb'}")
    con.disconnect()
    monkeypatch.setenv("VEEDEL_DATA_DIR", str(data))
    return data


def test_analyze_on_an_empty_warehouse_names_the_missing_tables() -> None:
    """No canonical tables: a DataError naming them, not an Ibis TableNotFound."""
    from veedel.experiments.analysis import analyze
    from veedel.warehouse import connect

    con = connect("duckdb://")
    with pytest.raises(DataError, match="events") as caught:
        analyze(con, load_experiment_text(EXPERIMENT_YAML), starter_metrics())
    assert "exposures" in str(caught.value)


@pytest.mark.parametrize("output_format", ["table", "json", "csv", "html"])
def test_cli_analyze_on_an_empty_warehouse_is_a_message(
    empty_warehouse: Path, output_format: str
) -> None:
    """Every --format: exit code 2 and a sentence, never a traceback."""
    from typer.testing import CliRunner

    from veedel.cli.main import app

    outcome = CliRunner().invoke(
        app,
        ["experiments", "analyze", "tiny_test", "-f", output_format, "--no-save"],
    )
    assert outcome.exit_code == 2, outcome.output
    assert "Traceback" not in outcome.output
    assert "warehouse" in outcome.output


def test_plan_on_a_warehouse_without_the_metric_tables_names_them() -> None:
    """Only Reddit posts loaded: a DataError naming events, not TableNotFound."""
    import pyarrow as pa

    from veedel.experiments.planning import plan_from_history
    from veedel.warehouse import connect
    from veedel.warehouse.load import load

    con = connect("duckdb://")
    posts = pa.table(
        {"post_id": ["reddit:a1"], "created_at": [dt.datetime(2025, 1, 1)]}
    )
    load(con, [("posts", posts)])

    with pytest.raises(DataError, match="missing events") as caught:
        plan_from_history(con, "posts_per_user", 0.05)
    assert "posts" not in str(caught.value).split("missing")[1]


def test_cli_plan_on_an_empty_warehouse_is_a_message(empty_warehouse: Path) -> None:
    """`plan` before any data: exit code 2 and a sentence, never a traceback."""
    from typer.testing import CliRunner

    from veedel.cli.main import app

    outcome = CliRunner().invoke(
        app,
        ["experiments", "plan", "-m", "day7_retention", "--mde", "0.02"],
        env={"COLUMNS": "200"},
    )
    assert outcome.exit_code == 2, outcome.output
    assert "Traceback" not in outcome.output
    # The console's width is fixed when it is first made, so lines may wrap.
    assert "missing events" in " ".join(outcome.output.split())


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("mde", {"mde": 1e308}),
        ("mde", {"mde": float("inf")}),
        ("alpha", {"alpha": 1.0}),
        ("alpha", {"alpha": 0.0}),
        ("power", {"power": 1.0}),
        ("weights", {"weights": (float("inf"), 1.0)}),
        ("weights", {"weights": (float("nan"), 1.0)}),
        ("lookback_days", {"lookback_days": 100_000_000}),
    ],
)
def test_plan_refuses_absurd_inputs_naming_the_field(
    tiny_duckdb: Any, field: str, changes: dict[str, Any]
) -> None:
    """Absurd planner inputs are InputErrors, not 'not enough history' or a crash."""
    from veedel.experiments.planning import plan_from_history

    arguments: dict[str, Any] = {"mde": 0.05, **changes}
    mde = arguments.pop("mde")
    with pytest.raises(InputError) as caught:
        plan_from_history(tiny_duckdb, "posting_rate", mde, **arguments)
    assert caught.value.field == field


def test_cli_plan_refuses_an_unknown_format(empty_warehouse: Path) -> None:
    """`plan -f xml` is refused, not answered as a table."""
    from typer.testing import CliRunner

    from veedel.cli.main import app

    outcome = CliRunner().invoke(
        app, ["experiments", "plan", "-m", "posting_rate", "-f", "xml"]
    )
    assert outcome.exit_code == 2
    assert "xml" in outcome.output


def test_cli_list_shows_the_latest_stored_verdict(
    empty_warehouse: Path, tiny_duckdb: Any
) -> None:
    """`list` tells a product manager where each experiment stands."""
    from dataclasses import replace

    from typer.testing import CliRunner

    from veedel.cli.main import app
    from veedel.experiments.analysis import analyze
    from veedel.experiments.results import Verdict
    from veedel.experiments.store import save_result
    from veedel.store import get_engine, init_store

    definition = load_experiment_text(EXPERIMENT_YAML)
    result = analyze(tiny_duckdb, definition, starter_metrics(), daily=False)
    shipped = replace(result, verdict=Verdict("ship", "Ship: Zz improved."))
    engine = get_engine(f"sqlite:///{empty_warehouse / 'store.sqlite'}")
    init_store(engine)
    save_result(engine, shipped)
    engine.dispose()

    outcome = CliRunner().invoke(app, ["experiments", "list"], env={"COLUMNS": "80"})
    assert outcome.exit_code == 0, outcome.output
    assert "Ship" in outcome.output
    assert "Zz" in outcome.output
    # At 80 columns nothing is cut and the key stays whole on its line.
    assert max(len(line) for line in outcome.output.splitlines()) <= 80
    assert re.search(rf"│ {definition.key}\s", outcome.output), outcome.output


@pytest.mark.parametrize("target", ["missing-folder/report.html", "."])
def test_cli_analyze_to_an_unwritable_output_is_a_message(
    empty_warehouse: Path, tmp_path: Path, target: str
) -> None:
    """-o into a missing folder or onto a folder: exit 2 naming --output."""
    from typer.testing import CliRunner

    from veedel.cli.main import app

    outcome = CliRunner().invoke(
        app,
        ["experiments", "analyze", "tiny_test", "-f", "html", "--no-save",
         "-o", str(tmp_path / target)],
    )  # fmt: skip
    assert outcome.exit_code == 2, outcome.output
    assert "Traceback" not in outcome.output
    assert "--output" in outcome.output


def test_real_data_refuses_a_file_that_is_not_parquet(tmp_path: Path) -> None:
    """A text file given as the archive is a DataError naming the path."""
    from veedel.experiments.real_data import load_upworthy

    fake = tmp_path / "upworthy.parquet"
    fake.write_text("not parquet at all\n", "utf-8")
    with pytest.raises(DataError, match="parquet"):
        load_upworthy(fake)


def test_analyze_refuses_an_as_of_past_any_real_experiment(tiny_duckdb: Any) -> None:
    """--as-of 9999-12-31 is an InputError, not a date OverflowError."""
    import datetime as dt

    from veedel.experiments.analysis import analyze

    definition = load_experiment_text(EXPERIMENT_YAML)
    with pytest.raises(InputError) as caught:
        analyze(tiny_duckdb, definition, starter_metrics(), dt.date(9999, 12, 31))
    assert caught.value.field == "as_of"
