"""Health checks fire on planted faults and stay quiet on a clean experiment."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest
from community import AS_OF, community_frames, load_into

from veedel.experiments.analysis import analyze
from veedel.experiments.definitions import ExperimentDefinition
from veedel.experiments.metrics import load_metric_text, starter_metrics
from veedel.experiments.results import ExperimentResult
from veedel.warehouse import connect


def _analyse(
    frames: dict[str, pd.DataFrame],
    definition: ExperimentDefinition,
    as_of: dt.date = AS_OF,
    library: Any = None,
) -> ExperimentResult:
    con = connect("duckdb://")
    load_into(con, frames)
    return analyze(con, definition, library or starter_metrics(), as_of)


def _status(result: ExperimentResult) -> dict[str, str]:
    return {check.key: check.status for check in result.health}


@pytest.fixture(scope="module")
def clean() -> dict[str, pd.DataFrame]:
    """A tiny community (600 users) without users in two variants."""
    return community_frames(users=600, doubles=0)


def test_clean_experiment_passes_every_check(
    clean: dict[str, pd.DataFrame], tiny_definition: ExperimentDefinition
) -> None:
    """No fault planted: every check passes and a verdict is given."""
    result = _analyse(clean, tiny_definition)
    assert set(_status(result).values()) == {"pass"}
    assert result.verdict.decision != "unhealthy"


def test_users_in_two_variants_fail_the_check(
    frames: dict[str, pd.DataFrame], tiny_definition: ExperimentDefinition
) -> None:
    """1.25 % of users in both variants is above the 1 % limit."""
    result = _analyse(frames, tiny_definition)
    check = next(c for c in result.health if c.key == "multi_variant")
    assert check.status == "fail"
    assert check.value == pytest.approx(5 / 400)
    assert result.verdict.decision == "unhealthy"
    assert result.verdict.label == "Don't trust these results yet"
    assert result.verdict.what_to_do


def test_lost_treatment_users_raise_srm(
    clean: dict[str, pd.DataFrame], tiny_definition: ExperimentDefinition
) -> None:
    """Dropping 40 % of treatment exposures is a sample ratio mismatch."""
    frames = dict(clean)
    exposures = clean["exposures"]
    treated = exposures.index[exposures.variant == "treatment"]
    frames["exposures"] = exposures.drop(treated[: int(0.4 * len(treated))])
    result = _analyse(frames, tiny_definition)
    assert _status(result)["srm"] == "fail"
    assert result.verdict.decision == "unhealthy"


def test_stale_data_fails_freshness(
    clean: dict[str, pd.DataFrame], tiny_definition: ExperimentDefinition
) -> None:
    """Analysing three days past the last event is flagged."""
    result = _analyse(clean, tiny_definition, AS_OF + dt.timedelta(days=3))
    assert _status(result)["freshness"] == "fail"


def test_metric_without_data_is_flagged(
    clean: dict[str, pd.DataFrame], tiny_definition: ExperimentDefinition
) -> None:
    """A metric whose filter matches nothing (a misspelt event) fails the check."""
    library = starter_metrics()
    library.add(
        load_metric_text(
            "name: Shares\nkind: mean\nnumerator: {source: events, aggregate: count,"
            " filter: [{column: name, value: Share}]}\nwindow: {end_day: 7}",
            key="shares",
        )
    )
    definition = tiny_definition.model_copy(
        update={"metrics": tiny_definition.metrics.model_copy(
            update={"secondary": ("shares",)})}
    )  # fmt: skip
    result = _analyse(clean, definition, library=library)
    check = next(c for c in result.health if c.key == "metric_data")
    assert check.status == "fail"
    assert "Shares" in check.message


def test_pre_period_imbalance_is_flagged(
    clean: dict[str, pd.DataFrame], tiny_definition: ExperimentDefinition
) -> None:
    """Treatment users who were far more active before exposure fail the check."""
    frames = dict(clean)
    exposures = clean["exposures"]
    treated = exposures[exposures.variant == "treatment"]
    extra = pd.DataFrame(
        {
            "user_id": treated.user_id.repeat(20).to_numpy(),
            "name": "app_open",
            "timestamp": (treated.exposed_at.dt.floor("D") - pd.Timedelta(hours=30))
            .repeat(20)
            .to_numpy(),
        }
    )
    extra.insert(0, "event_id", [f"x{i}" for i in range(len(extra))])
    extra["properties"] = None
    extra["source"] = "test"
    frames["events"] = pd.concat([clean["events"], extra], ignore_index=True)
    result = _analyse(frames, tiny_definition)
    assert _status(result)["pre_period"] == "fail"


def test_too_early_fails_minimum_sample_size(
    clean: dict[str, pd.DataFrame], tiny_definition: ExperimentDefinition
) -> None:
    """Before any 14-day window has closed there is no sample for the primary."""
    result = _analyse(clean, tiny_definition, tiny_definition.start + dt.timedelta(5))
    assert _status(result)["sample_size"] == "fail"
    assert result.verdict.decision == "unhealthy"
