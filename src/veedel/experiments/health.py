"""Health checks that run before any verdict.

A failed check means the numbers may be wrong, not that the feature is bad:
the verdict is replaced by "Don't trust these results yet" with the reason and
what to do. The checks:

``srm``
    sample ratio mismatch: users per variant against the configured weights
    (chi-square, alarm below ``analysis.srm_threshold``, default 0.001);
``multi_variant``
    users seen in more than one variant (excluded); fails above 1 %;
``sample_size``
    every primary metric has its minimum sample size in every variant;
``pre_period``
    the variants did not already differ before exposure (the primary
    metrics over the pre-period; fails at p < 0.001);
``freshness``
    the last event is no older than ``analysis.freshness_hours`` before the
    end of the analysis day;
``metric_data``
    every metric has data (some user with a non-zero value).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd

from veedel.experiments import stats
from veedel.experiments.definitions import ExperimentDefinition
from veedel.experiments.metrics import MetricLibrary
from veedel.experiments.pipeline import Cells, UnitCounts, maturity_offset
from veedel.experiments.results import HealthCheck, MetricResult

__all__ = ["MULTI_VARIANT_LIMIT", "PRE_PERIOD_THRESHOLD", "run_health_checks"]

MULTI_VARIANT_LIMIT = 0.01
PRE_PERIOD_THRESHOLD = 0.001


def format_p(p_value: float) -> str:
    """``p = 0.17`` or ``p < 0.0001`` (a p-value that underflowed is not 0)."""
    if p_value < 1e-4:
        return "p < 0.0001"
    return f"p = {p_value:.2g}"


def srm_check(definition: ExperimentDefinition, counts: UnitCounts) -> HealthCheck:
    """Sample ratio mismatch of users per variant against the weights."""
    keys = [v.key for v in definition.variants]
    observed = np.array([counts.assigned.get(key, 0) for key in keys], dtype=float)
    title = "Sample ratio"
    if observed.sum() == 0:
        return HealthCheck(
            "srm",
            title,
            "fail",
            "No users are in the experiment yet.",
            "Check that the app logs exposures with the experiment id "
            f"'{definition.warehouse_id}' and that the dates are right.",
        )
    weights = np.array([definition.weights[key] for key in keys])
    threshold = definition.analysis.srm_threshold
    result = stats.srm_test(observed, weights, threshold=threshold)
    p_value = float(result.p_value)
    split = ", ".join(
        f"{key} {int(n):,}" for key, n in zip(keys, observed, strict=True)
    )
    expected = ", ".join(f"{w:.0%}" for w in weights)
    unknown = counts.unknown_variant
    if unknown > MULTI_VARIANT_LIMIT * (observed.sum() + unknown):
        # Users the definition cannot place: a variant key misspelt in the
        # definition or a variant the app logs that the definition lacks.
        return HealthCheck(
            "srm",
            title,
            "fail",
            f"{unknown:,} users are in variants the definition does not name"
            f" and are left out (named variants: {split}).",
            "Make the variant keys in the definition match those the app logs in"
            f" the warehouse for experiment id '{definition.warehouse_id}'.",
            p_value,
        )
    if bool(result.alarm):
        return HealthCheck(
            "srm",
            title,
            "fail",
            f"Users per variant ({split}) are far from the planned split"
            f" ({expected}); {format_p(p_value)}.",
            "Find why one variant lost or gained users (assignment bugs, crashes,"
            " logging that depends on the variant) before reading any metric.",
            p_value,
        )
    return HealthCheck(
        "srm",
        title,
        "pass",
        f"Users per variant ({split}) match the planned split ({expected});"
        f" {format_p(p_value)}.",
        value=p_value,
    )


def multi_variant_check(counts: UnitCounts) -> HealthCheck:
    """Users seen in more than one variant."""
    total = counts.multi_variant + sum(counts.assigned.values())
    share = counts.multi_variant / total if total else 0.0
    title = "Users in one variant"
    message = (
        f"{counts.multi_variant:,} users ({share:.2%}) were seen in more than one"
        " variant and are left out."
    )
    if share > MULTI_VARIANT_LIMIT:
        return HealthCheck(
            "multi_variant",
            title,
            "fail",
            message,
            "Make assignment sticky per user (veedel experiments assign) and check"
            " logged-out or multi-device users.",
            share,
        )
    if counts.multi_variant:
        return HealthCheck("multi_variant", title, "warn", message, value=share)
    return HealthCheck("multi_variant", title, "pass", message, value=share)


def sample_size_check(
    definition: ExperimentDefinition,
    library: MetricLibrary,
    overall: list[MetricResult],
) -> HealthCheck:
    """Every primary metric has its minimum sample size in every variant."""
    short: list[str] = []
    for item in overall:
        if item.role != "primary":
            continue
        minimum = library[item.metric].minimum_sample_size
        smallest = min(item.control_n, item.treatment_n)
        if smallest < minimum:
            short.append(f"{item.name} ({item.variant}): {smallest:,} of {minimum:,}")
    if short:
        return HealthCheck(
            "sample_size",
            "Minimum sample size",
            "fail",
            "Too few users with a complete metric window: " + "; ".join(short) + ".",
            "Keep the experiment running; users enter a metric once its window"
            " (e.g. 7 days for day-7 retention) has passed.",
        )
    return HealthCheck(
        "sample_size",
        "Minimum sample size",
        "pass",
        "Every primary metric has its minimum number of users in every variant.",
    )


def _sample(row: Any, total: str, total_sq: str) -> stats.SampleStats:
    return stats.SampleStats(
        np.asarray(row["n"], dtype=np.float64),
        np.asarray(row[total], dtype=np.float64),
        np.asarray(row[total_sq], dtype=np.float64),
    )


def pre_period_check(
    definition: ExperimentDefinition, library: MetricLibrary, cells: Cells
) -> HealthCheck:
    """The variants did not already differ on the primary metrics before exposure."""
    title = "Balance before the experiment"
    days = definition.analysis.cuped.pre_period_days
    control = definition.control.key
    worst: tuple[float, str] | None = None
    for key in definition.metrics.primary:
        metric = library[key]
        column = f"{key}__x"
        if metric.kind == "quantile" or column not in cells.frame:
            continue
        frame = cells.frame[
            cells.frame["exposure_day"] + maturity_offset(metric) <= cells.look_day
        ]
        sums = frame.groupby("variant")[["n", column, f"{key}__xx"]].sum()
        for variant in definition.treatments:
            if control not in sums.index or variant.key not in sums.index:
                continue
            c, t = sums.loc[control], sums.loc[variant.key]
            effect = stats.compare_means(
                _sample(c, column, f"{key}__xx"), _sample(t, column, f"{key}__xx")
            )
            p_value = effect.p_value
            if p_value is None or effect.reason.item():
                continue
            p = float(p_value)
            if math.isfinite(p) and (worst is None or p < worst[0]):
                worst = (p, f"{metric.name} ({variant.key})")
    if worst is None:
        return HealthCheck(
            "pre_period",
            title,
            "pass",
            f"No pre-period data in the {days} days before exposure to compare"
            " (new users); nothing to check.",
        )
    p, which = worst
    if p < PRE_PERIOD_THRESHOLD:
        return HealthCheck(
            "pre_period",
            title,
            "fail",
            f"The variants already differed before exposure on {which}; {format_p(p)}.",
            "Check that assignment does not depend on user behaviour and that no"
            " earlier experiment used the same buckets; then re-randomise.",
            p,
        )
    return HealthCheck(
        "pre_period",
        title,
        "pass",
        f"The variants looked alike in the {days} days before exposure"
        f" (smallest {format_p(p)}, {which}).",
        value=p,
    )


def freshness_check(
    con: Any, definition: ExperimentDefinition, as_of: dt.date
) -> HealthCheck:
    """The warehouse has events up to (nearly) the end of the analysis day."""
    title = "Fresh data"
    last = con.table("events").timestamp.max().to_pandas()
    if last is None or pd.isna(last):
        return HealthCheck(
            "freshness",
            title,
            "fail",
            "The warehouse holds no events.",
            "Load the app's events (veedel ingest) before analysing.",
        )
    last_ts = pd.Timestamp(last).to_pydatetime().replace(tzinfo=None)
    end_of_day = dt.datetime.combine(as_of, dt.time()) + dt.timedelta(days=1)
    hours = (end_of_day - last_ts).total_seconds() / 3600
    limit = definition.analysis.freshness_hours
    message = f"The last event is from {last_ts:%Y-%m-%d %H:%M} UTC"
    if hours > limit:
        return HealthCheck(
            "freshness",
            title,
            "fail",
            f"{message}, {hours:.0f} hours before the end of {as_of.isoformat()}.",
            "Analyse as of an earlier date (--as-of) or wait for the data load.",
            hours,
        )
    return HealthCheck("freshness", title, "pass", f"{message}.", value=hours)


def metric_data_check(
    definition: ExperimentDefinition, library: MetricLibrary, cells: Cells
) -> HealthCheck:
    """Every metric has some non-zero value among users with a complete window."""
    empty = []
    for key in cells.metrics:
        metric = library[key]
        column = f"{key}__y"
        if column not in cells.frame:
            continue
        frame = cells.frame[
            cells.frame["exposure_day"] + maturity_offset(metric) <= cells.look_day
        ]
        if frame["n"].sum() > 0 and frame[column].abs().sum() == 0:
            empty.append(metric.name)
    if empty:
        return HealthCheck(
            "metric_data",
            "Metrics with data",
            "fail",
            "No user has any value for: " + ", ".join(empty) + ".",
            "Check the metric's source and filter (event names are case-sensitive)"
            " and that the table is loaded.",
        )
    return HealthCheck(
        "metric_data", "Metrics with data", "pass", "Every metric has data."
    )


def run_health_checks(
    con: Any,
    definition: ExperimentDefinition,
    library: MetricLibrary,
    as_of: dt.date,
    counts: UnitCounts,
    cells: Cells,
    overall: list[MetricResult],
) -> list[HealthCheck]:
    """All health checks, in the order people should read them."""
    return [
        srm_check(definition, counts),
        multi_variant_check(counts),
        freshness_check(con, definition, as_of),
        metric_data_check(definition, library, cells),
        sample_size_check(definition, library, overall),
        pre_period_check(definition, library, cells),
    ]
