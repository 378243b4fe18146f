"""One ingest run: buffer converted rows, stage them, commit them at once.

Every source module converts its rows to canonical dicts and hands them to an
:class:`IngestRun`. The run buffers rows per table, stages them in batches via
:class:`~veedel.warehouse.load.StagedLoad`, turns row problems into errors or
rejects, and at the end writes everything in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import pyarrow as pa

from veedel.errors import DataError
from veedel.warehouse.ingest.rejects import Reject, RejectSink, RowProblem
from veedel.warehouse.ingest.summary import IngestSummary
from veedel.warehouse.load import StagedLoad, arrow_schema

__all__ = ["BATCH_ROWS", "IngestRun", "Progress"]

log = logging.getLogger(__name__)

BATCH_ROWS = 10_000
"""Rows buffered per table before they are staged."""

Progress = Callable[[int], None]
"""Called with the number of bytes read since the last call."""

_EXAMPLES = 20


class IngestRun:
    """Collects the rows of one ingest and writes them in one transaction.

    Parameters
    ----------
    con
        The warehouse (an Ibis backend).
    source
        A label for the summary, e.g. ``stackexchange:conlang``.
    skip_bad_rows
        Set bad rows aside instead of failing; without it the first bad row
        raises :class:`~veedel.errors.DataError` and nothing is written.
    rejects
        Where to write the rejected rows (``.csv`` or ``.jsonl``); optional.
    """

    def __init__(
        self,
        con: Any,
        source: str,
        *,
        skip_bad_rows: bool = False,
        rejects: Path | None = None,
    ) -> None:
        self.skip_bad_rows = skip_bad_rows
        self.summary = IngestSummary(source=source, rejects_path=rejects)
        self._loader = StagedLoad(con, whole_model=True)
        self._sink = RejectSink(rejects) if rejects is not None else None
        self._buffers: dict[str, list[dict[str, Any]]] = {}

    def add(self, table: str, row: dict[str, Any]) -> None:
        """Queue one canonical row for ``table``.

        Raises :class:`RowProblem` for a value no warehouse engine can store.
        """
        _check_storable(row)
        self.summary.counts(table).read += 1
        buffer = self._buffers.setdefault(table, [])
        buffer.append(row)
        if len(buffer) >= BATCH_ROWS:
            self._flush(table)

    def skip(self, reason: str) -> None:
        """Count a source row that the data model does not represent."""
        self.summary.skipped[reason] += 1

    def problem(
        self, table: str, problem: RowProblem, file: Path, location: str
    ) -> None:
        """Handle a bad row: raise, or reject it when skipping bad rows."""
        if not self.skip_bad_rows:
            raise DataError(
                problem.field,
                problem.rule,
                problem.value,
                fix="Fix the row, or pass --skip-bad-rows to set bad rows aside.",
                where=f"{file}, {location}",
            )

        value = None if problem.value is None else str(problem.value)
        reject = Reject(
            file=str(file),
            location=location,
            table=table,
            field=problem.field,
            value=value,
            reason=f"{problem.field} {problem.rule}",
        )
        counts = self.summary.counts(table)
        counts.read += 1
        counts.rejected += 1
        if len(self.summary.rejects) < _EXAMPLES:
            self.summary.rejects.append(reject)
        if self._sink is not None:
            self._sink.write(reject)

    def finish(self) -> IngestSummary:
        """Stage what is left and write every table in one transaction."""
        for table in list(self._buffers):
            self._flush(table)
        written = self._loader.commit()
        for table, n in written.items():
            self.summary.counts(table).written = n
        if self._sink is not None:
            self._sink.close()
        log.debug(
            "Ingest of %s: %d rows read, %d written, %d rejected",
            self.summary.source,
            self.summary.read,
            self.summary.written,
            self.summary.rejected,
        )
        return self.summary

    def _flush(self, table: str) -> None:
        rows = self._buffers.get(table)
        if not rows:
            return
        self._loader.stage(table, pa.Table.from_pylist(rows, schema=_schema(table)))
        self._buffers[table] = []

    def __enter__(self) -> IngestRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # On success finish() has committed already; on failure nothing was
        # written and the staging tables go away here.
        self._loader.discard()
        if self._sink is not None:
            self._sink.close()


_SCHEMAS: dict[str, pa.Schema] = {}
_INT64 = (-(2**63), 2**63 - 1)


def _check_storable(row: dict[str, Any]) -> None:
    """Refuse text with NUL (PostgreSQL cannot hold it) and over-wide integers.

    Source readers check their own fields with the source's names; this is the
    last guard, so a row can never fail later, inside the load, without a row.
    """
    for name, value in row.items():
        if isinstance(value, str) and "\x00" in value:
            raise RowProblem(
                name,
                "must not contain the NUL character (U+0000), which PostgreSQL"
                " cannot store",
                value[:60],
            )
        if isinstance(value, int) and not _INT64[0] <= value <= _INT64[1]:
            raise RowProblem(name, "must fit a 64-bit integer", value)


def _schema(table: str) -> pa.Schema:
    if table not in _SCHEMAS:
        _SCHEMAS[table] = arrow_schema(table)
    return _SCHEMAS[table]
