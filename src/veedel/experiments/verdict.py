"""The decision rule: Ship, Keep running, Don't ship, Broken, or don't trust yet.

The rule, in order (configurable through ``analysis.decision``):

1. a failed health check: **Don't trust these results yet**, with the reason
   and what to do;
2. a primary metric the engine could not compare: **Broken**;
3. a guardrail significantly worse beyond its non-inferiority margin (when
   ``guardrails_must_hold``): **Don't ship**;
4. at least one primary metric significantly better (``primary: any``; every
   one with ``primary: all``) and none significantly worse: **Ship**; a
   guardrail whose interval still reaches past its margin in the bad direction
   (not shown to hold, only not shown to fail) is named in the sentence and in
   what to do;
5. a primary metric significantly worse: **Don't ship**;
6. nothing significant and the planned power reached, or the end date (plus
   the longest primary window) passed: **Don't ship** (no effect worth
   shipping was found; the sentence says which of the two);
7. otherwise **Keep running**, with about how many days are left to reach the
   users needed to detect the planned minimum effect (``analysis.mde``,
   relative) with ``analysis.power``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from veedel.experiments import stats
from veedel.experiments.definitions import ExperimentDefinition
from veedel.experiments.metrics import Metric, MetricLibrary
from veedel.experiments.pipeline import Cells, maturity_offset
from veedel.experiments.results import HealthCheck, MetricResult, Verdict

__all__ = ["breaches_margin", "days_to_power", "decide"]


def _array(value: Any) -> npt.NDArray[np.float64]:
    return np.asarray(value, dtype=np.float64)


def _baseline(metric: Metric, cells: Cells, key: str, control: str) -> stats.Baseline:
    frame = cells.frame[
        cells.frame["exposure_day"] + maturity_offset(metric) <= cells.look_day
    ]
    sums = frame[frame["variant"] == control].sum(numeric_only=True)
    n = float(sums["n"])
    if metric.kind == "ratio":
        return stats.Baseline.for_ratio(
            stats.RatioStats(
                *(
                    _array(value)
                    for value in (
                        n,
                        sums[f"{key}__y"],
                        sums[f"{key}__yy"],
                        sums[f"{key}__d"],
                        sums[f"{key}__dd"],
                        sums[f"{key}__yd"],
                    )
                )
            )
        )
    sample = stats.SampleStats(
        _array(n), _array(sums[f"{key}__y"]), _array(sums[f"{key}__yy"])
    )
    if metric.kind == "proportion":
        return stats.Baseline.for_proportion(sample.mean)
    return stats.Baseline.for_mean(np.sqrt(sample.variance), sample.mean)


def breaches_margin(
    metric: Metric, ci_lower: float | None, ci_upper: float | None, margin: float
) -> bool:
    """True when a guardrail is significantly worse beyond its margin.

    The whole interval must lie past the margin in the bad direction: for a
    metric where higher is better ``ci_upper < -margin``, otherwise
    ``ci_lower > margin``. An interval that reaches into the margin (even one
    that excludes zero) is no breach; one that ends exactly on it is none
    either. ``None`` ends (nothing computed) are no breach.
    """
    if ci_lower is None or ci_upper is None:
        return False
    if metric.higher_is_better:
        return ci_upper < -margin
    return ci_lower > margin


def days_to_power(
    definition: ExperimentDefinition,
    library: MetricLibrary,
    item: MetricResult,
    cells: Cells,
) -> int | None:
    """About how many more days ``item``'s metric needs to reach planned power.

    ``None`` when it cannot be planned (no baseline yet, no traffic).
    """
    settings = definition.analysis
    metric = library[item.metric]
    try:
        baseline = _baseline(metric, cells, item.metric, definition.control.key)
        needed = stats.sample_size_per_arm(
            baseline,
            settings.mde,
            relative=True,
            alpha=settings.alpha,
            power=settings.power,
        )
    except (ValueError, ZeroDivisionError):
        return None
    needed_n = float(needed)
    entered = cells.frame.groupby("variant")["n"].sum()
    daily = float(entered.sum()) / max(cells.look_day + 1, 1)
    if not math.isfinite(needed_n) or daily <= 0:
        return None
    weights = definition.weights
    shares = [weights[item.control_variant], weights[item.variant]]
    left = stats.days_left(
        needed_n, [item.control_n, item.treatment_n], daily, weights=shares
    )
    days = int(float(left))
    return days + maturity_offset(metric) if days > 0 else 0


def _finished(
    definition: ExperimentDefinition, cells: Cells, library: MetricLibrary
) -> bool:
    if definition.end is None:
        return False
    longest = max(maturity_offset(library[key]) for key in definition.metrics.primary)
    return cells.look_day >= (definition.end - definition.start).days + longest


def decide(
    definition: ExperimentDefinition,
    library: MetricLibrary,
    overall: list[MetricResult],
    health: list[HealthCheck],
    cells: Cells,
) -> Verdict:
    """Apply the decision rule to the overall metric results."""
    failed = [check for check in health if check.failed]
    if failed:
        return Verdict(
            "unhealthy",
            "Don't trust these results yet: " + failed[0].message,
            tuple(check.message for check in failed),
            failed[0].what_to_do,
        )
    primary = [item for item in overall if item.role == "primary"]
    guardrails = [item for item in overall if item.role == "guardrail"]
    broken = [item for item in primary if item.outcome == "not_computed"]
    if broken:
        return Verdict(
            "broken",
            f"{broken[0].name} could not be analysed, so there is no verdict.",
            tuple(item.sentence for item in broken),
            "Fix the metric or the data it reads (see the reason), then analyse again.",
        )
    rule = definition.analysis.decision
    breached = [item for item in guardrails if item.guardrail_breached]
    if breached and rule.guardrails_must_hold:
        return Verdict(
            "dont_ship",
            f"Don't ship: {breached[0].name} got worse beyond its guardrail margin.",
            tuple(item.sentence for item in breached),
            "Find out why the guardrail moved before trying again.",
        )
    return _decide_on_primary(definition, library, primary, guardrails, cells)


def _unsettled(item: MetricResult) -> bool:
    """A guardrail whose interval reaches past its margin in the bad direction."""
    lower, upper = item.relative_ci_lower, item.relative_ci_upper
    if lower is None or upper is None:
        if item.margin > 0:
            return False
        lower, upper = item.absolute_ci_lower, item.absolute_ci_upper
    if lower is None or upper is None:
        return False
    if item.direction == "increase":
        return lower < -item.margin
    return upper > item.margin


def _ship(
    better: list[MetricResult],
    definition: ExperimentDefinition,
    primary: list[MetricResult],
    guardrails: list[MetricResult],
) -> Verdict:
    reasons, first = _leading(better, primary), _named(better[0], definition)
    unsettled = [item for item in guardrails if _unsettled(item)]
    if not unsettled:
        return Verdict(
            "ship",
            f"Ship: {first} improved and no guardrail was hurt.",
            reasons,
        )
    # Not significantly worse is not shown to be safe: say which guardrail's
    # interval still allows more harm than its margin.
    names = ", ".join(_named(item, definition) for item in unsettled)
    return Verdict(
        "ship",
        f"Ship: {first} improved and no guardrail got"
        f" significantly worse, but {names} may still be worse by more than"
        " its margin.",
        (*reasons, *(item.sentence for item in unsettled)),
        f"Look at {names} before shipping; more users would narrow its interval.",
    )


def _named(item: MetricResult, definition: ExperimentDefinition) -> str:
    # With several treatments, say which one moved the metric.
    if len(definition.variants) > 2:
        return f"{item.name} (variant {item.variant})"
    return item.name


def _leading(
    deciding: list[MetricResult], primary: list[MetricResult]
) -> tuple[str, ...]:
    # The sentences of the metrics that decided come first, so a reader sees
    # why next to the verdict, not an unrelated "no clear effect".
    rest = [item for item in primary if item not in deciding]
    return tuple(item.sentence for item in (*deciding, *rest))


def _decide_on_primary(
    definition: ExperimentDefinition,
    library: MetricLibrary,
    primary: list[MetricResult],
    guardrails: list[MetricResult],
    cells: Cells,
) -> Verdict:
    sentences = tuple(item.sentence for item in primary)
    worse = [item for item in primary if item.outcome == "worse"]
    better = [item for item in primary if item.outcome == "better"]
    wanted = len(primary) if definition.analysis.decision.primary == "all" else 1
    if len(better) >= wanted and not worse:
        return _ship(better, definition, primary, guardrails)
    if worse:
        return Verdict(
            "dont_ship",
            f"Don't ship: {_named(worse[0], definition)} got worse.",
            _leading(worse, primary),
            "Keep the control.",
        )
    days = [days_to_power(definition, library, item, cells) for item in primary]
    known = [d for d in days if d is not None]
    left = max(known) if known else None
    mde = f"{definition.analysis.mde:.0%}"
    if left == 0:
        return Verdict(
            "dont_ship",
            "Don't ship: the experiment had enough users to detect the planned"
            f" {mde} change and found no clear effect.",
            sentences,
            "Keep the control, or test a bolder change.",
        )
    if _finished(definition, cells, library):
        return Verdict(
            "dont_ship",
            "Don't ship: the experiment ended without a clear effect, before it"
            f" had the users to detect the planned {mde} change.",
            sentences,
            "Keep the control, or run longer or on more users to test again.",
        )
    about = f"about {left:,} more days" if left is not None else "more time"
    return Verdict(
        "keep_running",
        f"Keep running: no clear effect yet; {about} to reach the planned power.",
        sentences,
        "Look again later; do not stop early on a good-looking day.",
        left,
    )
