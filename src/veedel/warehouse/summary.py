"""What a warehouse holds: rows, time span and sources of every table.

:func:`summarise_warehouse` asks the engine for counts and minima and maxima
only; the :class:`WarehouseSummary` renders itself as a Rich table and to JSON.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.table import Table

from veedel.warehouse.schema import TABLES

__all__ = ["MAX_SOURCES", "TableSummary", "WarehouseSummary", "summarise_warehouse"]

log = logging.getLogger(__name__)

MAX_SOURCES = 20
"""Sources listed per table; the rest are summed under ``(other)``."""

# Tables that engines or Ibis create for their own work, not data.
_INTERNAL_PREFIXES = ("ibis_", "_")


@dataclass(frozen=True)
class TableSummary:
    """One table: whether it exists, its rows, time span and rows per source.

    ``first`` and ``last`` span ``time_column`` (the table's first canonical
    timestamp column); ``sources`` counts rows per value of ``source``.
    """

    name: str
    present: bool
    rows: int = 0
    time_column: str | None = None
    first: datetime | None = None
    last: datetime | None = None
    sources: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The table's summary as JSON-ready data."""
        return {
            "name": self.name,
            "present": self.present,
            "rows": self.rows,
            "time_column": self.time_column,
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
            "sources": dict(self.sources),
        }


@dataclass(frozen=True)
class WarehouseSummary:
    """The canonical tables in model order, then every other table by name."""

    tables: tuple[TableSummary, ...]

    def table(self, name: str) -> TableSummary:
        """The summary of one table; ``KeyError`` when the warehouse lacks it."""
        for summary in self.tables:
            if summary.name == name:
                return summary
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data."""
        return {"tables": [t.to_dict() for t in self.tables]}

    def to_json(self, indent: int | None = 2) -> str:
        """The summary as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)

    def __rich_console__(
        self, console: Console, options: ConsoleOptions
    ) -> Iterator[RenderableType]:
        table = Table(title="Warehouse summary")
        # Each source gets an indented row of its own under its table, so long
        # source names stay whole on an 80-column terminal.
        table.add_column("table / source", no_wrap=True)
        table.add_column("rows", justify="right", no_wrap=True)
        table.add_column("from", no_wrap=True)
        table.add_column("to", no_wrap=True)

        for t in self.tables:
            if not t.present:
                table.add_row(t.name, "[dim]absent[/]", "", "")
                continue
            table.add_row(t.name, f"{t.rows:,}", _day(t.first), _day(t.last))
            for source, n in t.sources.items():
                table.add_row(f"[dim]  {source}[/]", f"[dim]{n:,}[/]", "", "")
        yield table


def summarise_warehouse(con: Any) -> WarehouseSummary:
    """Rows, time span and sources of every table in the warehouse.

    Parameters
    ----------
    con
        An Ibis backend, as returned by :func:`veedel.warehouse.connect`.

    Returns
    -------
    WarehouseSummary
        The canonical tables first (absent ones marked so), then the other
        tables of the warehouse, such as the simulator's ``truth_*`` tables,
        with their row counts.

    Examples
    --------
    >>> from veedel.warehouse import connect
    >>> summarise_warehouse(connect("duckdb://")).table("posts").present
    False
    """
    present = set(con.list_tables())
    others = sorted(
        name
        for name in present - set(TABLES)
        if not name.startswith(_INTERNAL_PREFIXES)
    )
    summaries = [
        _summarise_present(con, name) if name in present else TableSummary(name, False)
        for name in [*TABLES, *others]
    ]
    log.debug("Summarised %d warehouse tables", len(summaries))
    return WarehouseSummary(tuple(summaries))


def _summarise_present(con: Any, name: str) -> TableSummary:
    """A listed table's summary; one that cannot be read is marked absent."""
    try:
        t = con.table(name)
    except Exception as exc:  # engines raise their own types
        log.warning("Table %s is listed but cannot be read: %s", name, exc)
        return TableSummary(name, present=False)
    return _summarise_table(t, name)


def _summarise_table(t: Any, name: str) -> TableSummary:
    """Count, time span and sources of one table, in two queries at most."""
    time_column = _time_column(t, name)
    metrics = {"rows": t.count()}
    if time_column:
        metrics["first"] = t[time_column].min()
        metrics["last"] = t[time_column].max()
    try:
        (row,) = t.aggregate(**metrics).to_pyarrow().to_pylist()
    except Exception:  # engines and drivers raise their own types
        if not time_column:
            raise
        # 'infinity' and years past 9999 cannot become datetimes: span the rest.
        column = t[time_column]
        held = column.between(_FIRST_HELD, _LAST_HELD)
        metrics["first"] = column.min(where=held)
        metrics["last"] = column.max(where=held)
        (row,) = t.aggregate(**metrics).to_pyarrow().to_pylist()

    sources: dict[str, int] = {}
    if "source" in t.columns and t.source.type().is_string():
        sources = _sources(t)
    return TableSummary(
        name,
        present=True,
        rows=int(row["rows"]),
        time_column=time_column,
        first=row.get("first"),
        last=row.get("last"),
        sources=sources,
    )


_FIRST_HELD = datetime(1, 1, 2)
_LAST_HELD = datetime(9999, 12, 30)


def _time_column(t: Any, name: str) -> str | None:
    """The first declared timestamp column that exists as a timestamp."""
    declared = TABLES[name].schema if name in TABLES else t.schema()
    for column, dtype in declared.items():
        if not dtype.is_timestamp() or column not in t.columns:
            continue
        if t[column].type().is_timestamp():
            return str(column)
    return None


def _sources(t: Any) -> dict[str, int]:
    """Rows per source, largest first; past MAX_SOURCES summed as ``(other)``."""
    counts = t.group_by("source").aggregate(n=t.count())
    ordered = counts.order_by([counts.n.desc(), counts.source])
    records = ordered.limit(MAX_SOURCES + 1).to_pyarrow().to_pylist()

    sources = {
        ("(none)" if r["source"] is None else str(r["source"])): int(r["n"])
        for r in records[:MAX_SOURCES]
    }
    if len(records) > MAX_SOURCES:
        total = int(t.count().execute())
        sources["(other)"] = total - sum(sources.values())
    return sources


def _day(value: datetime | None) -> str:
    """A timestamp as its day, for the table; empty when unknown."""
    return value.date().isoformat() if value else ""
