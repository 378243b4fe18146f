"""Pieces of the experiment pages: numbers, interval bars, statuses, words."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest

from veedel.experiments.definitions import ExperimentDefinition
from veedel.experiments.metrics import starter_metrics
from veedel.experiments.results import ExperimentResult, HealthCheck, Verdict
from veedel.web.components import (
    format_change,
    format_interval,
    format_relative,
    format_value,
    interval_bar,
    interval_scale,
)
from veedel.web.experiment_views import (
    effect_chart_spec,
    experiment_status,
    metric_sections,
    settings_rows,
)
from veedel.web.metric_words import metric_in_words

Analysed = dict[str, tuple[ExperimentDefinition, ExperimentResult]]
TODAY = dt.date(2026, 3, 1)


def test_numbers_are_formatted_for_people() -> None:
    """Proportions as percent and points, signs on changes, a dash for nothing."""
    assert format_value(0.1234, "proportion") == "12.34 %"
    assert format_value(2.5) == "2.5"
    assert format_value(12345.6) == "12,346"
    assert format_value(None) == "—"
    assert format_value(float("nan")) == "—"
    assert format_change(0.011, "proportion") == "+1.10 pp"
    assert format_change(-0.25) == "-0.25"
    assert format_relative(0.021) == "+2.10 %"
    assert format_interval(0.004, 0.038, relative=True) == "+0.40 % to +3.80 %"
    assert format_interval(None, 0.1, relative=True) == "—"


def test_interval_scale_is_symmetric_and_padded() -> None:
    """The scale is 1.1 x the largest |end|; nothing finite gives 1."""
    assert interval_scale([(-0.02, 0.05), (0.01, 0.03)]) == pytest.approx(0.055)
    assert interval_scale([(None, None)]) == 1.0


def test_interval_bar_places_zero_interval_and_estimate() -> None:
    """Zero is the centre; the interval and the dot sit where the values say."""
    svg = str(interval_bar(0.0, 0.5, 0.25, scale=1.0, outcome="better", text="a <b> c"))
    assert 'class="ibar better"' in svg
    assert 'aria-label="a &lt;b&gt; c"' in svg  # text is escaped
    zero = re.search(r'class="zero" x1="([\d.]+)"', svg)
    rect = re.search(r'class="ci" x="([\d.]+)" y="7" width="([\d.]+)"', svg)
    dot = re.search(r'class="pt" cx="([\d.]+)"', svg)
    assert zero and rect and dot
    # Width 160, centre 80, half-span 74: 0 -> 80, 0.25 -> 98.5, 0.5 -> 117.
    assert float(zero.group(1)) == 80.0
    assert float(rect.group(1)) == 80.0
    assert float(rect.group(2)) == pytest.approx(37.0)
    assert float(dot.group(1)) == pytest.approx(98.5)


def test_interval_bar_clips_and_survives_missing_values() -> None:
    """Ends beyond the scale are clipped; a missing interval draws no bar."""
    clipped = str(interval_bar(-5.0, 5.0, 0.0, scale=1.0, outcome="x", text="t"))
    assert 'x="6.0"' in clipped and 'width="148.0"' in clipped
    empty = str(interval_bar(None, None, None, scale=1.0, outcome="x", text="t"))
    assert 'class="ci"' not in empty and 'class="pt"' not in empty


def _with_decision(result: ExperimentResult, decision: str) -> ExperimentResult:
    verdict = Verdict(decision=decision, sentence="s")  # type: ignore[arg-type]
    return dataclasses.replace(result, verdict=verdict)


@pytest.mark.parametrize(
    ("decision", "end", "badge"),
    [
        ("ship", None, "Ship"),
        ("dont_ship", None, "Don't ship"),
        ("broken", None, "Unhealthy"),
        ("unhealthy", None, "Unhealthy"),
        ("keep_running", None, "Running"),
        ("keep_running", dt.date(2026, 4, 1), "Running"),
        ("keep_running", dt.date(2026, 2, 1), "Ready for review"),
    ],
)
def test_status_badges(
    analysed: Analysed, decision: str, end: dt.date | None, badge: str
) -> None:
    """Each decision maps to one of the five badges; an ended run awaits review."""
    _, result = analysed["aa_check"]
    assert experiment_status(_with_decision(result, decision), end, TODAY).text == badge


def test_a_failed_health_check_is_unhealthy_whatever_the_verdict(
    analysed: Analysed,
) -> None:
    """A failed check wins over a ship verdict."""
    _, result = analysed["onboarding_checklist"]
    failed = HealthCheck("srm", "Sample ratio", "fail", "Off.", "Find the cause.")
    broken = dataclasses.replace(result, health=(*result.health, failed))
    assert experiment_status(broken, None, TODAY).text == "Unhealthy"
    assert experiment_status(None, None, TODAY).text == "Running"
    assert experiment_status(None, dt.date(2026, 1, 1), TODAY).text == (
        "Ready for review"
    )


def test_metric_sections_keep_roles_apart_in_order(analysed: Analysed) -> None:
    """Primary, guardrail and secondary rows are separate, in that order."""
    _, result = analysed["onboarding_checklist"]
    sections = metric_sections(result)
    assert [s.key for s in sections] == [
        role
        for role in ("primary", "guardrail", "secondary")
        if any(m.role == role for m in result.metrics)
    ]
    for section in sections:
        assert {row.item.role for row in section.rows} == {section.key}
    assert sum(len(s.rows) for s in sections) == len(result.metrics)


def test_metric_rows_state_the_p_value_as_a_phrase(analysed: Analysed) -> None:
    """Each row reads 'p = 0.123' or 'p < 0.001' (never 'p = < 0.001')."""
    _, result = analysed["onboarding_checklist"]
    for section in metric_sections(result):
        for row in section.rows:
            p = row.item.p_value
            if p is None:
                assert row.p_value == "p —"
            elif p < 0.001:
                assert row.p_value == "p < 0.001"
            else:
                assert row.p_value == f"p = {p:.3f}"


def test_settings_rows_explain_each_setting(analysed: Analysed) -> None:
    """Alpha, correction, CUPED and sequential each get a value and a sentence."""
    _, result = analysed["onboarding_checklist"]
    rows = {row.key: row for row in settings_rows(result.definition)}
    assert list(rows) == ["alpha", "correction", "cuped", "sequential"]
    alpha = result.definition["analysis"]["alpha"]
    assert rows["alpha"].value == f"{alpha:g}"
    assert all(row.explanation.endswith(".") for row in rows.values())


def test_chart_spec_holds_every_computed_day(analysed: Analysed) -> None:
    """The Vega-Lite spec has one value per daily point with an effect."""
    _, result = analysed["onboarding_checklist"]
    spec = effect_chart_spec(result.daily, {})
    values = spec["data"]["values"]
    assert len(values) == sum(point.effect is not None for point in result.daily)
    assert spec["$schema"].endswith("v5.json")
    assert {layer["mark"]["type"] for layer in spec["spec"]["layer"]} == {
        "area",
        "line",
        "rule",
    }


def test_metric_definitions_in_words() -> None:
    """Windows, filters, kinds and directions are said in words."""
    metrics = starter_metrics()
    day7 = metric_in_words(metrics["day7_retention"])
    assert day7.startswith("The share of users")
    assert "app_open" in day7 and day7.endswith("Higher is better.")
    reports = metric_in_words(metrics["reports_per_user"])
    assert reports.startswith("The average over users")
    assert reports.endswith("Lower is better.")
    ratio = metric_in_words(metrics["votes_per_post"])
    assert "divided by" in ratio
