"""The decision rule on crafted metric results: one test per branch.

Every case builds the overall results and the warehouse cells by hand, so the
expected verdict (and the days left) follows from the rule in ``verdict.py``
and the planning formula alone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pandas as pd
import pytest

from veedel.experiments.definitions import ExperimentDefinition
from veedel.experiments.metrics import MetricLibrary, starter_metrics
from veedel.experiments.pipeline import Cells
from veedel.experiments.results import HealthCheck, MetricResult
from veedel.experiments.verdict import breaches_margin, decide

# tiny_test: primary sessions_per_user (14-day window), guardrail
# reports_per_user (decrease is good, margin 0.1), 50/50, mde 5 %, power 80 %,
# start 2026-03-02, end 2026-03-15 (13 days later).
HEALTHY = [HealthCheck("srm", "Sample ratio", "pass", "Users match the weights.")]


@pytest.fixture(scope="module")
def library() -> MetricLibrary:
    """The starter metrics."""
    return starter_metrics()


def _cells(look_day: int, n: float, mean: float = 2.0, variance: float = 4.0) -> Cells:
    """One exposure-day-0 cell per variant: ``n`` users, this mean and variance."""
    sum_sq = variance * (n - 1) + n * mean * mean
    frame = pd.DataFrame(
        {
            "variant": ["control", "treatment"],
            "exposure_day": [0, 0],
            "n": [n, n],
            "sessions_per_user__y": [mean * n, mean * n],
            "sessions_per_user__yy": [sum_sq, sum_sq],
        }
    )
    return Cells(
        frame=frame,
        metrics=("sessions_per_user",),
        slices=(),
        look_day=look_day,
        start=dt.date(2026, 3, 2),
        caps={},
        quantile_values={},
    )


def _result(
    metric: str,
    role: str,
    outcome: str,
    ci: tuple[float, float] = (-0.02, 0.04),
    n: int = 1000,
) -> MetricResult:
    low, high = ci
    return MetricResult(
        metric=metric,
        name=metric.replace("_", " ").capitalize(),
        kind="mean",
        role=role,
        direction="decrease" if metric == "reports_per_user" else "increase",
        variant="treatment",
        control_variant="control",
        slice_name=None,
        slice_value=None,
        control_n=n,
        treatment_n=n,
        control_value=2.0,
        treatment_value=2.0 * (1 + (low + high) / 2),
        absolute_effect=2.0 * (low + high) / 2,
        absolute_ci_lower=2.0 * low,
        absolute_ci_upper=2.0 * high,
        relative_effect=(low + high) / 2,
        relative_ci_lower=low,
        relative_ci_upper=high,
        p_value=0.01 if outcome in {"better", "worse"} else 0.4,
        significant=outcome in {"better", "worse"},
        outcome=outcome,  # type: ignore[arg-type]
        method="welch",
        sentence=f"{metric} sentence.",
        reason="too_few_units" if outcome == "not_computed" else "",
    )


def _guardrail(
    library: MetricLibrary, ci: tuple[float, float], margin: float = 0.1
) -> MetricResult:
    metric = library["reports_per_user"]
    worse = ci[0] > 0
    item = _result("reports_per_user", "guardrail", "worse" if worse else "better", ci)
    breached = breaches_margin(metric, ci[0], ci[1], margin)
    return replace(item, margin=margin, guardrail_breached=breached)


def test_breaches_margin_needs_the_whole_interval_past_the_margin(
    library: MetricLibrary,
) -> None:
    """Beyond the margin is a breach; inside it, or ending exactly on it, is not."""
    reports, sessions = library["reports_per_user"], library["sessions_per_user"]
    # Reports (decrease is good), margin 10 %: +12 % to +30 % is past it.
    assert breaches_margin(reports, 0.12, 0.30, 0.1)
    # Significantly worse (excludes 0) but reaching into the margin: no breach.
    assert not breaches_margin(reports, 0.05, 0.30, 0.1)
    # The edge: an interval starting exactly on the margin is not beyond it.
    assert not breaches_margin(reports, 0.1, 0.30, 0.1)
    assert not breaches_margin(reports, -0.30, -0.12, 0.1)  # better is no breach
    # Sessions (increase is good): the mirror image.
    assert breaches_margin(sessions, -0.30, -0.12, 0.1)
    assert not breaches_margin(sessions, -0.30, -0.1, 0.1)
    assert not breaches_margin(sessions, -0.30, -0.05, 0.1)
    assert not breaches_margin(sessions, None, -0.5, 0.1)


def test_guardrail_worse_beyond_its_margin_means_dont_ship(
    tiny_definition: ExperimentDefinition, library: MetricLibrary
) -> None:
    """A better primary does not outweigh a guardrail breached beyond its margin."""
    overall = [
        _result("sessions_per_user", "primary", "better", (0.03, 0.09)),
        _guardrail(library, (0.12, 0.30)),
    ]
    verdict = decide(tiny_definition, library, overall, HEALTHY, _cells(19, 1000))
    assert verdict.decision == "dont_ship"
    assert "guardrail margin" in verdict.sentence
    assert verdict.reasons == ("reports_per_user sentence.",)


def test_guardrail_worse_inside_its_margin_still_ships(
    tiny_definition: ExperimentDefinition, library: MetricLibrary
) -> None:
    """Significantly worse, but not beyond the 10 % margin: no breach, Ship."""
    overall = [
        _result("sessions_per_user", "primary", "better", (0.03, 0.09)),
        _guardrail(library, (0.1, 0.30)),
    ]
    verdict = decide(tiny_definition, library, overall, HEALTHY, _cells(19, 1000))
    assert verdict.decision == "ship"


def test_guardrail_breach_is_ignored_when_the_rule_says_so(
    tiny_definition: ExperimentDefinition, library: MetricLibrary
) -> None:
    """``guardrails_must_hold: false`` lets the primary metric decide."""
    rule = tiny_definition.analysis.decision.model_copy(
        update={"guardrails_must_hold": False}
    )
    settings = tiny_definition.analysis.model_copy(update={"decision": rule})
    definition = tiny_definition.model_copy(update={"analysis": settings})
    overall = [
        _result("sessions_per_user", "primary", "better", (0.03, 0.09)),
        _guardrail(library, (0.12, 0.30)),
    ]
    assert decide(definition, library, overall, HEALTHY, _cells(19, 1000)).decision == (
        "ship"
    )


def test_failed_health_check_comes_before_broken(
    tiny_definition: ExperimentDefinition, library: MetricLibrary
) -> None:
    """A failed check withholds the verdict even when a primary is broken too."""
    failed = HealthCheck("srm", "Sample ratio", "fail", "Too few in treatment.", "Fix")
    overall = [_result("sessions_per_user", "primary", "not_computed")]
    verdict = decide(tiny_definition, library, overall, [failed], _cells(19, 1000))
    assert verdict.decision == "unhealthy"
    assert verdict.sentence == "Don't trust these results yet: Too few in treatment."
    assert verdict.what_to_do == "Fix"


def test_primary_that_could_not_be_compared_is_broken(
    tiny_definition: ExperimentDefinition, library: MetricLibrary
) -> None:
    """A primary metric with a reason code gives Broken, whatever the guardrail."""
    overall = [
        _result("sessions_per_user", "primary", "not_computed"),
        _guardrail(library, (0.12, 0.30)),
    ]
    verdict = decide(tiny_definition, library, overall, HEALTHY, _cells(19, 1000))
    assert verdict.decision == "broken"
    assert verdict.reasons == ("sessions_per_user sentence.",)


def test_primary_worse_means_dont_ship(
    tiny_definition: ExperimentDefinition, library: MetricLibrary
) -> None:
    """A significantly worse primary metric: Don't ship, keep the control."""
    overall = [_result("sessions_per_user", "primary", "worse", (-0.09, -0.03))]
    verdict = decide(tiny_definition, library, overall, HEALTHY, _cells(19, 1000))
    assert verdict.decision == "dont_ship"
    assert verdict.what_to_do == "Keep the control."


