"""Plan an experiment from the warehouse's history: users and days for an MDE.

The metric is measured on users active in a recent period (default: the last
28 days) as if each had entered an experiment on their first active day in
that period, with the same windows as in a real analysis. Their mean and
variance are the baseline; the users entering per day are the traffic. The
statistics engine turns both into users per variant and days needed.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import ibis
import numpy as np

from veedel.errors import InputError
from veedel.experiments import stats
from veedel.experiments.analysis import require_tables
from veedel.experiments.definitions import ExperimentDefinition
from veedel.experiments.metrics import MetricLibrary, load_metrics
from veedel.experiments.pipeline import compute_cells, maturity_offset
from veedel.experiments.randomisation import MAX_WEIGHT
from veedel.experiments.results import finite_or_none

__all__ = ["PlanResult", "plan_from_history"]

_HISTORY = "history"


@dataclass(frozen=True)
class PlanResult:
    """Users per variant and days needed to detect ``mde`` on ``metric``."""

    metric: str
    name: str
    kind: str
    mde: float
    relative: bool
    alpha: float
    power: float
    weights: tuple[float, ...]
    baseline_mean: float | None
    baseline_sd: float | None
    history_users: int
    daily_users: float | None
    n_per_variant: int | None
    days: int | None
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON-ready values."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _history_definition(start: dt.date, metric: str) -> ExperimentDefinition:
    return ExperimentDefinition.model_validate(
        {
            "key": "plan",
            "name": "Plan",
            "variants": [
                {"key": _HISTORY, "control": True},
                {"key": "unused"},
            ],
            "start": start,
            "metrics": {"primary": [metric]},
        }
    )


def _history_units(con: Any, start: dt.date, as_of: dt.date) -> Any:
    events = con.table("events")
    begin = dt.datetime.combine(start, dt.time())
    stop = dt.datetime.combine(as_of, dt.time()) + dt.timedelta(days=1)
    rows = events.filter(
        events.timestamp >= ibis.literal(begin), events.timestamp < ibis.literal(stop)
    )
    first = rows.group_by(unit_id=rows.user_id).aggregate(first_ts=rows.timestamp.min())
    start_epoch = int(dt.datetime.combine(start, dt.time(), dt.UTC).timestamp())
    day_epoch = first.first_ts.truncate("D").epoch_seconds()
    return first.mutate(
        variant=ibis.literal(_HISTORY),
        day0=first.first_ts.truncate("D"),
        exposure_day=((day_epoch - start_epoch) // 86400).cast("int64"),
    ).select("unit_id", "variant", "first_ts", "day0", "exposure_day")


MAX_LOOKBACK_DAYS = 3650


def _check_inputs(
    mde: float,
    relative: bool,
    alpha: float,
    power: float,
    weights: tuple[float, ...],
    lookback_days: int,
) -> None:
    """Raise an InputError naming the first planner input outside its range."""
    if not (math.isfinite(mde) and mde > 0):
        raise InputError("mde", "must be a positive number", mde)
    if relative and not mde < 10:
        raise InputError(
            "mde", "must be below 10 (1,000 %) when relative", mde,
            fix="Give 0.05 for a 5 % change, or plan an absolute change.",
        )  # fmt: skip
    if not 0 < alpha < 0.5:
        raise InputError("alpha", "must lie between 0 and 0.5", alpha)
    if not 0.5 < power < 1:
        raise InputError("power", "must lie between 0.5 and 1", power)
    if len(weights) < 2 or not all(0 < w <= MAX_WEIGHT for w in weights):
        raise InputError(
            "weights",
            "must be two or more positive finite numbers of at most 1000000",
            list(weights),
        )
    if not 1 <= lookback_days <= MAX_LOOKBACK_DAYS:
        raise InputError(
            "lookback_days",
            f"must lie between 1 and {MAX_LOOKBACK_DAYS}",
            lookback_days,
        )


def plan_from_history(
    con: Any,
    metric: str,
    mde: float,
    *,
    relative: bool = True,
    alpha: float = 0.05,
    power: float = 0.8,
    weights: tuple[float, ...] = (0.5, 0.5),
    lookback_days: int = 28,
    as_of: dt.date | None = None,
    library: MetricLibrary | None = None,
) -> PlanResult:
    """Plan an experiment on ``metric`` to detect ``mde`` (relative by default).

    Parameters
    ----------
    con
        The warehouse.
    metric
        Key of the metric in ``library`` (default: the starter metrics).
    mde
        Minimum detectable effect: a fraction of the baseline when
        ``relative`` (0.05 is 5 %), else in the metric's unit.
    alpha, power
        Significance level and power of the planned two-sided test.
    weights
        Traffic split; the smallest variant decides the days.
    lookback_days
        Days of history that give the baseline and the traffic.
    as_of
        Last day of history; default: the day of the last event.
    """
    _check_inputs(mde, relative, alpha, power, weights, lookback_days)
    library = library or load_metrics()
    definition_metric = library[metric]
    require_tables(con, library, [metric], ["events"])
    if as_of is None:
        last = con.table("events").timestamp.max().to_pandas()
        if last is None:
            raise InputError("events", "must hold some history to plan from", None)
        as_of = last.date()
    start = as_of - dt.timedelta(days=lookback_days - 1)
    definition = _history_definition(start, metric)
    cells = compute_cells(
        con,
        definition,
        library,
        as_of,
        units=_history_units(con, start, as_of),
        subject=(
            f"baseline and daily traffic of {metric} over the {lookback_days} days"
            f" to {as_of} (the plan's history)"
        ),
    )

    frame = cells.frame
    entered = frame[
        frame["exposure_day"] + maturity_offset(definition_metric) <= cells.look_day
    ]
    sums = entered.sum(numeric_only=True)
    n = float(sums.get("n", 0.0))
    # Traffic per day over the days the warehouse has history for: a lookback
    # longer than the data must not dilute it.
    covered = lookback_days - int(frame["exposure_day"].min()) if len(frame) else 0
    daily = float(frame["n"].sum()) / covered if covered > 0 else 0.0
    base = _baseline(definition_metric.kind, metric, sums) if n >= 2 else None
    needed: float | None = None
    problem: str | None = None
    if base is not None:
        try:
            needed = float(
                stats.sample_size_per_arm(
                    base, mde, relative=relative, alpha=alpha, power=power
                )
            )
        except InputError as exc:
            problem = f"{exc.field} {exc.rule}"
    days = None
    if needed is not None and math.isfinite(needed) and daily > 0:
        days = int(float(stats.days_needed(needed, daily, weights=list(weights))))
        days += maturity_offset(definition_metric)
    mean = finite_or_none(base.mean) if base is not None else None
    sd = finite_or_none(np.sqrt(base.variance)) if base is not None else None
    n_per_variant = (
        math.ceil(needed) if needed is not None and math.isfinite(needed) else None
    )
    return PlanResult(
        metric=metric,
        name=definition_metric.name,
        kind=definition_metric.kind,
        mde=mde,
        relative=relative,
        alpha=alpha,
        power=power,
        weights=tuple(weights),
        baseline_mean=mean,
        baseline_sd=sd,
        history_users=int(n),
        daily_users=daily if daily > 0 else None,
        n_per_variant=n_per_variant,
        days=days,
        sentence=_sentence(
            definition_metric.name, mde, relative, n_per_variant, days, daily, problem
        ),
    )


def _baseline(kind: str, key: str, sums: Any) -> stats.Baseline | None:
    def arr(name: str) -> np.ndarray[Any, Any]:
        return np.asarray(sums[name], dtype=np.float64)

    n = arr("n")
    sample = stats.SampleStats(n, arr(f"{key}__y"), arr(f"{key}__yy"))
    try:
        if kind == "proportion":
            return stats.Baseline.for_proportion(sample.mean)
        if kind == "ratio":
            ratio = stats.RatioStats(
                n,
                arr(f"{key}__y"),
                arr(f"{key}__yy"),
                arr(f"{key}__d"),
                arr(f"{key}__dd"),
                arr(f"{key}__yd"),
            )
            return stats.Baseline.for_ratio(ratio)
        return stats.Baseline.for_mean(np.sqrt(sample.variance), sample.mean)
    except InputError:
        return None


def _sentence(
    name: str,
    mde: float,
    relative: bool,
    n: int | None,
    days: int | None,
    daily: float,
    problem: str | None = None,
) -> str:
    change = f"{mde * 100:.3g}%" if relative else f"{mde:g}"
    if problem is not None:
        return (
            f"{name}: a {change} change cannot be planned for ({problem});"
            " choose a smaller --mde."
        )
    if n is None:
        return (
            f"{name}: not enough history in the warehouse to plan for a"
            f" {change} change."
        )
    text = f"To detect a {change} change in {name}: about {n:,} users per variant"
    if days is None:
        return text + "."
    return (
        f"{text}, about {days:,} days at current traffic"
        f" ({daily:,.0f} new users a day)."
    )
