"""The same analysis gives the same numbers on DuckDB, PostgreSQL and Spark."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from community import AS_OF, community_frames, load_into

from veedel.experiments.analysis import analyze
from veedel.experiments.definitions import ExperimentDefinition
from veedel.experiments.metrics import starter_metrics
from veedel.experiments.pipeline import compute_cells
from veedel.warehouse import connect


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


def _assert_same(reference: Any, other: Any) -> None:
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
    return analyze(con, definition, starter_metrics(), AS_OF)


@pytest.fixture(scope="module")
def on_duckdb(
    small: dict[str, pd.DataFrame], tiny_definition: ExperimentDefinition
) -> Any:
    """The reference analysis on DuckDB."""
    return _run(connect("duckdb://"), small, tiny_definition)


@pytest.mark.postgres
def test_postgres_gives_the_duckdb_numbers(
    postgres_url: str,
    small: dict[str, pd.DataFrame],
    tiny_definition: ExperimentDefinition,
    on_duckdb: Any,
) -> None:
    """Every effect, interval, p-value and daily point agrees to 1e-9."""
    con = connect(postgres_url)
    try:
        _assert_same(on_duckdb, _run(con, small, tiny_definition))
    finally:
        con.disconnect()


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A local one-core Spark session in UTC with its warehouse in a temp folder."""
    pyspark = pytest.importorskip("pyspark.sql")
    folder = tmp_path_factory.mktemp("spark-warehouse")
    session = (
        pyspark.SparkSession.builder.master("local[1]")
        .appName("veedel-experiments-test")
        .config("spark.sql.warehouse.dir", str(folder))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.mark.spark
def test_spark_gives_the_duckdb_numbers(
    spark: Any,
    small: dict[str, pd.DataFrame],
    tiny_definition: ExperimentDefinition,
    on_duckdb: Any,
) -> None:
    """PySpark in local mode gives the same analysis (the same query, run by Spark)."""
    import ibis

    con = ibis.pyspark.connect(spark)
    _assert_same(on_duckdb, _run(con, small, tiny_definition))


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
