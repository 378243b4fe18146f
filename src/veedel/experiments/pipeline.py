"""Sufficient statistics of an experiment, computed in the warehouse.

The pipeline turns an experiment definition and its metrics into Ibis
expressions that the warehouse runs:

1. **units**: one row per user exposed (or assigned) between the start and the
   analysis date, with the variant, the first exposure time, the exposure day
   and the slice properties; users seen in more than one variant are dropped
   (and counted by :func:`unit_counts`). Materialised once.
2. **per-user values**: the rows of each source the metrics read are joined
   to the units, rows outside every window are dropped, and one group-by per
   source gives every numerator, denominator and pre-period value of that
   source per user (filtered aggregates, one per distinct value); the
   per-source values are joined to the units. Each source is read once.
   Materialised once.
3. **cells**: one group-by of the per-user values by variant, exposure day and
   every slice property gives n, sums, sums of squares and cross products
   per metric.

Because sums add up, everything the analysis needs comes from the cells:
the totals per variant, the totals per slice value (summing over the other
slices) and the cumulative totals per day. A user enters a metric on the day
its window is complete (exposure day + window end - 1), so the chart of the
effect over time shows, for each day, the users whose metric was known then.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import ibis
import numpy as np
import pandas as pd

from veedel.experiments.definitions import ExperimentDefinition
from veedel.experiments.metrics import (
    Aggregation,
    Metric,
    MetricLibrary,
    filter_expression,
    source_rows,
)

__all__ = [
    "Cells",
    "UnitCounts",
    "compute_cells",
    "metric_columns",
    "unit_counts",
    "units_expression",
]

log = logging.getLogger(__name__)

UNKNOWN = "(unknown)"
_DAY = 86400


@dataclass(frozen=True)
class UnitCounts:
    """Who is in the experiment, before any metric.

    ``assigned`` counts users per variant as found in the warehouse (users in
    more than one variant excluded); ``multi_variant`` counts the excluded
    users; ``unknown_variant`` counts users in a variant the definition lacks.
    """

    assigned: dict[str, int]
    multi_variant: int
    unknown_variant: int


@dataclass(frozen=True)
class Cells:
    """Sufficient statistics per variant x exposure day x slice values.

    ``frame`` has columns ``variant``, ``exposure_day``, one ``slice_<name>``
    per slice property, ``n`` and, per metric, the columns named by
    :func:`metric_columns`. ``look_day`` is the analysis date's day index
    (day 0 is the start date).
    """

    frame: pd.DataFrame
    metrics: tuple[str, ...]
    slices: tuple[str, ...]
    look_day: int
    start: dt.date
    caps: dict[str, tuple[float | None, float | None]]
    quantile_values: dict[str, dict[str, np.ndarray[Any, Any]]]


def metric_columns(key: str, metric: Metric, cuped: bool) -> dict[str, str]:
    """Names of the cell columns of ``metric``: role -> column name.

    Roles: ``sum``, ``sum_sq`` (numerator), and for ratios ``den_sum``,
    ``den_sum_sq``, ``cross_sum``; with CUPED ``pre_sum``, ``pre_sum_sq``,
    ``pre_cross`` (covariate x numerator) and for ratios ``pre_den_cross``
    (covariate x denominator): the covariate is the numerator over the
    pre-period.
    """
    names = {"sum": f"{key}__y", "sum_sq": f"{key}__yy"}
    if metric.kind == "ratio":
        names |= {
            "den_sum": f"{key}__d",
            "den_sum_sq": f"{key}__dd",
            "cross_sum": f"{key}__yd",
        }
    if cuped and metric.kind in ("mean", "ratio", "proportion"):
        names |= {
            "pre_sum": f"{key}__x",
            "pre_sum_sq": f"{key}__xx",
            "pre_cross": f"{key}__xy",
        }
        if metric.kind == "ratio":
            names["pre_den_cross"] = f"{key}__xd"
    return names


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day)


def _end_of_look(definition: ExperimentDefinition, as_of: dt.date) -> dt.datetime:
    return _day_start(as_of) + dt.timedelta(days=1)


def units_expression(
    con: Any, definition: ExperimentDefinition, as_of: dt.date
) -> tuple[Any, Any]:
    """The units of the experiment and the per-user variant summary behind them.

    Returns ``(units, per_user)``: ``units`` holds users in exactly one known
    variant with ``unit_id``, ``variant``, ``first_ts``, ``exposure_day`` and
    ``slice_<name>`` columns; ``per_user`` holds every user with the number of
    variants seen (0, 1, or 2 for two or more), for the counts of
    :func:`unit_counts`.
    """
    source = definition.assignment.source
    table = con.table(source)
    time_column = "exposed_at" if source == "exposures" else "assigned_at"
    start = _day_start(definition.start)
    stop = _end_of_look(definition, as_of)
    if definition.end is not None:
        stop = min(stop, _day_start(definition.end) + dt.timedelta(days=1))

    rows = table.filter(
        table.experiment_id == definition.warehouse_id,
        table[time_column] >= ibis.literal(start),
        table[time_column] < ibis.literal(stop),
    )
    # The smallest and largest variant tell one variant from several without
    # a distinct count, which costs twice as much on a million users.
    grouped = rows.group_by(unit_id=rows.user_id).aggregate(
        variant=rows.variant.min(),
        last_variant=rows.variant.max(),
        first_ts=rows[time_column].min(),
    )
    n_variants = (
        ibis.cases(
            (grouped.variant.isnull(), 0),
            (grouped.variant == grouped.last_variant, 1),
            else_=2,
        )
        .cast("int64")
        .name("n_variants")
    )
    per_user = grouped.select("unit_id", n_variants, "variant", "first_ts")
    known = [v.key for v in definition.variants]
    single = per_user.filter(per_user.n_variants == 1, per_user.variant.isin(known))

    start_epoch = int(start.replace(tzinfo=dt.UTC).timestamp())
    day_epoch = single.first_ts.truncate("D").epoch_seconds()
    units = single.mutate(
        exposure_day=((day_epoch - start_epoch) // _DAY).cast("int64"),
        day0=single.first_ts.truncate("D"),
    ).select("unit_id", "variant", "first_ts", "day0", "exposure_day")
    if definition.slices:
        users = con.table("users")
        props = users.select(
            prop_user_id=users.user_id,
            **{
                f"slice_{name}": users[name].cast("string").fill_null(UNKNOWN)
                for name in definition.slices
            },
        )
        joined = units.left_join(props, units.unit_id == props.prop_user_id)
        units = joined.select(
            "unit_id",
            "variant",
            "first_ts",
            "day0",
            "exposure_day",
            *[
                joined[f"slice_{name}"].fill_null(UNKNOWN).name(f"slice_{name}")
                for name in definition.slices
            ],
        )
    return units, per_user


def unit_counts(
    con: Any, definition: ExperimentDefinition, as_of: dt.date
) -> UnitCounts:
    """Users per variant, users in several variants and in unknown variants."""
    _, per_user = units_expression(con, definition, as_of)
    known = [v.key for v in definition.variants]
    summary = (
        per_user.group_by(
            multi=per_user.n_variants > 1,
            known=per_user.variant.isin(known),
            variant=per_user.variant,
        )
        .aggregate(users=per_user.count())
        .to_pandas()
    )
    assigned = {key: 0 for key in known}
    multi = unknown = 0
    for row in summary.itertuples(index=False):
        if row.multi:
            multi += int(row.users)
        elif not row.known:
            unknown += int(row.users)
        else:
            assigned[str(row.variant)] = int(row.users)
    return UnitCounts(assigned, multi, unknown)


ValueItem = tuple[str, Aggregation, Metric]


def _value_items(metrics: dict[str, Metric]) -> dict[str, list[ValueItem]]:
    """Numerators and denominators grouped by source."""
    by_source: dict[str, list[ValueItem]] = {}
    for key, metric in metrics.items():
        names = ("num", "den")
        for name, aggregation in zip(names, metric.aggregations, strict=False):
            by_source.setdefault(aggregation.source, []).append(
                (f"{key}__{name}", aggregation, metric)
            )
    return by_source


def _flag(rows: Any, aggregation: Aggregation) -> Any:
    """A row's contribution before the window: 1/0 for count and any, else value."""
    condition = filter_expression(rows, aggregation.filter)
    if aggregation.aggregate in ("count", "any"):
        return condition.ifelse(1.0, 0.0)
    value = rows[aggregation.column].cast("float64")
    return condition.ifelse(value, ibis.null("float64"))


