"""Hostile input to the experiments pages and API: absurd numbers, markup."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from veedel.experiments.definitions import ExperimentDefinition, example_experiments
from veedel.experiments.results import ExperimentResult, MetricResult, Verdict
from veedel.experiments.store import save_definition, save_result


@pytest.mark.parametrize(
    "changes",
    [
        {"weights": [-1, 2]},
        {"weights": [0, 1]},
        {"weights": [1e308, 1e308]},
        {"mde": 1e308},
        {"mde": -0.1},
        {"alpha": 1},
        {"power": 1},
    ],
)
def test_plan_api_refuses_absurd_numbers(
    client: TestClient, viewer: str, changes: dict[str, object]
) -> None:
    """A negative, zero or overflowing weight, MDE or alpha is a 422, not a 500."""
    body = {"metric": "posting_rate", "mde": 0.05, **changes}
    answer = client.post(
        "/api/v1/experiments/plan",
        content=json.dumps(body),
        headers={"X-CSRF-Token": viewer, "Content-Type": "application/json"},
    )
    assert answer.status_code == 422, answer.text


def _primary(metric: str, name: str, better: bool) -> MetricResult:
    return MetricResult(
        metric=metric, name=name, kind="mean", role="primary",
        direction="increase", variant="treatment", control_variant="control",
        slice_name=None, slice_value=None, control_n=900, treatment_n=900,
        control_value=1.0, treatment_value=1.2 if better else 1.0,
        absolute_effect=0.2 if better else 0.0,
        absolute_ci_lower=0.1 if better else -0.1, absolute_ci_upper=0.3,
        relative_effect=0.2 if better else 0.0,
        relative_ci_lower=0.1 if better else -0.1, relative_ci_upper=0.3,
        p_value=0.001 if better else 0.9, significant=better,
        outcome="better" if better else "inconclusive", method="welch",
        sentence=f"{name}: {'rose' if better else 'no clear effect'}.",
    )  # fmt: skip


@pytest.fixture
def shipped_on_second_primary(
    app: FastAPI, analysed: dict[str, tuple[ExperimentDefinition, ExperimentResult]]
) -> str:
    """A stored experiment shipped because of its second primary metric."""
    definition = example_experiments()["feed_ranking_v2"]
    _, template = analysed["onboarding_checklist"]
    result = replace(
        template,
        key=definition.key,
        name=definition.name,
        definition=definition.model_dump(mode="json"),
        metrics=(
            _primary("posts_per_user", "Posts per user", better=False),
            _primary("day7_retention", "Day-7 retention", better=True),
        ),
        health=(),
        verdict=Verdict("ship", "Ship: Day-7 retention improved."),
    )
    save_definition(app.state.store, definition)
    save_result(app.state.store, result)
    return definition.key


def test_list_shows_the_primary_metric_that_decided(
    client: TestClient, viewer: str, shipped_on_second_primary: str
) -> None:
    """Next to Ship, the list shows the metric that improved, not the first one."""
    rows = client.get("/api/v1/experiments").json()
    row = next(item for item in rows if item["key"] == shipped_on_second_primary)
    assert row["decision"] == "ship"
    assert row["primary_metric"] == "day7_retention"
    assert row["primary_outcome"] == "better"

    page = client.get("/experiments").text
    start = page.index(f"/experiments/{shipped_on_second_primary}")
    line = page[start : page.index("</tr>", start)]
    assert "Day-7 retention" in line
    assert "Posts per user" not in line
