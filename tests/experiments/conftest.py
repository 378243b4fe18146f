"""Fixtures of the experiment tests: a tiny community and a small simulation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from community import EXPERIMENT_YAML, community_frames, load_into

from veedel.experiments.definitions import ExperimentDefinition, load_experiment_text


@pytest.fixture(scope="session")
def frames() -> dict[str, pd.DataFrame]:
    """The tiny community's canonical tables (400 users, seeded)."""
    return community_frames()


@pytest.fixture(scope="session")
def tiny_definition() -> ExperimentDefinition:
    """The tiny community's experiment."""
    return load_experiment_text(EXPERIMENT_YAML)


@pytest.fixture
def tiny_duckdb(frames: dict[str, pd.DataFrame]) -> Iterator[Any]:
    """An in-memory DuckDB holding the tiny community."""
    from veedel.warehouse import connect

    con = connect("duckdb://")
    load_into(con, frames)
    yield con
    con.disconnect()


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A simulated community (6,000 users, 35 days, seed 3) in a DuckDB file."""
    from veedel.warehouse import connect
    from veedel.warehouse.simulator import simulate

    path = Path(tmp_path_factory.mktemp("sim")) / "warehouse.duckdb"
    con = connect(f"duckdb://{path}")
    simulate(con, users=6000, days=35, seed=3)
    con.disconnect()
    return f"duckdb://{path}"
