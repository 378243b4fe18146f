"""What the experiment API and pages read and write, in one place.

The HTTP API and the web pages go through these functions for experiment
definitions, stored analysis results, the metric library, the metric library's
recent values and the power calculator. Nothing here computes an analysis:
results are read as the analysis stored them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import yaml
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import func, select

from veedel.errors import InputError, NotFoundError
from veedel.experiments.definitions import ExperimentDefinition, load_experiment_text
from veedel.experiments.metrics import MetricLibrary, load_metrics
from veedel.experiments.planning import PlanResult, plan_from_history
from veedel.experiments.results import ExperimentResult
from veedel.experiments.store import (
    DefinitionRecord,
    ResultRecord,
    create_definition,
)
from veedel.store import session_scope
from veedel.warehouse import connect
from veedel.web.components import format_value
from veedel.web.metric_words import metric_in_words

__all__ = [
    "ExperimentEntry",
    "MetricSummary",
    "create_experiment",
    "get_entry",
    "list_entries",
    "metric_library",
    "metric_summaries",
    "plan_for_metric",
]

log = logging.getLogger(__name__)

# Recent values and traffic are read from this many days of warehouse history,
# and re-read at most this often per process.
HISTORY_DAYS = 28
HISTORY_TTL_SECONDS = 600.0


@dataclass(frozen=True)
class ExperimentEntry:
    """An experiment's definition and its latest stored result (if any)."""

    definition: ExperimentDefinition
    result: ExperimentResult | None


def metric_library(app: FastAPI) -> MetricLibrary:
    """The metric library: the starter set and ``<data_dir>/metrics`` (read once)."""
    library = getattr(app.state, "metric_library", None)
    if isinstance(library, MetricLibrary):
        return library
    folder = app.state.settings.data_dir / "metrics"
    library = load_metrics(folder) if folder.is_dir() else load_metrics()
    app.state.metric_library = library
    return library


class _Cache:
    """Parsed definitions and results, keyed by what changes when they change.

    Parsing YAML and JSON is what makes a page slow, not the query: a
    definition is parsed again only when its ``updated_at`` changes, a result
    only when a newer one is stored.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.definitions: dict[str, tuple[dt.datetime, ExperimentDefinition]] = {}
        self.results: dict[int, ExperimentResult] = {}
        self.plans: dict[tuple[Any, ...], tuple[float, PlanResult]] = {}


def _cache(app: FastAPI) -> _Cache:
    cache = getattr(app.state, "experiment_cache", None)
    if not isinstance(cache, _Cache):
        cache = _Cache()
        app.state.experiment_cache = cache
    return cache


def _parse_definition(key: str, text: str) -> ExperimentDefinition:
    """A stored definition, parsed with libyaml where available.

    The pure-Python YAML parser takes several milliseconds per definition,
    which a list of hundreds of experiments feels on a first view; anything
    unexpected goes through the product's own loader for its error message.
    """
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        document = yaml.load(text, Loader=loader)
        return ExperimentDefinition.model_validate(document)
    except (yaml.YAMLError, ValidationError):
        return load_experiment_text(text, where=f"store:{key}")


def _definition(
    cache: _Cache, key: str, updated: dt.datetime, text: str
) -> ExperimentDefinition:
    with cache.lock:
        known = cache.definitions.get(key)
    if known is not None and known[0] == updated:
        return known[1]
    definition = _parse_definition(key, text)
    with cache.lock:
        cache.definitions[key] = (updated, definition)
    return definition


def _result(cache: _Cache, identifier: int, payload: str) -> ExperimentResult:
    with cache.lock:
        known = cache.results.get(identifier)
    if known is not None:
        return known
    result = ExperimentResult.from_dict(json.loads(payload))
    with cache.lock:
        cache.results[identifier] = result
    return result


def _latest_ids(session: Any, key: str | None = None) -> dict[str, int]:
    query = select(ResultRecord.experiment_key, func.max(ResultRecord.id)).group_by(
        ResultRecord.experiment_key
    )
    if key is not None:
        query = query.where(ResultRecord.experiment_key == key)
    return {str(row[0]): int(row[1]) for row in session.execute(query).all()}


def _results_by_id(
    session: Any, cache: _Cache, ids: list[int]
) -> dict[int, ExperimentResult]:
    with cache.lock:
        missing = [i for i in ids if i not in cache.results]
    found: dict[int, ExperimentResult] = {}
    for start in range(0, len(missing), 500):
        chunk = missing[start : start + 500]
        rows = session.execute(
            select(ResultRecord.id, ResultRecord.payload).where(
                ResultRecord.id.in_(chunk)
            )
        ).all()
        for identifier, payload in rows:
            found[int(identifier)] = _result(cache, int(identifier), str(payload))
    with cache.lock:
        return {i: found.get(i) or cache.results[i] for i in ids}


def list_entries(app: FastAPI) -> list[ExperimentEntry]:
    """Every stored experiment with its latest result, newest experiments first."""
    cache = _cache(app)
    with session_scope(app.state.store) as session:
        records = session.execute(
            select(
                DefinitionRecord.key,
                DefinitionRecord.updated_at,
                DefinitionRecord.yaml_text,
            ).order_by(DefinitionRecord.created_at.desc(), DefinitionRecord.key)
        ).all()
        latest = _latest_ids(session)
        results = _results_by_id(session, cache, list(latest.values()))
    entries = []
    for key, updated, text in records:
        identifier = latest.get(key)
        result = results[identifier] if identifier is not None else None
        entries.append(ExperimentEntry(_definition(cache, key, updated, text), result))
    _forget_stale(cache, {str(record[0]) for record in records}, set(latest.values()))
    return entries


def _forget_stale(cache: _Cache, keys: set[str], result_ids: set[int]) -> None:
    # A long-running server must not keep superseded results in memory.
    with cache.lock:
        for key in set(cache.definitions) - keys:
            del cache.definitions[key]
        for identifier in set(cache.results) - result_ids:
            del cache.results[identifier]


def get_entry(app: FastAPI, key: str) -> ExperimentEntry:
    """One stored experiment and its latest result; NotFoundError if unknown."""
    cache = _cache(app)
    with session_scope(app.state.store) as session:
        record = session.get(DefinitionRecord, key[:64])
        if record is None:
            raise NotFoundError(
                f"There is no experiment {key[:64]!r}. The experiments page lists"
                " every experiment."
            )
        definition = _definition(cache, record.key, record.updated_at, record.yaml_text)
        latest = _latest_ids(session, record.key)
        result = None
        if record.key in latest:
            identifier = latest[record.key]
            result = _results_by_id(session, cache, [identifier])[identifier]
    return ExperimentEntry(definition, result)


def create_experiment(
    app: FastAPI, definition: ExperimentDefinition, username: str
) -> None:
    """Store a new experiment; an existing key is an InputError (nothing replaced)."""
    create_definition(app.state.store, definition)
    log.info("%s created experiment %s", username, definition.key)


def _planned(
    app: FastAPI,
    metric: str,
    mde: float,
    alpha: float,
    power: float,
    weights: tuple[float, ...],
) -> PlanResult:
    """The product's plan from warehouse history, re-read every HISTORY_TTL_SECONDS."""
    cache = _cache(app)
    key = (metric, mde, alpha, power, weights)
    now = time.monotonic()
    with cache.lock:
        known = cache.plans.get(key)
    if known is not None and now - known[0] < HISTORY_TTL_SECONDS:
        return known[1]
    con = connect(app.state.settings.resolved_warehouse_url())
    try:
        plan = plan_from_history(
            con,
            metric,
            mde,
            alpha=alpha,
            power=power,
            weights=weights,
            lookback_days=HISTORY_DAYS,
            library=metric_library(app),
        )
    finally:
        disconnect = getattr(con, "disconnect", None)
        if callable(disconnect):
            disconnect()
    with cache.lock:
        cache.plans[key] = (now, plan)
    return plan


