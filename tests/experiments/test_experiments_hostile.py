"""Hostile definitions and inputs: each gets a clear error or an honest result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from veedel.errors import ConfigError, InputError
from veedel.experiments.definitions import load_experiment_text, load_experiments
from veedel.experiments.metrics import load_metric_file, load_metric_text
from veedel.experiments.planning import plan_from_history
from veedel.experiments.randomisation import assign

_MEAN = "name: X\nkind: mean\n"


@pytest.mark.parametrize(
    ("numerator", "message"),
    [
        (
            "{source: events, filter: [{column: name, op: gt, value: 5}]}",
            "column 'name' (string) needs text",
        ),
        (
            "{source: events, filter: [{column: timestamp, op: gt, value: x}]}",
            "needs a date or date-time",
        ),
        (
            "{source: votes_cast, filter: [{column: value, op: in, value: [1, a]}]}",
            "needs a finite number; got 'a'",
        ),
        (
            "{source: events, aggregate: sum, column: name}",
            "aggregate sum needs a numeric column; column 'name'",
        ),
        (
            "{source: events, aggregate: max, column: timestamp}",
            "aggregate max needs a numeric column",
        ),
    ],
)
def test_metric_column_types_are_checked_on_load(numerator: str, message: str) -> None:
    """A filter value or an aggregated column of the wrong type fails on load.

    Before, these loaded and the analysis died in Ibis or DuckDB.
    """
    with pytest.raises(ConfigError, match="numerator must be valid") as info:
        load_metric_text(f"{_MEAN}numerator: {numerator}\n", key="x")
    assert message in str(info.value)


def test_metric_filter_on_a_timestamp_takes_an_unquoted_date() -> None:
    """An unquoted YAML date is a valid filter value for a timestamp column."""
    metric = load_metric_text(
        f"{_MEAN}numerator: {{source: events, filter:"
        " [{column: timestamp, op: ge, value: 2025-01-10}]}\n",
        key="x",
    )
    assert str(metric.numerator.filter[0].value) == "2025-01-10"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ("capping: {value: .inf}\n", "capping.value"),
        ("window: {start_day: 0, end_day: 100000000}\n", "window.end_day"),
    ],
)
def test_metric_refuses_infinite_caps_and_absurd_windows(
    extra: str, field: str
) -> None:
    """An infinite cap and a window past ten years are refused, naming the field."""
    with pytest.raises(ConfigError, match=field):
        load_metric_text(f"{_MEAN}numerator: {{source: events}}\n{extra}", key="x")


def test_oversized_definition_file_is_refused_before_parsing(tmp_path: Path) -> None:
    """A 2 MB file is refused by size (parsing it took minutes), naming the size."""
    path = tmp_path / "big.yaml"
    path.write_text(_MEAN + "description: " + "x" * 2_000_000 + "\n")
    with pytest.raises(ConfigError, match="must be at most 1,000,000 bytes"):
        load_metric_file(path)


def test_yaml_alias_bomb_gives_a_short_message() -> None:
    """Nested aliases expand to 10^6 strings; the error quotes only a short excerpt."""
    levels = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 6):
        refs = ",".join([f"*a{i - 1}"] * 10)
        levels.append(f"a{i}: &a{i} [{refs}]")
    text = "\n".join(levels) + "\nname: *a5\nkind: mean\nnumerator: {source: events}\n"
    with pytest.raises(ConfigError, match="name must be valid") as info:
        load_metric_text(text, key="x")
    assert len(str(info.value)) < 5_000


def test_yaml_syntax_error_names_line_and_column() -> None:
    """A YAML syntax error says where it is, not only 'while parsing'."""
    with pytest.raises(ConfigError, match=r"line 2, column 1"):
        load_metric_text("name: [unclosed\n", key="x")


_EXPERIMENT = """
key: {key}
name: T
variants:
  - {{key: control, control: true}}
  - {{key: b}}
start: 2025-01-06
metrics:
  {metrics}