def test_keep_running_gives_the_days_of_the_planning_formula(
    tiny_definition: ExperimentDefinition, library: MetricLibrary
) -> None:
    """Nothing significant on day 19: Keep running, 106 + 13 days left.

    By hand: the control's mean is 2 and its variance 4, so a 5 % relative MDE
    is delta = 0.1 and n = 2 s2 (z_0.975 + z_0.8)**2 / delta**2
    = 800 (1.959964 + 0.841621)**2 = 6279.10 per arm. 2,000 users entered in
    20 days: 100 a day, 50 per arm; (6279.10 - 1000) / 50 = 105.6 -> 106 days,
    plus 13 because a user's 14-day window closes on day 13 after exposure.
    (The look day is past 13, so the users' windows are complete.)
    """
    overall = [_result("sessions_per_user", "primary", "inconclusive")]
    verdict = decide(tiny_definition, library, overall, HEALTHY, _cells(19, 1000))
    assert verdict.decision == "keep_running"
    assert verdict.days_left == 119
    assert "about 119 more days" in verdict.sentence


def test_inconclusive_at_planned_power_means_dont_ship(
    tiny_definition: ExperimentDefinition, library: MetricLibrary
) -> None:
    """7,000 users per arm exceed the 6,279 needed: no effect worth shipping."""
    overall = [_result("sessions_per_user", "primary", "inconclusive", n=7000)]
    verdict = decide(tiny_definition, library, overall, HEALTHY, _cells(19, 7000))
    assert verdict.decision == "dont_ship"
    assert "had enough users to detect the planned 5% change" in verdict.sentence