def _flag_key(source: str, aggregation: Aggregation) -> tuple[Any, ...]:
    """Rows' contributions that are the same whatever the metric (shared)."""
    kind = "flag" if aggregation.aggregate in ("count", "any") else aggregation.column
    conditions = tuple((c.column, c.op, repr(c.value)) for c in aggregation.filter)
    return (source, kind, conditions)


def _source_flags(
    con: Any, source: str, items: list[ValueItem]
) -> tuple[Any, dict[str, str]]:
    """The rows of ``source`` as ``unit_id, ts`` and one contribution per flag.

    Values that count the same rows share one flag column. Returns the table
    and, per value name, its flag column.
    """
    rows = source_rows(con, source)
    flags: dict[tuple[Any, ...], str] = {}
    flag_of: dict[str, str] = {}
    columns: dict[str, Any] = {}
    for name, aggregation, _ in items:
        key = _flag_key(source, aggregation)
        if key not in flags:
            flags[key] = f"flag_{len(flags)}"
            columns[flags[key]] = _flag(rows, aggregation)
        flag_of[name] = flags[key]
    return rows.select("unit_id", "ts", **columns), flag_of


def _windowed(
    joined: Any, flag: str, aggregation: Aggregation, lower: int, upper: int | None
) -> Any:
    """A user's value over a window, as a filtered aggregate.

    Rows outside the window are left out of the aggregate, which gives the
    value they would give as zeros (sums, and ``any`` over 0/1 flags) or as
    nulls (``max``). A user with no row in the window gets null here and zero
    in the end: the caller fills nulls.
    """
    inside = joined.rel_day >= lower
    if upper is not None:
        inside = inside & (joined.rel_day < upper)
    value = joined[flag]
    if aggregation.aggregate in ("count", "sum"):
        return value.sum(where=inside)
    return value.max(where=inside)


