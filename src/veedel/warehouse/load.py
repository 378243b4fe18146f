"""Writing canonical tables: stage record batches, then insert new keys at once.

Every product and every ingest writes the warehouse through this module. Rows
are first staged into temporary tables, one per target table; nothing in the
warehouse changes while staging. :meth:`StagedLoad.commit` then opens one
transaction that creates any missing target table with its canonical schema
and inserts only the staged rows whose key is not yet present. A second load
of the same rows therefore writes nothing, and a failure at any point before
``COMMIT`` leaves the warehouse exactly as it was.

Ibis has no transaction API across engines, so ``BEGIN``, ``COMMIT`` and
``ROLLBACK`` go to the backend's own connection as raw SQL; every other
statement is compiled by Ibis and sqlglot with quoted identifiers, and no value
is ever spliced into SQL text.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot.expressions as sge
from ibis.expr.schema import Schema

from veedel.errors import ConfigError, DataError, VeedelError
from veedel.warehouse.schema import CANONICAL_TABLES, TABLES

__all__ = ["StagedLoad", "arrow_schema", "conform", "load"]

log = logging.getLogger(__name__)

_SEQ = "_veedel_seq"
_PG_LOCK_KEY = 0x7665_6564_656C  # "veedel"; the key of veedel's advisory lock
_RANK = "_veedel_rank"


def arrow_schema(table: str) -> pa.Schema:
    """The pyarrow schema of canonical ``table`` (columns in canonical order)."""
    if table not in TABLES:
        raise ConfigError(
            "table", f"must be one of {', '.join(CANONICAL_TABLES)}", table
        )
    schema: pa.Schema = TABLES[table].schema.to_pyarrow()
    return schema


def conform(table: str, data: pa.RecordBatch | pa.Table, schema: pa.Schema) -> pa.Table:
    """Cast ``data`` to ``schema``: fill missing nullable columns, check the rest.

    Columns are reordered to the schema's order. A column the schema does not
    know, a missing required column, a value that cannot be cast and a null in
    a required column each raise :class:`~veedel.errors.DataError` naming the
    table, the column and the value.
    """
    data = pa.Table.from_batches([data]) if isinstance(data, pa.RecordBatch) else data
    unknown = [name for name in data.column_names if name not in schema.names]
    if unknown:
        raise DataError(
            f"{table}.{unknown[0]}",
            f"is not a column of table {table} (columns: {', '.join(schema.names)})",
            unknown[0],
        )

    columns = []
    for field in schema:
        if field.name not in data.column_names:
            if not field.nullable:
                raise DataError(
                    f"{table}.{field.name}", "is required but missing", None
                )
            columns.append(pa.nulls(data.num_rows, type=field.type))
            continue
        columns.append(_cast_column(table, field, data.column(field.name)))

    return pa.Table.from_arrays(columns, schema=schema)


def _cast_column(table: str, field: pa.Field, column: pa.ChunkedArray) -> Any:
    """One column cast to the field's type, with required values checked."""
    try:
        cast = pc.cast(column, field.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataError(
            f"{table}.{field.name}",
            f"must be convertible to {field.type} ({exc})",
            str(column.type),
        ) from None

    if not field.nullable and cast.null_count:
        row = pc.index(pc.is_null(cast), True).as_py()
        raise DataError(
            f"{table}.{field.name}", "must not be null", None, where=f"row {row}"
        )
    return cast


class StagedLoad:
    """Stage batches for several tables, then write them in one transaction.

    Parameters
    ----------
    con
        An Ibis backend from :func:`veedel.warehouse.connect` (DuckDB,
        PostgreSQL, ...).
    keys
        Key columns of tables outside the canonical model (for example the
        simulator's ``truth_*`` tables); their schema is taken from the first
        batch staged. Canonical tables always use their canonical key.
    whole_model
        Also create, empty and in the same transaction, every canonical table
        the warehouse lacks, so that a warehouse veedel built always holds the
        whole data model (ingest does this; products writing their own tables
        do not).

    Examples
    --------
    >>> import pyarrow as pa
    >>> from veedel.warehouse import connect
    >>> con = connect("duckdb://")
    >>> rows = pa.table({"channel_id": ["c1", "c2"], "name": ["a", "b"]})
    >>> with StagedLoad(con) as staged:
    ...     _ = staged.stage("channels", rows)
    ...     staged.commit()
    {'channels': 2}
    """

    def __init__(
        self,
        con: Any,
        *,
        keys: Mapping[str, Sequence[str]] | None = None,
        whole_model: bool = False,
    ):
        self.con = con
        self.whole_model = whole_model
        self._extra_keys = {name: tuple(cols) for name, cols in (keys or {}).items()}
        self._schemas: dict[str, pa.Schema] = {}
        self._stages: dict[str, str] = {}
        self._staged: dict[str, int] = {}
        self._closed = False

    @property
    def staged(self) -> dict[str, int]:
        """Rows staged so far per table."""
        return dict(self._staged)

    def key(self, table: str) -> tuple[str, ...]:
        """The key columns of ``table``."""
        if table in TABLES:
            return TABLES[table].key
        if table in self._extra_keys:
            return self._extra_keys[table]
        raise ConfigError(
            "table",
            f"must be a canonical table ({', '.join(CANONICAL_TABLES)}) or have"
            " its key given in keys=",
            table,
        )

    def stage(self, table: str, data: pa.RecordBatch | pa.Table) -> int:
        """Add ``data`` to the staging table of ``table``; returns rows staged.

        Nothing in the warehouse's own tables changes until :meth:`commit`.
        """
        if self._closed:
            raise RuntimeError("this StagedLoad was already committed or discarded")
        key = self.key(table)
        schema = self._schema_for(table, data)
        rows = conform(table, data, schema)
        missing = [col for col in key if col not in schema.names]
        if missing:
            raise ConfigError(f"keys[{table!r}]", "must name columns", missing[0])
        if rows.num_rows == 0:
            return 0

        # The sequence column lets the commit keep the first row of a key that
        # was staged twice, so the result does not depend on engine order.
        start = self._staged.get(table, 0)
        seq = pa.array(range(start, start + rows.num_rows), type=pa.int64())
        rows = rows.append_column(_SEQ, seq)
        with self._engine_step(table):
            if table not in self._stages:
                self._create_stage(table, rows.schema)
            self._append(self._stages[table], rows)
        self._staged[table] = start + rows.num_rows
        log.debug("Staged %d rows for %s", rows.num_rows, table)
        return int(rows.num_rows)

    def commit(self) -> dict[str, int]:
        """Insert staged rows with new keys, all tables in one transaction.

        Returns
        -------
        dict
            Rows written per staged table (0 where every key was present).
        """
        if self._closed:
            raise RuntimeError("this StagedLoad was already committed or discarded")
        order = [t for t in CANONICAL_TABLES if t in self._stages]
        order += sorted(t for t in self._stages if t not in TABLES)
        for table in order:
            self._check_existing(table)

        written: dict[str, int] = {}
        self._execute("BEGIN")
        try:
            if self.con.name == "postgres":
                # One veedel load at a time per database: two first loads would
                # otherwise both try to create the same table.
                self._execute(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
            for table in order:
                with self._engine_step(table):
                    written[table] = self._write(table)
            if self.whole_model:
                self._create_missing_tables()
            self._execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):
                self._execute("ROLLBACK")
            raise
        finally:
            self.discard()

        for table, n in written.items():
            log.debug("Wrote %d new rows to %s", n, table)
        return written

    def discard(self) -> None:
        """Drop the staging tables; the warehouse's own tables are untouched."""
        self._closed = True
        for stage in self._stages.values():
            with contextlib.suppress(Exception):
                self._execute(f"DROP TABLE IF EXISTS {_quote(stage, self.con.dialect)}")
        self._stages.clear()

    def __enter__(self) -> StagedLoad:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.discard()

    # -- steps ---------------------------------------------------------------

    @contextlib.contextmanager
    def _engine_step(self, table: str) -> Iterator[None]:
        """Turn an engine's own error while writing ``table`` into a DataError."""
        try:
            yield
        except VeedelError:
            raise
        except Exception as exc:  # engines and drivers raise their own types
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise DataError(
                f"{table}",
                f"must be accepted by the {self.con.name} warehouse, which refused"
                f" it ({type(exc).__name__}: {reason})",
                self.con.name,
                fix="Nothing was written. Warehouses tested with veedel are"
                " DuckDB and PostgreSQL.",
            ) from exc

    def _schema_for(self, table: str, data: pa.RecordBatch | pa.Table) -> pa.Schema:
        if table not in self._schemas:
            self._schemas[table] = (
                arrow_schema(table) if table in TABLES else data.schema
            )
        return self._schemas[table]

    def _create_stage(self, table: str, schema: pa.Schema) -> None:
        name = f"_veedel_stage_{table}_{uuid.uuid4().hex[:12]}"
        self.con.create_table(name, schema=Schema.from_pyarrow(schema), temp=True)
        self._stages[table] = name

    def _append(self, stage: str, rows: pa.Table) -> None:
        """Bulk-append rows to a staging table with the engine's fast path."""
        if self.con.name == "duckdb":
            view = f"_veedel_arrow_{uuid.uuid4().hex[:12]}"
            self.con.con.register(view, rows)
            try:
                self.con.con.execute(
                    f"INSERT INTO {_quote(stage, self.con.dialect)}"
                    f" SELECT * FROM {_quote(view, self.con.dialect)}"
                )
            finally:
                self.con.con.unregister(view)
        elif self.con.name == "postgres":
            columns = ", ".join(_quote(c, self.con.dialect) for c in rows.column_names)
            copy_sql = f"COPY {_quote(stage, self.con.dialect)} ({columns}) FROM STDIN"
            with self.con.con.cursor() as cursor, cursor.copy(copy_sql) as copy:
                for row in zip(*(col.to_pylist() for col in rows.columns), strict=True):
                    copy.write_row(row)
        else:
            self.con.insert(stage, rows)

    def _check_existing(self, table: str) -> None:
        """An existing target table must hold every column we write."""
        if table not in self.con.list_tables():
            return
        present = set(self.con.table(table).columns)
        missing = [name for name in self._schemas[table].names if name not in present]
        if missing:
            raise ConfigError(
                f"{table}.{missing[0]}",
                f"must exist in the warehouse's table {table} (is the warehouse"
                " at an older schema? run `veedel warehouse check`)",
                None,
            )

    def _write(self, table: str) -> int:
        """Create ``table`` if missing and insert the new keys; returns rows."""
        schema = Schema.from_pyarrow(self._schemas[table])
        target = _quote(table, self.con.dialect)
        self._execute(self._create_sql(table, schema))
        if self.con.name == "postgres":
            # Two loads at once must not both see a key as new: writers queue
            # on the table until commit, readers are not blocked.
            self._execute(f"LOCK TABLE {target} IN SHARE ROW EXCLUSIVE MODE")

        select = self._new_rows_sql(table, schema)
        count = self._execute(f"SELECT COUNT(*) FROM ({select}) AS new_rows", True)
        columns = ", ".join(_quote(col, self.con.dialect) for col in schema.names)
        self._execute(f"INSERT INTO {target} ({columns}) {select}")
        return int(count[0])

    def _create_missing_tables(self) -> None:
        """Create the canonical tables nothing was staged for, empty."""
        for table in CANONICAL_TABLES:
            if table not in self._stages:
                with self._engine_step(table):
                    self._execute(self._create_sql(table, TABLES[table].schema))

    def _create_sql(self, table: str, schema: Schema) -> str:
        dialect = self.con.dialect
        create = sge.Create(
            kind="TABLE",
            exists=True,
            this=sge.Schema(
                this=sge.table_(table, quoted=True),
                expressions=schema.to_sqlglot_column_defs(dialect),
            ),
        )
        return str(create.sql(dialect))

    def _new_rows_sql(self, table: str, schema: Schema) -> str:
        """SELECT of staged rows whose key is new, first staged row per key."""
        key = self.key(table)
        stage_schema = ibis.schema({**dict(schema.items()), _SEQ: "int64"})
        staged = ibis.table(stage_schema, name=self._stages[table])
        target = ibis.table(schema, name=table)

        rank = ibis.row_number().over(
            group_by=[staged[col] for col in key], order_by=staged[_SEQ]
        )
        first = staged.mutate(**{_RANK: rank})
        first = first.filter(first[_RANK] == 0)
        new = first.anti_join(target, list(key)).select(*schema.names)
        return str(ibis.to_sql(new, dialect=self.con.name))

    def _execute(self, sql: str, fetch: bool = False) -> Any:
        """Run one statement on the backend's own connection."""
        cursor = self.con.raw_sql(sql)
        try:
            return cursor.fetchone() if fetch else None
        finally:
            # DuckDB hands back its connection itself; only close real cursors.
            if cursor is not self.con.con:
                cursor.close()


def _quote(identifier: str, dialect: Any) -> str:
    return str(sge.to_identifier(identifier, quoted=True).sql(dialect))


def load(
    con: Any,
    batches: Iterable[tuple[str, pa.RecordBatch | pa.Table]],
    *,
    keys: Mapping[str, Sequence[str]] | None = None,
    whole_model: bool = False,
) -> dict[str, int]:
    """Write ``(table, batch)`` pairs to the warehouse; returns rows written.

    All batches are staged first and then written in one transaction, new keys
    only, so running the same load twice writes nothing the second time. If
    anything fails (a bad batch, the iterator raising, the engine refusing),
    the warehouse is left exactly as it was.

    Parameters
    ----------
    con
        An Ibis backend from :func:`veedel.warehouse.connect`.
    batches
        Pairs of a table name and a pyarrow ``RecordBatch`` or ``Table``; may be
        a generator, consumed once.
    keys
        Key columns of non-canonical tables (see :class:`StagedLoad`).
    whole_model
        Also create every missing canonical table, empty (see
        :class:`StagedLoad`).

    Returns
    -------
    dict
        Rows written per table.
    """
    with StagedLoad(con, keys=keys, whole_model=whole_model) as staged:
        for table, batch in batches:
            staged.stage(table, batch)
        return staged.commit()