def plan_for_metric(
    app: FastAPI,
    metric_key: str,
    mde: float,
    alpha: float,
    power: float,
    weights: list[float],
) -> PlanResult:
    """Users per variant and days needed to detect a relative change ``mde``.

    The product's :func:`~veedel.experiments.planning.plan_from_history` reads
    the baseline and the traffic from the warehouse's recent history and asks
    the statistics engine.

    Raises
    ------
    InputError
        An unknown metric, or a warehouse that cannot be read.
    """
    library = metric_library(app)
    if metric_key not in library:
        raise InputError(
            "metric", "must name a metric of the library", metric_key[:80],
            fix=f"Known metrics: {', '.join(library.keys())}.",
        )  # fmt: skip
    try:
        return _planned(app, metric_key, mde, alpha, power, tuple(weights))
    except InputError:
        raise
    except Exception as exc:  # an empty or unreachable warehouse: say so, no trace
        log.warning("Could not plan %s from history: %s", metric_key, exc)
        raise InputError(
            "warehouse",
            "must hold recent history of the metric to plan from",
            metric_key,
            fix="Load data into the warehouse (veedel demo or veedel ingest).",
        ) from None


@dataclass(frozen=True)
class MetricSummary:
    """A metric for the library page: definition, words and recent values."""

    key: str
    name: str
    kind: str
    direction: str
    description: str
    in_words: str
    minimum_sample_size: int
    recent_value: str
    recent_sd: str
    recent_users: str
    daily_users: str
    plan: PlanResult | None


def metric_summaries(app: FastAPI) -> list[MetricSummary]:
    """Every metric of the library with its definition in words and recent values.

    Recent values are the history the power calculator plans with (the last
    HISTORY_DAYS days of the warehouse), read at most every few minutes.
    """
    summaries = []
    for metric in metric_library(app):
        plan: PlanResult | None = None
        if metric.kind != "quantile":
            try:
                plan = plan_for_metric(app, metric.key, 0.05, 0.05, 0.8, [0.5, 0.5])
            except InputError:
                plan = None
        summaries.append(
            MetricSummary(
                key=metric.key,
                name=metric.name,
                kind=metric.kind,
                direction=metric.direction,
                description=metric.description.strip(),
                in_words=metric_in_words(metric),
                minimum_sample_size=metric.minimum_sample_size,
                recent_value=format_value(
                    plan.baseline_mean if plan else None, metric.kind
                ),
                recent_sd=format_value(plan.baseline_sd if plan else None, "mean"),
                recent_users=f"{plan.history_users:,}" if plan else "—",
                daily_users=(
                    f"{plan.daily_users:,.0f}" if plan and plan.daily_users else "—"
                ),
                plan=plan,
            )
        )
    return summaries
