"""Sufficient statistics of an experiment, computed in the warehouse.

The pipeline turns an experiment definition and its metrics into Ibis
expressions that the warehouse runs as one query:

1. **units**: one row per user exposed (or assigned) between the start and the
   analysis date, with the variant, the first exposure time, the exposure day
   and the slice properties; users seen in more than one variant are dropped
   (and counted by :func:`unit_counts`).
2. **per-user values**: the rows of each source the metrics read are joined
   to the units (without their slice properties; rows attributed through a
   post join the units' posts), rows outside every window are dropped, and one
   group-by per source gives every numerator, denominator and pre-period value
   of that source per user (filtered aggregates, one per distinct value); the
   per-source values are joined to the units. Each source is read once.
3. **cells**: one group-by of the per-user values by variant, exposure day and
   every slice property gives n, sums, sums of squares and cross products
   per metric. A percentile cap is a scalar subquery over the per-user values
   in the same query, which the warehouse computes once as a common table
   expression; nothing is written to a table unless a quantile metric needs
   the per-user values again.

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
    SOURCES,
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


def _exposed_units(
    con: Any, definition: ExperimentDefinition, as_of: dt.date
) -> tuple[Any, Any]:
    """The units without their slice properties, and the per-user summary."""
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
    return units, per_user


def _with_slices(con: Any, definition: ExperimentDefinition, units: Any) -> Any:
    """``units`` with one ``slice_<name>`` column per slice property."""
    if not definition.slices:
        return units
    users = con.table("users")
    props = users.select(
        prop_user_id=users.user_id,
        **{
            f"slice_{name}": users[name].cast("string").fill_null(UNKNOWN)
            for name in definition.slices
        },
    )
    joined = units.left_join(props, units.unit_id == props.prop_user_id)
    return joined.select(
        *units.columns,
        *[
            joined[f"slice_{name}"].fill_null(UNKNOWN).name(f"slice_{name}")
            for name in definition.slices
        ],
    )


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
    units, per_user = _exposed_units(con, definition, as_of)
    return _with_slices(con, definition, units), per_user


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
    con: Any,
    source: str,
    items: list[ValueItem],
    keyed: Any,
    authored: Any,
    stop: dt.datetime,
) -> tuple[Any, dict[str, str]]:
    """The rows of ``source`` of units as ``u_id, ts, day0`` and one flag each.

    ``authored`` holds the units' posts with the author's ``day0``: sources on
    the posts table read them, and rows of derived sources are attributed
    through them; other rows join the units. Values that count the same rows
    share one flag column. Returns the table and, per value name, its flag
    column.
    """
    spec = SOURCES[source]
    if spec.join is not None:
        targets = authored.select(
            target_post_id=authored.post_id,
            target_user_id=authored.user_id,
            day0=authored.day0,
        )
        rows = source_rows(con, source, posts=targets)
    elif spec.table == "posts":
        rows = source_rows(con, source, table=authored)
    else:
        rows = source_rows(con, source)
        rows = rows.join(keyed, rows.unit_id == keyed.u_id)
    rows = rows.filter(rows.ts < ibis.literal(stop))
    flags: dict[tuple[Any, ...], str] = {}
    flag_of: dict[str, str] = {}
    columns: dict[str, Any] = {}
    for name, aggregation, _ in items:
        key = _flag_key(source, aggregation)
        if key not in flags:
            flags[key] = f"flag_{len(flags)}"
            columns[flags[key]] = _flag(rows, aggregation)
        flag_of[name] = flags[key]
    return rows.select(
        u_id=rows.unit_id, ts=rows.ts, day0=rows.day0, **columns
    ), flag_of


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
    authored: Any,
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
    rows, flag_of = _source_flags(con, source, items, keyed, authored, stop)
    joined = rows.mutate(rel_day=rows.ts.date().delta(rows.day0, unit="day"))

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
    exposed: Any = None,
) -> tuple[Any, dict[str, str]]:
    """Units with every metric's per-user values, as Ibis, and their columns.

    Returns the table and, per value name (``<key>__num`` etc.), the column
    that holds it: identical values of different metrics (the same rows,
    aggregate and window) are computed once and share a column. Missing values
    (users with no rows) are zero; a ``max`` over no rows is zero too.
    ``units`` replaces the experiment's units (planning uses users active in
    a recent period); ``exposed`` is the same units without their
    slice columns, which the sources join (default: ``units``).
    ``<name>__pre`` holds the same value over the pre-period
    (``cuped.pre_period_days`` before day 0), which CUPED and the balance check
    use.
    """
    if units is None:
        exposed, _ = _exposed_units(con, definition, as_of)
        units = _with_slices(con, definition, exposed)
    if exposed is None:
        exposed = units
    stop = _end_of_look(definition, as_of)
    pre_days = definition.analysis.cuped.pre_period_days
    keyed = exposed.select(u_id=exposed.unit_id, day0=exposed.day0.date())
    # The posts of units, with the author's day0, feed the posts source and
    # attribute replies and votes received: one join with the units for all.
    posts = con.table("posts")
    authored = (
        posts.join(keyed, posts.user_id == keyed.u_id)
        .select(*posts.columns, "day0")
        .alias("veedel_authored")
    )

    # One group-by per source, then one join per source: a group-by costs
    # about rows x values, and a source's rows only feed its own values.
    computed: dict[tuple[Any, ...], str] = {}
    alias: dict[str, str] = {}
    table = units
    for source, items in _value_items(metrics).items():
        values = _source_values(
            con, source, items, keyed, authored, stop, pre_days, computed, alias
        )
        if values is not None:
            table = table.left_join(values, table.unit_id == values.v_id)
            table = table.drop("v_id")
    columns = set(alias.values())
    return table.mutate(**{name: table[name].fill_null(0.0) for name in columns}), alias


def _capped(column: Any, cap: Any) -> Any:
    """``column`` capped at ``cap``: None, a number, or a nullable column."""
    if cap is None:
        return column
    if isinstance(cap, float):
        return ibis.least(column, ibis.literal(cap, type="float64"))
    return ibis.least(column, cap.fill_null(column))


def _square(column: Any, aggregation: Aggregation, cap: Any) -> Any:
    """``column`` squared; an uncapped ``any`` is 0 or 1, its own square."""
    if aggregation.aggregate == "any" and cap is None:
        return column
    return column * column


def _cell_aggregates(
    value: Any, key: str, metric: Metric, caps: tuple[Any, Any], cuped: bool
) -> dict[str, Any]:
    """The cell sums of ``metric``; ``value`` gives a per-user value's column."""
    names = metric_columns(key, metric, cuped)
    numerator = metric.numerator
    y = _capped(value(f"{key}__num"), caps[0])
    result = {
        names["sum"]: y.sum(),
        names["sum_sq"]: _square(y, numerator, caps[0]).sum(),
    }
    if metric.denominator is not None:
        d = _capped(value(f"{key}__den"), caps[1])
        result |= {
            names["den_sum"]: d.sum(),
            names["den_sum_sq"]: _square(d, metric.denominator, caps[1]).sum(),
            names["cross_sum"]: (y * d).sum(),
        }
    if "pre_sum" in names:
        x = _capped(value(f"{key}__num__pre"), caps[0])
        result |= {
            names["pre_sum"]: x.sum(),
            names["pre_sum_sq"]: _square(x, numerator, caps[0]).sum(),
            names["pre_cross"]: (x * y).sum(),
        }
        if metric.denominator is not None:
            result[names["pre_den_cross"]] = (x * d).sum()
    return result


