"""Stream Arrow tables into staging tables, then swap them in at once.

Rows go to ``_veedel_sim_stage_<table>`` tables in chunks, so memory stays
flat however large the run. Only when every chunk is written does one
transaction replace the live rows: in a canonical table the rows the
simulator owns are replaced by the staged rows and rows of other sources
stay (on DuckDB those few rows are copied into the staged table, which then
takes the live table's place; elsewhere the owned rows are deleted and the
staged rows inserted, which keeps views that depend on the table); a
``truth_*`` table is replaced whole. A run that fails before the swap leaves
the warehouse as it was and drops its staging tables.

Transactions are used on DuckDB and PostgreSQL; on other engines the swap
runs statement by statement.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
from ibis.expr.schema import Schema

__all__ = ["STAGE_PREFIX", "StagedWriter"]

log = logging.getLogger(__name__)

STAGE_PREFIX = "_veedel_sim_stage_"
_register_names = itertools.count()


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class StagedWriter:
    """Write named tables through staging tables.

    Parameters
    ----------
    con
        An Ibis backend.
    schemas
        Table name to Ibis schema, for every table the run writes.
    chunk_rows
        Rows buffered per table before they are inserted.
    """

    def __init__(
        self, con: Any, schemas: Mapping[str, Schema], chunk_rows: int = 500_000
    ) -> None:
        self.con = con
        self.schemas = dict(schemas)
        self.chunk_rows = chunk_rows
        self.rows: dict[str, int] = dict.fromkeys(self.schemas, 0)
        self._buffer: dict[str, list[pa.Table]] = {name: [] for name in self.schemas}
        self._buffered: dict[str, int] = dict.fromkeys(self.schemas, 0)

    def open(self) -> None:
        """Create empty staging tables, replacing leftovers of a failed run."""
        for name, schema in self.schemas.items():
            self.con.create_table(STAGE_PREFIX + name, schema=schema, overwrite=True)

    def write(self, name: str, table: pa.Table) -> None:
        """Queue ``table``'s rows for ``name``; insert once a chunk is full."""
        self._buffer[name].append(table)
        self._buffered[name] += table.num_rows
        self.rows[name] += table.num_rows
        if self._buffered[name] >= self.chunk_rows:
            self._flush(name)

    def _flush(self, name: str) -> None:
        if not self._buffered[name]:
            self._buffer[name] = []
            return
        table = pa.concat_tables(self._buffer[name])
        self._buffer[name], self._buffered[name] = [], 0
        stage = STAGE_PREFIX + name
        if self.con.name == "duckdb":
            # Registering the Arrow table lets DuckDB read it without a copy.
            view = f"_veedel_sim_arrow_{next(_register_names)}"
            self.con.con.register(view, table)
            try:
                self.con.con.execute(
                    f"INSERT INTO {_quoted(stage)} SELECT * FROM {view}"
                )
            finally:
                self.con.con.unregister(view)
        else:
            self.con.insert(stage, table)
        log.debug("Staged %d rows of %s", table.num_rows, name)

    def swap(self, delete_where: Mapping[str, str | None]) -> None:
        """Move every staged table into its live table in one transaction.

        ``delete_where`` gives, per table, the SQL condition of the live rows
        to replace, or None to replace the live table whole.
        """
        for name in self.schemas:
            self._flush(name)
        existing = set(self.con.list_tables())
        statements = []
        for name, schema in self.schemas.items():
            stage, live = _quoted(STAGE_PREFIX + name), _quoted(name)
            condition = delete_where.get(name)
            if condition is None:
                statements.append(f"DROP TABLE IF EXISTS {live}")
                statements.append(f"ALTER TABLE {stage} RENAME TO {live}")
                continue
            if name not in existing:
                self.con.create_table(name, schema=schema)
            columns = ", ".join(_quoted(column) for column in schema.names)
            if self.con.name == "duckdb":
                # Copy the (usually few) rows of other sources into the staged
                # table and rename it, rather than copy every simulated row.
                statements.append(
                    f"INSERT INTO {stage} ({columns}) SELECT {columns} FROM {live}"
                    f" WHERE ({condition}) IS NOT TRUE"
                )
                statements.append(f"DROP TABLE {live}")
                statements.append(f"ALTER TABLE {stage} RENAME TO {live}")
                continue
            statements.append(f"DELETE FROM {live} WHERE {condition}")
            statements.append(
                f"INSERT INTO {live} ({columns}) SELECT {columns} FROM {stage}"
            )
            statements.append(f"DROP TABLE {stage}")
        self._run_in_transaction(statements)
        log.debug("Swapped in %d simulated tables", len(self.schemas))

    def discard(self) -> None:
        """Drop the staging tables (after a failure); never raises."""
        for name in self.schemas:
            try:
                self.con.drop_table(STAGE_PREFIX + name, force=True)
            except Exception:  # cleaning up must not hide the original error
                log.warning("Could not drop staging table %s", STAGE_PREFIX + name)

    def _run_in_transaction(self, statements: list[str]) -> None:
        backend = self.con.name
        if backend == "duckdb":
            raw = self.con.con
            raw.execute("BEGIN TRANSACTION")
            try:
                for statement in statements:
                    raw.execute(statement)
            except BaseException:
                raw.execute("ROLLBACK")
                raise
            raw.execute("COMMIT")
        elif backend == "postgres":
            raw = self.con.con
            with raw.transaction(), raw.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
        else:
            log.warning("%s has no transactions here; swapping step by step", backend)
            for statement in statements:
                self.con.raw_sql(statement)
