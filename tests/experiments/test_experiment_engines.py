"""The same analysis gives the same numbers on DuckDB, PostgreSQL and Spark.

The definition exercises every engine-facing path at once: means, ratios and
proportions with CUPED, a quantile metric (a per-user histogram query),
sequential testing over the daily looks and a Holm correction over two
primary metrics; unit counts and health checks are compared too.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from community import AS_OF, community_frames, load_into

from veedel.experiments.analysis import analyze
from veedel.experiments.definitions import ExperimentDefinition
from veedel.experiments.metrics import MetricLibrary, load_metric_text, starter_metrics
from veedel.experiments.pipeline import compute_cells
from veedel.warehouse import connect

MEDIAN_SESSIONS = (
    "name: Median sessions\nkind: quantile\nquantile: 0.5\n"
    "numerator: {source: events, aggregate: count,"
    " filter: [{column: name, value: app_open}]}\nwindow: {end_day: 7}"
)


def _library() -> MetricLibrary:
    library = starter_metrics()
    library.add(load_metric_text(MEDIAN_SESSIONS, key="median_sessions"))
    return library


@pytest.fixture(scope="module")
def definition(tiny_definition: ExperimentDefinition) -> ExperimentDefinition:
    """The tiny experiment with a quantile metric, sequential and Holm."""
    metrics = tiny_definition.metrics.model_copy(
        update={
            "primary": ("sessions_per_user", "posting_rate"),
            "secondary": ("day1_retention", "votes_per_post", "median_sessions"),
        }
    )
    settings = tiny_definition.analysis.model_copy(
        update={"sequential": True, "correction": "holm"}
    )
    return tiny_definition.model_copy(update={"metrics": metrics, "analysis": settings})


@pytest.fixture(scope="module")
def small() -> dict[str, pd.DataFrame]:
    """150 users: enough for every code path, small enough for Spark."""
    return community_frames(users=150)


def _numbers(result: Any) -> list[float | None]:
    """Every number of the result's metrics, slices and daily points, in order."""
    values: list[float | None] = []
    for group in (result.metrics, result.slices, result.daily):
        for item in group:
            for value in item.to_dict().values():
                if isinstance(value, bool) or value is None:
                    continue
                if isinstance(value, int | float):
                    values.append(float(value))
    return values


def _health(result: Any) -> list[tuple[str, str, str, float | None]]:
    return [(c.key, c.status, c.message, c.value) for c in result.health]


def _assert_same(reference: Any, other: Any) -> None:
    assert reference.units == other.units
    for a, b in zip(_health(reference), _health(other), strict=True):
        assert a[:3] == b[:3]
        assert (a[3] is None) == (b[3] is None)
        if a[3] is not None and b[3] is not None:
            assert math.isclose(a[3], b[3], rel_tol=1e-9, abs_tol=1e-12)
    left, right = _numbers(reference), _numbers(other)
    assert len(left) == len(right)
    for a, b in zip(left, right, strict=True):
        assert a is not None and b is not None
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    assert [m.sentence for m in reference.metrics] == [
        m.sentence for m in other.metrics
    ]
    assert reference.verdict.decision == other.verdict.decision


def _run(
    con: Any, frames: dict[str, pd.DataFrame], definition: ExperimentDefinition
) -> Any:
    load_into(con, frames)
    return analyze(con, definition, _library(), AS_OF)


@pytest.fixture(scope="module")
def on_duckdb(small: dict[str, pd.DataFrame], definition: ExperimentDefinition) -> Any:
    """The reference analysis on DuckDB."""
    result = _run(connect("duckdb://"), small, definition)
    # The definition reaches the paths it is meant to reach.
    methods = {m.metric: m.method for m in result.metrics}
    assert methods["sessions_per_user"] == "confidence_sequence+holm"
    assert next(m for m in result.metrics if m.metric == "median_sessions").kind == (
        "quantile"
    )
    return result


@pytest.mark.postgres
def test_postgres_gives_the_duckdb_numbers(
    postgres_url: str,
    small: dict[str, pd.DataFrame],
    definition: ExperimentDefinition,
    on_duckdb: Any,
) -> None:
    """Every effect, interval, p-value, daily point, count and check agrees."""
    con = connect(postgres_url)
    try:
        _assert_same(on_duckdb, _run(con, small, definition))
    finally:
        con.disconnect()


def _missing(reason: str) -> None:
    # As in tests/conftest.py: locally a missing engine skips, in CI it fails.
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{reason} (CI must provide it)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A local one-core Spark session in UTC with its warehouse in a temp folder."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        _missing("no PySpark: install the spark extra (uv sync --extra spark)")
    folder = tmp_path_factory.mktemp("spark-warehouse")
    try:
        session = (
            SparkSession.builder.master("local[1]")
            .appName("veedel-experiments-test")
            .config("spark.sql.warehouse.dir", str(folder))
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "1")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .getOrCreate()
        )
    except Exception as exc:  # Py4J/Java errors: no JVM here
        _missing(f"Spark could not start ({type(exc).__name__}: {exc})")
    yield session
    session.stop()


@pytest.mark.spark
def test_spark_gives_the_duckdb_numbers(
    spark: Any,
    small: dict[str, pd.DataFrame],
    definition: ExperimentDefinition,
    on_duckdb: Any,
) -> None:
    """PySpark in local mode gives the same analysis (the same query, run by Spark).

    The tables are in-memory temporary views (writing managed tables cost most
    of this test's time); every query of the analysis still runs in Spark.
    """
    import ibis

    from veedel.warehouse.schema import TABLES

    con = ibis.pyspark.connect(spark)
    for name, frame in small.items():
        schema = TABLES[name].schema
        rows = ibis.memtable(frame[list(schema.names)], schema=schema)
        con.create_view(name, rows, overwrite=True)
    _assert_same(on_duckdb, analyze(con, definition, _library(), AS_OF))


def test_cells_on_duckdb_hold_every_metric(
    small: dict[str, pd.DataFrame], tiny_definition: ExperimentDefinition
) -> None:
    """The one query returns a column per statistic of every metric."""
    con = connect("duckdb://")
    load_into(con, small)
    cells = compute_cells(con, tiny_definition, starter_metrics(), AS_OF)
    for key in tiny_definition.metrics.all_keys:
        assert f"{key}__y" in cells.frame
        assert f"{key}__x" in cells.frame  # the pre-period, for CUPED and balance
    assert "votes_per_post__yd" in cells.frame
