"""Analyse an experiment: warehouse statistics -> engine -> health -> verdict.

:func:`analyze` is the one call behind ``veedel experiments analyze``, the API
and the web page. It runs the pipeline (one query in the warehouse), hands the
sufficient statistics to the statistics engine (:mod:`veedel.experiments.stats`)
for every metric x treatment, overall, per slice and per day, runs the health
checks and applies the decision rule.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from veedel.errors import DataError, InputError
from veedel.experiments import stats
from veedel.experiments.comparison import (
    Comparison,
    aligned_rows,
    compare_rows,
    cumulative_rows,
    metric_totals,
)
from veedel.experiments.definitions import ExperimentDefinition
from veedel.experiments.health import run_health_checks
from veedel.experiments.metrics import SOURCES, Metric, MetricLibrary, load_metrics
from veedel.experiments.pipeline import (
    Cells,
    UnitCounts,
    compute_cells,
    metric_columns,
    unit_counts,
)
from veedel.experiments.results import (
    ExperimentResult,
    MetricResult,
    finite_or_none,
)
from veedel.experiments.sentences import metric_sentence, outcome_of
from veedel.experiments.timeline import daily_points
from veedel.experiments.verdict import breaches_margin, decide

__all__ = ["analyze", "default_as_of"]

log = logging.getLogger(__name__)

# No experiment runs ten years; an as-of near year 9999 overflows date arithmetic.
MAX_RUNNING_DAYS = 3650


def _check_tables(
    con: Any, definition: ExperimentDefinition, library: MetricLibrary
) -> None:
    """Raise a DataError naming the tables the analysis reads that are missing."""
    base = {"events", "users", definition.assignment.source}
    require_tables(con, library, definition.metrics.all_keys, base)


def require_tables(
    con: Any, library: MetricLibrary, keys: Iterable[str], tables: Iterable[str]
) -> None:
    """Raise a DataError naming the missing ``tables`` and tables the metrics read."""
    needed = set(tables)
    for key in keys:
        for aggregation in library[key].aggregations:
            source = SOURCES[aggregation.source]
            needed.add(source.table)
            if source.join is not None:
                needed.add("posts")
    missing = sorted(needed - set(con.list_tables()))
    if missing:
        raise DataError(
            "warehouse",
            "must hold the tables the experiment reads",
            f"missing {', '.join(missing)}",
            fix="Load data first (veedel simulate, or veedel ingest).",
        )


def default_as_of(con: Any, definition: ExperimentDefinition) -> dt.date:
    """The analysis date when none is given: the day of the last event.

    Never later than the end date plus the longest metric window, after which
    nothing changes any more.
    """
    events = con.table("events")
    last = events.timestamp.max().to_pandas()
    if last is None or pd.isna(last):
        return definition.end or definition.start
    return pd.Timestamp(last).date()


def _metric_results(
    cells: Cells,
    definition: ExperimentDefinition,
    library: MetricLibrary,
    by: str | None,
) -> list[MetricResult]:
    results: list[MetricResult] = []
    control = definition.control.key
    for key in cells.metrics:
        metric = library[key]
        if metric.kind == "quantile":
            if by is None:
                results.extend(_quantile_results(cells, definition, key, metric))
            continue
        names = metric_columns(key, metric, definition.analysis.cuped.enabled)
        totals = metric_totals(cells, key, metric, cells.look_day, by)
        for variant in definition.treatments:
            c_rows, t_rows, values = aligned_rows(totals, control, variant.key, by)
            if by is None and definition.analysis.sequential:
                comparison = _sequential_overall(
                    cells, definition, key, metric, variant.key
                )
            else:
                comparison = compare_rows(metric, names, c_rows, t_rows, definition)
            for index, value in enumerate(values):
                results.append(
                    _metric_result(
                        key,
                        metric,
                        definition,
                        variant.key,
                        by,
                        value,
                        comparison,
                        index,
                        cells,
                    )
                )
    return results


def _sequential_overall(
    cells: Cells,
    definition: ExperimentDefinition,
    key: str,
    metric: Metric,
    variant: str,
    tuning_alpha: float | None = None,
) -> Comparison:
    """The always-valid overall result: the last of the daily looks.

    Every day since the start is a look; the result is the running
    intersection of the daily confidence sequences (one mixing variance for
    the series) and the running minimum of the always-valid p-values, the
    same interval the effect-over-time chart ends on. Slices are compared at
    the look day only, with their own mixing variance from that look.
    """
    names = metric_columns(key, metric, definition.analysis.cuped.enabled)
    control = cumulative_rows(cells, key, metric, definition.control.key)
    treatment = cumulative_rows(cells, key, metric, variant)
    comparison = compare_rows(
        metric, names, control, treatment, definition, looks=True,
        tuning_alpha=tuning_alpha,
    )  # fmt: skip
    reduction = comparison.variance_reduction
    return Comparison(
        comparison.absolute[-1:],
        comparison.relative[-1:],
        None if reduction is None else reduction[-1:],
    )


def _quantile_results(
    cells: Cells, definition: ExperimentDefinition, key: str, metric: Metric
) -> list[MetricResult]:
    """A quantile metric for every treatment (overall only: unit values needed).

    Quantiles use the engine's order-statistic interval; they are not
    CUPED-adjusted, sliced or sequential.
    """
    values = cells.quantile_values.get(key, {})
    empty = np.zeros(0)
    control = values.get(definition.control.key, empty)
    results = []
    for variant in definition.treatments:
        treatment = values.get(variant.key, empty)
        effects = [
            stats.compare_quantiles(
                control,
                treatment,
                quantile=metric.quantile or 0.5,
                alpha=definition.analysis.alpha,
                scale=scale,
            )
            for scale in ("absolute", "relative")
        ]
        comparison = Comparison(effects[0][None], effects[1][None], None)
        results.append(
            _metric_result(
                key, metric, definition, variant.key, None, None, comparison, 0, cells
            )
        )
    return results


def _metric_result(
    key: str,
    metric: Metric,
    definition: ExperimentDefinition,
    variant: str,
    by: str | None,
    value: str | None,
    comparison: Comparison,
    index: int,
    cells: Cells,
) -> MetricResult:
    absolute, relative = comparison.absolute, comparison.relative
    role = definition.metrics.role(key)
    margin = definition.metrics.margin(key) if role == "guardrail" else 0.0
    reason = str(absolute.reason[index])
    relative_reason = str(relative.reason[index])
    rel = {
        name: finite_or_none(getattr(relative, name)[index])
        if not relative_reason
        else None
        for name in ("point_estimate", "ci_lower", "ci_upper")
    }
    # The p-value and the significance belong to the interval people see: the
    # relative one where it exists, so that "significant" and "the interval
    # excludes zero" never disagree.
    shown = relative if not relative_reason else absolute
    p_value = None if shown.p_value is None else shown.p_value[index]
    significant = bool(shown.significant[index])
    outcome = outcome_of(
        metric, significant, finite_or_none(absolute.point_estimate[index]), reason
    )
    breached = role == "guardrail" and _breached(metric, rel, margin, absolute, index)
    reduction = None
    if comparison.variance_reduction is not None:
        reduction = finite_or_none(comparison.variance_reduction[index])
    result = MetricResult(
        metric=key,
        name=metric.name,
        kind=metric.kind,
        role=role,
        direction=metric.direction,
        variant=variant,
        control_variant=definition.control.key,
        slice_name=by,
        slice_value=value,
        control_n=int(absolute.control_n[index]),
        treatment_n=int(absolute.treatment_n[index]),
        control_value=finite_or_none(absolute.control_mean[index]),
        treatment_value=finite_or_none(absolute.treatment_mean[index]),
        absolute_effect=None
        if reason
        else finite_or_none(absolute.point_estimate[index]),
        absolute_ci_lower=None if reason else finite_or_none(absolute.ci_lower[index]),
        absolute_ci_upper=None if reason else finite_or_none(absolute.ci_upper[index]),
        relative_effect=rel["point_estimate"],
        relative_ci_lower=rel["ci_lower"],
        relative_ci_upper=rel["ci_upper"],
        p_value=None if reason or p_value is None else finite_or_none(p_value),
        significant=significant,
        outcome=outcome,
        method=shown.method,
        sentence="",
        reason=reason,
        margin=margin,
        guardrail_breached=breached,
        variance_reduction=reduction,
        cap=cells.caps.get(key, (None, None))[0],
    )
    sentence = metric_sentence(
        result,
        alpha=definition.analysis.alpha,
        sequential=definition.analysis.sequential,
        reason_text=stats.explain(reason) if reason else "",
    )
    return _with_sentence(result, sentence)


def _with_sentence(result: MetricResult, sentence: str) -> MetricResult:
    return replace(result, sentence=sentence)


def _apply_correction(
    results: list[MetricResult],
    cells: Cells,
    definition: ExperimentDefinition,
    library: MetricLibrary,
) -> list[MetricResult]:
    """Adjust the primary metrics x treatments for multiple testing.

    The family is every primary metric against every treatment. Each adjusted
    interval is recomputed at the level ``alpha p / q`` (``q`` the adjusted
    p-value), so that it excludes zero exactly when ``q < alpha``.
    """
    settings = definition.analysis
    family = [
        index
        for index, item in enumerate(results)
        if item.role == "primary" and item.p_value is not None
    ]
    if settings.correction == "none" or len(family) < 2:
        return results
    raw = np.array([results[index].p_value for index in family], dtype=float)
    adjusted = stats.adjust_pvalues(raw, settings.correction)
    corrected = list(results)
    for index, p_raw, q in zip(family, raw, adjusted, strict=True):
        item = results[index]
        level = settings.alpha * p_raw / q if q > 0 else settings.alpha
        level = float(min(max(level, 1e-15), settings.alpha))
        strict = definition.model_copy(
            update={"analysis": settings.model_copy(update={"alpha": level})}
        )
        metric = library[item.metric]
        if settings.sequential:
            # The stricter sequence keeps the nominal level's mixing variance.
            comparison = _sequential_overall(
                cells, strict, item.metric, metric, item.variant, settings.alpha
            )
        else:
            names = metric_columns(item.metric, metric, settings.cuped.enabled)
            totals = metric_totals(cells, item.metric, metric, cells.look_day)
            c_rows, t_rows, _ = aligned_rows(
                totals, item.control_variant, item.variant, None
            )
            comparison = compare_rows(metric, names, c_rows, t_rows, strict)
        redone = _metric_result(
            item.metric, metric, strict, item.variant, None, None, comparison, 0, cells
        )
        significant = bool(q < settings.alpha)
        outcome = outcome_of(metric, significant, item.absolute_effect, item.reason)
        updated = replace(
            redone,
            p_value=finite_or_none(q),
            significant=significant,
            outcome=outcome,
            method=f"{redone.method}+{settings.correction}",
        )
        sentence = metric_sentence(
            updated, alpha=settings.alpha, sequential=settings.sequential
        )
        corrected[index] = _with_sentence(updated, sentence)
    return corrected


def _breached(
    metric: Metric,
    relative: dict[str, float | None],
    margin: float,
    absolute: stats.Effect,
    index: int,
) -> bool:
    """Significantly worse beyond the margin: the whole interval is past it."""
    lower, upper = relative["ci_lower"], relative["ci_upper"]
    if lower is None or upper is None:
        if margin > 0 or absolute.reason[index]:
            return False
        lower = finite_or_none(absolute.ci_lower[index])
        upper = finite_or_none(absolute.ci_upper[index])
        if lower is None or upper is None:
            return False
    return breaches_margin(metric, lower, upper, margin)


def _versions() -> dict[str, str]:
    found = {}
    for package in ("veedel", "ibis-framework", "numpy", "scipy"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "unknown"
    return found


def _backend_name(con: Any) -> str:
    return str(getattr(con, "name", type(con).__module__.split(".")[-2]))


def analyze(
    con: Any,
    definition: ExperimentDefinition,
    library: MetricLibrary | None = None,
    as_of: dt.date | None = None,
    *,
    daily: bool = True,
) -> ExperimentResult:
    """Analyse ``definition`` in the warehouse ``con`` as of ``as_of``.

    Parameters
    ----------
    con
        An Ibis backend holding the canonical tables
        (:func:`veedel.warehouse.connect`).
    definition
        The experiment.
    library
        The metric library; default: the starter metrics.
    as_of
        Last day of data to use (inclusive); default: the day of the last
        event in the warehouse.
    daily
        Also compute the cumulative effect per day (for the chart).

    Returns
    -------
    ExperimentResult
        Health checks, the verdict, one result per metric x treatment overall
        and per slice value, and the daily cumulative effects.
    """
    library = library or load_metrics()
    definition.check_metrics(library)
    _check_tables(con, definition, library)
    as_of = as_of or default_as_of(con, definition)
    if as_of < definition.start:
        raise InputError(
            "as_of",
            "must not be before the experiment's start",
            as_of.isoformat(),
            fix=f"The experiment starts on {definition.start.isoformat()}.",
        )
    if (as_of - definition.start).days > MAX_RUNNING_DAYS:
        raise InputError(
            "as_of",
            "must lie within ten years of the experiment's start",
            as_of.isoformat(),
            fix=f"The experiment starts on {definition.start.isoformat()}.",
        )

    counts: UnitCounts = unit_counts(con, definition, as_of)
    cells = compute_cells(con, definition, library, as_of)
    overall = _metric_results(cells, definition, library, None)
    overall = _apply_correction(overall, cells, definition, library)
    sliced = [
        item
        for name in definition.slices
        for item in _metric_results(cells, definition, library, name)
    ]
    points = daily_points(cells, definition, library) if daily else []

    health = run_health_checks(con, definition, library, as_of, counts, cells, overall)
    verdict = decide(definition, library, overall, health, cells)
    metric_snapshot = {
        key: library[key].model_dump(mode="json") for key in definition.metrics.all_keys
    }
    return ExperimentResult(
        key=definition.key,
        name=definition.name,
        as_of=as_of.isoformat(),
        computed_at=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        warehouse=_backend_name(con),
        definition=definition.model_dump(mode="json"),
        metric_definitions=metric_snapshot,
        units={
            "assigned": counts.assigned,
            "multi_variant_excluded": counts.multi_variant,
            "unknown_variant_excluded": counts.unknown_variant,
        },
        health=tuple(health),
        verdict=verdict,
        metrics=tuple(overall),
        slices=tuple(sliced),
        daily=tuple(points),
        versions=_versions(),
    )