def _source_values(
    con: Any,
    source: str,
    items: list[ValueItem],
    keyed: Any,
    stop: dt.datetime,
    pre_days: int,
    computed: dict[tuple[Any, ...], str],
    alias: dict[str, str],
) -> Any:
    """Per-user values of one source: one join with the units, one group-by.

    Fills ``alias`` (value name -> the column that holds it) and ``computed``
    (identical values of different metrics are aggregated once). Returns the
    table of ``v_id`` and the value columns, or None when every value of the
    source was computed already.
    """
    rows, flag_of = _source_flags(con, source, items)
    rows = rows.filter(rows.ts < ibis.literal(stop))
    joined = rows.join(keyed, rows.unit_id == keyed.u_id)
    joined = joined.mutate(rel_day=joined.ts.date().delta(joined.day0, unit="day"))

    # Rows outside every window add nothing: drop them before the group-by
    # (day0 is a midnight, so whole days compare exactly).
    ends = [metric.window.end_day for _, _, metric in items]
    keep = joined.rel_day >= -pre_days
    if all(end is not None for end in ends):
        keep = keep & (joined.rel_day < max(end or 0 for end in ends))
    joined = joined.filter(keep)

    aggregates: dict[str, Any] = {}
    for name, aggregation, metric in items:
        windows = {
            name: (metric.window.start_day, metric.window.end_day),
            f"{name}__pre": (-pre_days, 0),
        }
        for value_name, (lower, upper) in windows.items():
            key = (source, flag_of[name], aggregation.aggregate, lower, upper)
            if key not in computed:
                computed[key] = value_name
                aggregates[value_name] = _windowed(
                    joined, flag_of[name], aggregation, lower, upper
                )
            alias[value_name] = computed[key]
    if not aggregates:
        return None
    return joined.group_by(v_id=joined.u_id).aggregate(**aggregates)


