"""The experiment page colours and words a change by the metric's good direction."""

from __future__ import annotations

import dataclasses

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from veedel.experiments.definitions import ExperimentDefinition
from veedel.experiments.metrics import starter_metrics
from veedel.experiments.results import ExperimentResult, MetricResult
from veedel.experiments.sentences import metric_sentence, outcome_of
from veedel.experiments.store import save_result

Analysed = dict[str, tuple[ExperimentDefinition, ExperimentResult]]


def _falling(base: MetricResult, key: str) -> MetricResult:
    """``key`` falling from 0.20 to 0.17 a user (-15 %, interval -22 % to -8 %).

    The outcome and the sentence come from the engine's own functions, so the
    page shows what an analysis would have stored for this change.
    """
    metric = starter_metrics()[key]
    row = dataclasses.replace(
        base,
        metric=key,
        name=metric.name,
        kind=metric.kind,
        role="secondary",
        direction="increase" if metric.higher_is_better else "decrease",
        control_value=0.20,
        treatment_value=0.17,
        absolute_effect=-0.03,
        absolute_ci_lower=-0.044,
        absolute_ci_upper=-0.016,
        relative_effect=-0.15,
        relative_ci_lower=-0.22,
        relative_ci_upper=-0.08,
        p_value=0.0004,
        significant=True,
        outcome=outcome_of(metric, True, -0.03, ""),
        reason="",
        margin=0.0,
        guardrail_breached=False,
    )
    return dataclasses.replace(
        row, sentence=metric_sentence(row, alpha=0.05, sequential=False)
    )


def _row_html(page: str, key: str) -> str:
    start = page.index(f'data-metric="{key}"')
    start = page.rindex("<tr", 0, start)
    return page[start : page.index("</tr>", start)]


@pytest.mark.parametrize(
    ("key", "direction", "word"),
    [("reports_per_user", "lower is better", "better"),
     ("sessions_per_user", "higher is better", "worse")],
)  # fmt: skip
def test_a_significant_fall_is_worded_by_the_metrics_direction(
    client: TestClient,
    viewer: str,
    app: FastAPI,
    analysed: Analysed,
    key: str,
    direction: str,
    word: str,
) -> None:
    """Reports falling 15 % is 'better' (class and word); sessions falling, 'worse'."""
    _, result = analysed["onboarding_checklist"]
    kept = tuple(item for item in result.metrics if item.metric != key)
    changed = dataclasses.replace(
        result, metrics=(*kept, _falling(result.metrics[0], key))
    )
    save_result(app.state.store, changed)

    row = _row_html(client.get("/experiments/onboarding_checklist").text, key)

    other = {"better": "worse", "worse": "better"}[word]
    assert f'class="row-{word}"' in row
    assert direction in row
    assert f'<span class="outcome {word}"><span class="dot" aria-hidden="true">' in row
    assert f"</span>{word}</span>" in row
    assert f'<svg class="ibar {word}"' in row
    assert ">-15.00 %<" in row
    assert other not in row.replace(direction, "")