def _percentile_cap(table: Any, column: str, percentile: float, matured: Any) -> Any:
    """The pooled percentile of a per-user column, exact on every engine.

    A scalar expression over the histogram of values (few distinct values for
    counts): the smallest value whose cumulative share reaches
    ``percentile`` (the nearest-rank definition); null without matured users.
    Computed in the same query as the cells, so that the per-user values are
    not materialised for it.
    """
    rows = table.filter(matured)
    histogram = rows.group_by(value=rows[column]).aggregate(users=rows.count())
    below = histogram.users.cumsum(order_by=histogram.value).cast("float64")
    share = below / histogram.users.sum().over().cast("float64")
    shares = histogram.mutate(share=share)
    reached = shares.filter(shares.share >= percentile - 1e-12)
    return reached.value.min().as_scalar()


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

    One query computes the cells of every metric, percentile caps included.
    Quantile metrics add one small histogram query each over the per-user
    values, which are then materialised once as a temporary table.
    ``subject`` names what the cells are for in the log line (default: the
    experiment's sufficient statistics).
    """
    keys = definition.metrics.all_keys
    metrics = {key: library[key] for key in keys}
    look_day = (as_of - definition.start).days
    exposed = None
    if units is None:
        exposed, _ = _exposed_units(con, definition, as_of)
        units = _with_slices(con, definition, exposed)
    table, alias = per_user_table(con, definition, metrics, as_of, units, exposed)
    subject = subject or f"sufficient statistics of {definition.key}"
    if not any(metric.kind == "quantile" for metric in metrics.values()):
        # A named table expression becomes a common table expression, which
        # the warehouse computes once for the caps and the cells: no temporary
        # table to write.
        table = table.alias("veedel_per_user")
        return _cells_from_table(definition, metrics, look_day, table, alias, subject)
    table = table.cache()
    try:
        return _cells_from_table(definition, metrics, look_day, table, alias, subject)
    finally:
        table.release()


def _cells_from_table(
    definition: ExperimentDefinition,
    metrics: dict[str, Metric],
    look_day: int,
    table: Any,
    alias: dict[str, str],
    subject: str,
) -> Cells:
    quantile_values: dict[str, dict[str, np.ndarray[Any, Any]]] = {}
    for key, metric in metrics.items():
        if metric.kind == "quantile":
            column = alias[f"{key}__num"]
            quantile_values[key] = _unit_values(table, column, metric, look_day)

    # A percentile cap is a scalar subquery, carried as a column; the cells
    # report its value.
    caps = {
        key: _caps_of(table, alias, key, metric, look_day)
        for key, metric in metrics.items()
    }
    scalars = {
        f"cap__{key}__{part}": cap
        for key, pair in caps.items()
        for part, cap in zip(("num", "den"), pair, strict=True)
        if cap is not None and not isinstance(cap, float)
    }
    table = table.mutate(**scalars)
    bound = {
        key: tuple(
            table[f"cap__{key}__{part}"] if f"cap__{key}__{part}" in scalars else cap
            for part, cap in zip(("num", "den"), pair, strict=True)
        )
        for key, pair in caps.items()
    }

    aggregates: dict[str, Any] = {"n": table.count()}
    for key, metric in metrics.items():
        if metric.kind != "quantile":
            aggregates |= _cell_aggregates(
                lambda name: table[alias[name]], key, metric, bound[key], True
            )
    frame = _grouped_cells(definition, table, aggregates, scalars, subject)
    values = {name: _cap_value(frame, name) for name in scalars}
    frame = frame.drop(columns=list(scalars))
    return Cells(
        frame=frame,
        metrics=tuple(metrics),
        slices=tuple(definition.slices),
        look_day=look_day,
        start=definition.start,
        caps={
            key: (
                values.get(f"cap__{key}__num", pair[0]),
                values.get(f"cap__{key}__den", pair[1]),
            )
            for key, pair in caps.items()
        },
        quantile_values=quantile_values,
    )


def _grouped_cells(
    definition: ExperimentDefinition,
    table: Any,
    aggregates: dict[str, Any],
    scalars: dict[str, Any],
    subject: str,
) -> pd.DataFrame:
    """Run the group-by of the cells; identical sums are computed once."""
    unique: dict[Any, str] = {}
    copies: dict[str, str] = {}
    for name, aggregate in aggregates.items():
        copies[name] = unique.setdefault(aggregate.op(), name)
    computed = {name: aggregates[name] for name in unique.values()}
    computed |= {name: table[name].max() for name in scalars}
    slice_columns = [f"slice_{name}" for name in definition.slices]
    group_columns = ["variant", "exposure_day", *slice_columns]
    grouped = table.group_by(group_columns).aggregate(**computed)
    log.info("Computing the %s in the warehouse", subject)
    frame: pd.DataFrame = grouped.to_pandas()
    for name, source in copies.items():
        frame[name] = frame[source]
    frame = frame[[*group_columns, *aggregates, *scalars]].copy()
    frame["exposure_day"] = frame["exposure_day"].astype("int64")
    return frame.sort_values(group_columns).reset_index(drop=True)


def _cap_value(frame: pd.DataFrame, column: str) -> float | None:
    values = frame[column].dropna()
    return None if values.empty else float(values.iloc[0])


def _caps_of(
    table: Any, alias: dict[str, str], key: str, metric: Metric, look_day: int
) -> tuple[Any, Any]:
    """The caps of numerator and denominator: None, a number, or an expression."""
    if metric.capping is None:
        return (None, None)
    if metric.capping.value is not None:
        value = metric.capping.value
        return (value, value if metric.kind == "ratio" else None)
    percentile = metric.capping.percentile
    assert percentile is not None  # validated: exactly one of value, percentile
    matured = _matured(table, metric, look_day)
    numerator = _percentile_cap(table, alias[f"{key}__num"], percentile, matured)
    denominator = None
    if metric.kind == "ratio":
        column = alias[f"{key}__den"]
        denominator = _percentile_cap(table, column, percentile, matured)
    return (numerator, denominator)


def _unit_values(
    table: Any, column: str, metric: Metric, look_day: int
) -> dict[str, np.ndarray[Any, Any]]:
    """Per-variant unit-level values of a quantile metric (from a histogram)."""
    rows = table.filter(_matured(table, metric, look_day))
    histogram = (
        rows.group_by(variant=rows.variant, value=rows[column])
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