def per_user_table(
    con: Any,
    definition: ExperimentDefinition,
    metrics: dict[str, Metric],
    as_of: dt.date,
    units: Any = None,
) -> Any:
    """Units with every metric's per-user values (``<key>__num`` etc.), as Ibis.

    Missing values (users with no rows) are zero; a ``max`` over no rows is
    zero too. ``units`` replaces the experiment's units (planning uses users
    active in a recent period). ``<name>__pre`` holds the same value over the
    pre-period (``cuped.pre_period_days`` before day 0), which CUPED and the
    balance check use. Identical values of different metrics (the same rows,
    aggregate and window) are computed once.
    """
    if units is None:
        units, _ = units_expression(con, definition, as_of)
    stop = _end_of_look(definition, as_of)
    pre_days = definition.analysis.cuped.pre_period_days
    keyed = units.select(u_id=units.unit_id, day0=units.day0.date())

    # One group-by per source, then one join per source: a group-by costs
    # about rows x values, and a source's rows only feed its own values.
    computed: dict[tuple[Any, ...], str] = {}
    alias: dict[str, str] = {}
    table = units
    for source, items in _value_items(metrics).items():
        values = _source_values(
            con, source, items, keyed, stop, pre_days, computed, alias
        )
        if values is not None:
            table = table.left_join(values, table.unit_id == values.v_id)
            table = table.drop("v_id")
    return table.mutate(
        **{name: table[source].fill_null(0.0) for name, source in alias.items()}
    )


def _capped(column: Any, cap: float | None) -> Any:
    if cap is None:
        return column
    return ibis.least(column, ibis.literal(cap, type="float64"))


def _cell_aggregates(
    table: Any,
    key: str,
    metric: Metric,
    caps: tuple[float | None, float | None],
    cuped: bool,
) -> dict[str, Any]:
    names = metric_columns(key, metric, cuped)
    y = _capped(table[f"{key}__num"], caps[0])
    result = {names["sum"]: y.sum(), names["sum_sq"]: (y * y).sum()}
    if metric.kind == "ratio":
        d = _capped(table[f"{key}__den"], caps[1])
        result |= {
            names["den_sum"]: d.sum(),
            names["den_sum_sq"]: (d * d).sum(),
            names["cross_sum"]: (y * d).sum(),
        }
    if "pre_sum" in names:
        x = _capped(table[f"{key}__num__pre"], caps[0])
        result |= {
            names["pre_sum"]: x.sum(),
            names["pre_sum_sq"]: (x * x).sum(),
            names["pre_cross"]: (x * y).sum(),
        }
        if metric.kind == "ratio":
            d = _capped(table[f"{key}__den"], caps[1])
            result[names["pre_den_cross"]] = (x * d).sum()
    return result


def _percentile_cap(
    table: Any, column: str, percentile: float, matured: Any
) -> float | None:
    """The pooled percentile of a per-user column, exact on every engine.

    The warehouse returns the histogram of values (few distinct values for
    counts); the percentile is the smallest value whose cumulative share
    reaches ``percentile`` (the nearest-rank definition).
    """
    rows = table.filter(matured)
    histogram = (
        rows.group_by(value=rows[column]).aggregate(users=rows.count()).to_pandas()
    )
    if histogram.empty:
        return None
    histogram = histogram.sort_values("value")
    share = histogram["users"].cumsum() / histogram["users"].sum()
    position = int(np.searchsorted(share.to_numpy(), percentile - 1e-12))
    return float(histogram["value"].iloc[min(position, len(histogram) - 1)])


def maturity_offset(metric: Metric) -> int:
    """Days after the exposure day on whose end the metric's window is complete."""
    return (metric.window.end_day or 1) - 1


def _matured(table: Any, metric: Metric, look_day: int) -> Any:
    return table.exposure_day + maturity_offset(metric) <= look_day