def test_inconclusive_after_the_end_date_means_dont_ship(
    tiny_definition: ExperimentDefinition, library: MetricLibrary
) -> None:
    """Past the end (13 days) plus the 14-day window (13): Don't ship, underpowered.

    On day 26 the experiment is over though it has only 1,000 of the 6,279
    users per arm it needed; on day 25 it is still running.
    """
    overall = [_result("sessions_per_user", "primary", "inconclusive")]
    ended = decide(tiny_definition, library, overall, HEALTHY, _cells(26, 1000))
    assert ended.decision == "dont_ship"
    assert "ended without a clear effect" in ended.sentence
    running = decide(tiny_definition, library, overall, HEALTHY, _cells(25, 1000))
    assert running.decision == "keep_running"


def test_primary_all_needs_every_primary_metric_better(
    tiny_definition: ExperimentDefinition, library: MetricLibrary
) -> None:
    """``primary: all`` with one of two primaries better keeps running."""
    rule = tiny_definition.analysis.decision.model_copy(update={"primary": "all"})
    settings = tiny_definition.analysis.model_copy(update={"decision": rule})
    definition = tiny_definition.model_copy(update={"analysis": settings})
    overall = [
        _result("sessions_per_user", "primary", "better", (0.03, 0.09)),
        _result("sessions_per_user", "primary", "inconclusive"),
    ]
    verdict = decide(definition, library, overall, HEALTHY, _cells(19, 1000))
    assert verdict.decision == "keep_running"
    any_rule = decide(tiny_definition, library, overall, HEALTHY, _cells(19, 1000))
    assert any_rule.decision == "ship"


@pytest.mark.parametrize(
    ("decision", "sentence", "explanation"),
    [
        ("ship", "Ship: Day-7 retention improved.", "Day-7 retention improved."),
        ("keep_running", "Keep running: no clear effect yet.", "No clear effect yet."),
        ("ship", "Day-7 retention improved.", "Day-7 retention improved."),
    ],
)
def test_explanation_drops_the_label_the_page_shows_above_it(
    decision: str, sentence: str, explanation: str
) -> None:
    """Under the label 'Ship' the page reads the reason, not 'Ship: ...' again."""
    from veedel.experiments.results import Verdict

    assert Verdict(decision, sentence).explanation == explanation  # type: ignore[arg-type]


def test_ship_names_a_guardrail_whose_interval_reaches_past_its_margin(
    tiny_definition: ExperimentDefinition, library: MetricLibrary
) -> None:
    """Not significantly worse is not shown to hold: Ship, with the guardrail named.

    Reports (decrease is good, margin 10 %) at -5 % to +65 %: no breach (the
    interval does not lie past +10 %), but its upper end is past the margin.
    """
    overall = [
        _result("sessions_per_user", "primary", "better", (0.03, 0.09)),
        replace(_guardrail(library, (-0.05, 0.65)), name="Reports per user"),
    ]
    verdict = decide(tiny_definition, library, overall, HEALTHY, _cells(19, 1000))
    assert verdict.decision == "ship"
    assert verdict.sentence == (
        "Ship: Sessions per user improved and no guardrail got significantly"
        " worse, but Reports per user may still be worse by more than its margin."
    )
    assert verdict.reasons == (
        "sessions_per_user sentence.",
        "reports_per_user sentence.",
    )
    assert verdict.what_to_do.startswith("Look at Reports per user before")


def test_ship_is_plain_when_every_guardrail_interval_stays_inside_its_margin(
    tiny_definition: ExperimentDefinition, library: MetricLibrary
) -> None:
    """Reports at -8 % to +10 % (the margin, not past it): the plain Ship sentence."""
    overall = [
        _result("sessions_per_user", "primary", "better", (0.03, 0.09)),
        _guardrail(library, (-0.08, 0.1)),
    ]
    verdict = decide(tiny_definition, library, overall, HEALTHY, _cells(19, 1000))
    assert verdict.sentence == (
        "Ship: Sessions per user improved and no guardrail was hurt."
    )
    assert verdict.what_to_do == ""