"""


def test_experiment_metric_listed_twice_is_refused() -> None:
    """A metric in two roles (or twice as primary) is refused, naming it."""
    text = _EXPERIMENT.format(
        key="dup",
        metrics="primary: [posts_per_user]\n  guardrails: [posts_per_user]",
    )
    with pytest.raises(
        ConfigError, match=r"\(those repeated are shown\); got \['posts_per_user'\]"
    ):
        load_experiment_text(text)


_BOOLEAN_RULE = "must be true or false (a boolean, not text or a number)"
_NUMBER_RULE = "must be a number, not true or false"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "control: true",
            'control: "yes"',
            f"variants.0.control {_BOOLEAN_RULE}; got 'yes'",
        ),
        ("control: true", "control: 1", f"variants.0.control {_BOOLEAN_RULE}; got 1"),
        (
            "start: 2025-01-06",
            "start: 2025-01-06\nanalysis: {sequential: 'false'}",
            f"analysis.sequential {_BOOLEAN_RULE}; got 'false'",
        ),
        (
            "start: 2025-01-06",
            "start: 2025-01-06\nanalysis: {cuped: {enabled: 'on'}}",
            f"analysis.cuped.enabled {_BOOLEAN_RULE}; got 'on'",
        ),
        (
            "{key: b}",
            "{key: b, weight: true}",
            f"variants.1.weight {_NUMBER_RULE}; got True",
        ),
    ],
)
def test_experiment_booleans_are_strict(old: str, new: str, message: str) -> None:
    """A boolean field takes only true or false, a number field no boolean; the
    error names the field, the rule and the value (pydantic alone read the text
    'yes' as true and true as the weight 1)."""
    text = _EXPERIMENT.format(key="b", metrics="primary: [posts_per_user]")
    assert old in text
    with pytest.raises(ConfigError) as caught:
        load_experiment_text(text.replace(old, new, 1))
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("window: {start_day: true}", f"window.start_day {_NUMBER_RULE}; got True"),
        ("minimum_sample_size: false", f"minimum_sample_size {_NUMBER_RULE}"),
    ],
)
def test_metric_numbers_refuse_booleans(extra: str, message: str) -> None:
    """A metric's number fields take no true or false (it read as 1 or 0)."""
    with pytest.raises(ConfigError) as caught:
        load_metric_text(f"{_MEAN}numerator: {{source: events}}\n{extra}", key="x")
    assert message in str(caught.value)


def test_two_experiment_files_with_one_key_are_refused(tmp_path: Path) -> None:
    """Two files of the same key are an error even next to the shipped examples.

    Before, the second silently replaced the first. A file may still replace a
    shipped example.
    """
    body = _EXPERIMENT.format(key="same", metrics="primary: [posts_per_user]")
    (tmp_path / "a.yaml").write_text(body)
    (tmp_path / "b.yaml").write_text(body)
    with pytest.raises(ConfigError, match="must be unique across experiments"):
        load_experiments(tmp_path)
    (tmp_path / "b.yaml").write_text(
        _EXPERIMENT.format(key="aa_check", metrics="primary: [posts_per_user]")
    )
    assert load_experiments(tmp_path)["aa_check"].name == "T"


def test_assign_refuses_an_empty_user_id() -> None:
    """An empty or blank user id is an InputError, not a bucket."""
    with pytest.raises(InputError, match="user_id must not be empty"):
        assign("  ", "exp", {"control": 1, "treatment": 1})


def test_plan_traffic_ignores_lookback_days_without_data(tiny_duckdb: Any) -> None:
    """Daily traffic divides by the days with history, not by --lookback.

    Before, a lookback of 3650 days over 4 weeks of data divided the traffic
    by 3650 and planned a hundred times too many days.
    """
    short = plan_from_history(tiny_duckdb, "sessions_per_user", 0.5, lookback_days=60)
    long = plan_from_history(tiny_duckdb, "sessions_per_user", 0.5, lookback_days=3650)
    assert short.daily_users is not None
    assert long.daily_users == pytest.approx(short.daily_users, rel=1e-12)
    assert long.days == short.days