def compute_cells(
    con: Any,
    definition: ExperimentDefinition,
    library: MetricLibrary,
    as_of: dt.date,
    units: Any = None,
    *,
    subject: str | None = None,
) -> Cells:
    """Run the pipeline and return the cells of sufficient statistics.

    The units and the per-user values are materialised once as temporary
    tables; then one group-by computes the cells of every metric, and metrics
    capped at a percentile and quantile metrics add one small histogram query
    each over the per-user values. ``subject`` names what the cells are for in
    the log line (default: the experiment's sufficient statistics).
    """
    keys = definition.metrics.all_keys
    metrics = {key: library[key] for key in keys}
    look_day = (as_of - definition.start).days
    if units is None:
        units, _ = units_expression(con, definition, as_of)
    # Materialise the units and the per-user values once (a temporary table in
    # the warehouse): every source joins the units, and the caps, the quantile
    # histograms and the cells all read the per-user values.
    units = units.cache()
    table = per_user_table(con, definition, metrics, as_of, units).cache()
    try:
        subject = subject or f"sufficient statistics of {definition.key}"
        return _cells_from_table(definition, metrics, keys, look_day, table, subject)
    finally:
        table.release()
        units.release()


def _cells_from_table(
    definition: ExperimentDefinition,
    metrics: dict[str, Metric],
    keys: tuple[str, ...],
    look_day: int,
    table: Any,
    subject: str,
) -> Cells:
    caps: dict[str, tuple[float | None, float | None]] = {}
    for key, metric in metrics.items():
        caps[key] = _caps_of(table, key, metric, look_day)

    quantile_values: dict[str, dict[str, np.ndarray[Any, Any]]] = {}
    for key, metric in metrics.items():
        if metric.kind == "quantile":
            quantile_values[key] = _unit_values(table, key, metric, look_day)

    aggregates: dict[str, Any] = {"n": table.count()}
    for key, metric in metrics.items():
        if metric.kind != "quantile":
            aggregates |= _cell_aggregates(table, key, metric, caps[key], True)
    slice_columns = [f"slice_{name}" for name in definition.slices]
    grouped = table.group_by(["variant", "exposure_day", *slice_columns]).aggregate(
        **aggregates
    )
    log.info("Computing the %s in the warehouse", subject)
    frame = grouped.to_pandas()
    frame["exposure_day"] = frame["exposure_day"].astype("int64")
    sort_columns = ["variant", "exposure_day", *slice_columns]
    frame = frame.sort_values(sort_columns).reset_index(drop=True)
    return Cells(
        frame=frame,
        metrics=tuple(keys),
        slices=tuple(definition.slices),
        look_day=look_day,
        start=definition.start,
        caps=caps,
        quantile_values=quantile_values,
    )


def _caps_of(
    table: Any, key: str, metric: Metric, look_day: int
) -> tuple[float | None, float | None]:
    if metric.capping is None:
        return (None, None)
    if metric.capping.value is not None:
        value = metric.capping.value
        return (value, value if metric.kind == "ratio" else None)
    percentile = metric.capping.percentile
    assert percentile is not None  # validated: exactly one of value, percentile
    matured = _matured(table, metric, look_day)
    numerator = _percentile_cap(table, f"{key}__num", percentile, matured)
    denominator = None
    if metric.kind == "ratio":
        denominator = _percentile_cap(table, f"{key}__den", percentile, matured)
    return (numerator, denominator)


def _unit_values(
    table: Any, key: str, metric: Metric, look_day: int
) -> dict[str, np.ndarray[Any, Any]]:
    """Per-variant unit-level values of a quantile metric (from a histogram)."""
    rows = table.filter(_matured(table, metric, look_day))
    histogram = (
        rows.group_by(variant=rows.variant, value=rows[f"{key}__num"])
        .aggregate(users=rows.count())
        .to_pandas()
    )
    values: dict[str, np.ndarray[Any, Any]] = {}
    for variant, part in histogram.groupby("variant"):
        part = part.sort_values("value")
        values[str(variant)] = np.repeat(
            part["value"].to_numpy(dtype=float), part["users"].to_numpy(dtype=int)
        )
    return values