def test_plan_log_line_names_the_history_it_reads(
    tiny_duckdb: Any, veedel_log: pytest.LogCaptureFixture
) -> None:
    """The plan's log line says it reads the metric's history, not 'of plan'."""
    plan_from_history(tiny_duckdb, "sessions_per_user", 0.5, lookback_days=60)
    lines = [r.getMessage() for r in veedel_log.records if r.name.endswith(".pipeline")]
    assert len(lines) == 1
    assert lines[0].startswith(
        "Computing the baseline and daily traffic of sessions_per_user over the"
        " 60 days to "
    )
    assert "sufficient statistics of plan" not in lines[0]


def test_plan_names_an_impossible_mde() -> None:
    """An MDE that takes a rate past 1 is named, not 'not enough history'."""
    from veedel.experiments.planning import _sentence

    text = _sentence("Day-7 retention", 2.0, False, None, None, 10.0, "mde too big")
    assert "cannot be planned for (mde too big)" in text
    assert "1e-05%" in _sentence("D", 1e-7, True, 5, 3, 10.0)


@pytest.fixture
def cli_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DuckDB warehouse with the tiny community; the experiment named with markup."""
    from community import EXPERIMENT_YAML, community_frames, load_into

    from veedel.warehouse import connect

    data = tmp_path / "veedel-data"
    (data / "experiments").mkdir(parents=True)
    lines = [
        "name: '[bold]Zq[/bold]'" if line.startswith("name:") else line
        for line in EXPERIMENT_YAML.splitlines()
    ]
    (data / "experiments" / "tiny.yaml").write_text("\n".join(lines), "utf-8")
    con = connect(f"duckdb://{data / 'warehouse.duckdb'}")
    load_into(con, community_frames(users=300, doubles=0))
    con.disconnect()
    monkeypatch.setenv("VEEDEL_DATA_DIR", str(data))
    return data


def test_cli_analyze_output_failing_on_write_is_a_message(
    cli_warehouse: Path,
) -> None:
    """-o /dev/full passes the up-front check and fails on writing: exit 2, no trace.

    The terminal rendering also prints the name as written: Rich read
    "[bold]Zq[/bold]" as markup and showed "Zq".
    """
    from typer.testing import CliRunner

    from veedel.cli.main import app

    runner = CliRunner()
    table = runner.invoke(app, ["experiments", "analyze", "tiny_test", "--no-save"])
    assert table.exit_code == 0, table.output
    assert "[bold]Zq[/bold] (tiny_test)" in table.output
    listed = runner.invoke(app, ["experiments", "list"])
    assert "[bold]" in listed.output
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    outcome = runner.invoke(
        app,
        ["experiments", "analyze", "tiny_test", "-f", "csv", "--no-save",
         "-o", "/dev/full"],
    )  # fmt: skip
    assert outcome.exit_code == 2, outcome.output
    assert "Traceback" not in outcome.output
    assert "--output must be a file that can be written" in outcome.output


def test_srm_check_fails_on_users_in_variants_the_definition_lacks() -> None:
    """Users in an unnamed variant (a misspelt key) fail the check, with the count.

    Before, 1,538 control users of a definition calling the control 'ctl' were
    dropped silently and the check reported only 'ctl 0'.
    """
    from veedel.experiments.health import format_p, srm_check
    from veedel.experiments.pipeline import UnitCounts

    definition = load_experiment_text(
        _EXPERIMENT.format(key="x", metrics="primary: [posts_per_user]")
    )
    check = srm_check(definition, UnitCounts({"control": 500, "b": 480}, 0, 700))
    assert check.status == "fail"
    assert "700 users are in variants the definition does not name" in check.message
    fine = srm_check(definition, UnitCounts({"control": 500, "b": 480}, 0, 3))
    assert fine.status == "pass"
    assert format_p(0.0) == "p < 0.0001"
    assert format_p(0.17) == "p = 0.17"


@pytest.mark.parametrize("method", ["bonferroni", "holm", "bh"])
def test_adjust_pvalues_of_an_empty_family_is_empty(method: str) -> None:
    """No p-values adjust to no p-values (numpy's reshape error before)."""
    from veedel.experiments.stats import adjust_pvalues

    assert adjust_pvalues([], method).shape == (0,)
