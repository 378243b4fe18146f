"""Ingest generic CSV and Parquet files described by a small YAML mapping.

A mapping names, for each input, the canonical table it feeds, its files, which
source column fills which canonical column, constant values, and how
timestamps are written::

    inputs:
      - table: posts
        files: [posts.csv]           # relative to the mapping file; globs work
        timestamp_format: "%d.%m.%Y %H:%M"   # or iso, unix, unix_ms
        columns:                     # canonical column: source column
          post_id: id
          user_id: author
          created_at: posted
          text: body
        constants:                   # canonical column: value for every row
          channel_id: general

The mapping is validated before any file is read; every error names the
mapping file, the field (``inputs[0].columns.score``) and the value.
"""

from __future__ import annotations

import codecs
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import ibis.expr.datatypes as dt
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from veedel.errors import ConfigError, DataError
from veedel.warehouse.ingest.readers import (
    CsvRecord,
    check_int64,
    iter_csv,
    naive_utc,
)
from veedel.warehouse.ingest.rejects import RowProblem
from veedel.warehouse.ingest.run import IngestRun, Progress
from veedel.warehouse.ingest.summary import IngestSummary
from veedel.warehouse.schema import CANONICAL_TABLES, TABLES

__all__ = ["MappedInput", "ingest_files", "read_mapping"]

log = logging.getLogger(__name__)

FORMATS = ("csv", "parquet")
_NAMED_FORMATS = ("iso", "unix", "unix_ms")
_INPUT_KEYS = {
    "table",
    "files",
    "format",
    "encoding",
    "delimiter",
    "timestamp_format",
    "columns",
    "constants",
}
_RANGES = {"latitude": (-90.0, 90.0), "longitude": (-180.0, 180.0)}


@dataclass(frozen=True)
class MappedInput:
    """One validated input of a mapping: a table, its files and its columns."""

    table: str
    files: tuple[Path, ...]
    format: str
    columns: dict[str, str]
    constants: dict[str, Any]
    timestamp_format: str = "iso"
    encoding: str = "utf-8"
    delimiter: str = ","
    where: str = field(default="", compare=False)


def read_mapping(path: str | Path) -> list[MappedInput]:
    """Read and validate a mapping file; raises ConfigError naming the field."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("mapping", "must be an existing YAML file", str(path))
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(
            "mapping", f"must be valid UTF-8 YAML ({exc})", None, where=str(path)
        ) from None

    if not isinstance(document, dict):
        raise ConfigError(
            "mapping",
            "must be a YAML mapping: one input's fields, or inputs: with a list",
            _short(document),
            where=str(path),
        )
    if "inputs" not in document:
        document = {"inputs": [document]}
    if not isinstance(document["inputs"], list):
        raise ConfigError(
            "inputs",
            "must be a list of inputs",
            _short(document["inputs"]),
            where=str(path),
            fix="Write each input as a list item under inputs:, starting with '- '.",
        )
    if not document["inputs"]:
        raise ConfigError("inputs", "must list at least one input", [], where=str(path))

    return [
        _validate_input(spec, f"inputs[{i}]", path)
        for i, spec in enumerate(document["inputs"])
    ]


def _short(value: Any) -> Any:
    """``value``, or a short description when its repr could be long."""
    if isinstance(value, dict | list):
        return f"a {type(value).__name__} of {len(value)} items"
    if isinstance(value, str) and len(value) > 80:
        return f"{value[:40]}… ({len(value)} characters)"
    return value


def _validate_input(spec: Any, name: str, path: Path) -> MappedInput:
    where = str(path)
    if not isinstance(spec, dict):
        raise ConfigError(
            name, "must be a mapping of keys to values", spec, where=where
        )
    unknown = sorted(set(spec) - _INPUT_KEYS)
    if unknown:
        raise ConfigError(
            f"{name}.{unknown[0]}",
            f"is not a mapping key (keys: {', '.join(sorted(_INPUT_KEYS))})",
            unknown[0],
            where=where,
        )

    table = spec.get("table")
    if table not in TABLES:
        raise ConfigError(
            f"{name}.table",
            f"must be one of {', '.join(CANONICAL_TABLES)}",
            table,
            where=where,
        )
    schema = TABLES[table].schema
    columns = _string_dict(spec.get("columns", {}), f"{name}.columns", where)
    constants = spec.get("constants", {}) or {}
    if not isinstance(constants, dict):
        raise ConfigError(
            f"{name}.constants", "must be a mapping", constants, where=where
        )

    for key in [*columns, *constants]:
        section = "columns" if key in columns else "constants"
        if key not in schema.names:
            raise ConfigError(
                f"{name}.{section}.{key}",
                f"must be a column of {table} ({', '.join(schema.names)})",
                key,
                where=where,
            )
    both = sorted(set(columns) & set(constants))
    if both:
        raise ConfigError(
            f"{name}.constants.{both[0]}",
            "must not also be mapped from a column",
            both[0],
            where=where,
        )
    missing = [
        col
        for col, dtype in schema.items()
        if not dtype.nullable and col not in columns and col not in constants
    ]
    if missing:
        raise ConfigError(
            f"{name}.columns.{missing[0]}",
            f"is required for {table}; map it from a column or give a constant",
            None,
            where=where,
        )

    encoding, delimiter = _csv_options(spec, name, where)
    timestamp_format = _timestamp_format(spec, name, where)
    files = _files(spec.get("files"), f"{name}.files", path)
    file_format = _format(spec.get("format"), files, f"{name}.format", where)
    _check_constants(table, constants, timestamp_format, f"{name}.constants", where)

    return MappedInput(
        table=table,
        files=files,
        format=file_format,
        columns=columns,
        constants=dict(constants),
        timestamp_format=timestamp_format,
        encoding=encoding,
        delimiter=delimiter,
        where=where,
    )


def _string_dict(value: Any, name: str, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigError(
            name,
            "must map canonical column names to source column names",
            value,
            where=where,
        )
    return dict(value)


def _csv_options(spec: dict[str, Any], name: str, where: str) -> tuple[str, str]:
    """The CSV encoding and delimiter, checked before any file is opened."""
    encoding = spec.get("encoding", "utf-8")
    try:
        codecs.lookup(str(encoding))
    except LookupError:
        raise ConfigError(
            f"{name}.encoding",
            "must be an encoding Python knows, such as utf-8, latin-1 or utf-16",
            encoding,
            where=where,
        ) from None
    delimiter = spec.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ConfigError(
            f"{name}.delimiter",
            "must be a single character such as ',' or ';'",
            delimiter,
            where=where,
        )
    return str(encoding), delimiter


def _timestamp_format(spec: dict[str, Any], name: str, where: str) -> str:
    value = spec.get("timestamp_format", "iso")
    if not isinstance(value, str) or not (value in _NAMED_FORMATS or "%" in value):
        raise ConfigError(
            f"{name}.timestamp_format",
            "must be iso, unix, unix_ms or a strptime pattern such as"
            " '%Y-%m-%d %H:%M:%S'",
            value,
            where=where,
        )
    return value


def _files(value: Any, name: str, path: Path) -> tuple[Path, ...]:
    patterns = [value] if isinstance(value, str) else value
    if not isinstance(patterns, list) or not patterns:
        raise ConfigError(name, "must name one or more files", value, where=str(path))

    found: list[Path] = []
    for pattern in patterns:
        matches = _glob(path.parent, str(pattern))
        if not matches:
            raise ConfigError(
                name,
                f"must match files relative to {path.parent}",
                pattern,
                where=str(path),
            )
        found.extend(m for m in matches if m.is_file())
    return tuple(found)


def _glob(base: Path, pattern: str) -> list[Path]:
    """Files matching ``pattern``, relative to ``base`` unless absolute."""
    target = Path(pattern)
    if target.is_absolute():
        base, pattern = Path(target.anchor), str(target.relative_to(target.anchor))
    return sorted(base.glob(pattern))


def _format(value: Any, files: tuple[Path, ...], name: str, where: str) -> str:
    if value is not None:
        if value not in FORMATS:
            raise ConfigError(name, "must be csv or parquet", value, where=where)
        return str(value)
    suffixes = {p.suffix.lower().lstrip(".") for p in files}
    if len(suffixes) == 1 and (suffix := suffixes.pop()) in FORMATS:
        return suffix
    raise ConfigError(
        name,
        "must be given when the files do not all end in .csv or .parquet",
        sorted(str(p) for p in files),
        where=where,
    )


def _check_constants(
    table: str, constants: dict[str, Any], ts_format: str, name: str, where: str
) -> None:
    schema = TABLES[table].schema
    for column, value in constants.items():
        if not isinstance(value, str | int | float | date):
            raise ConfigError(
                f"{name}.{column}",
                "must be a single value (text, number or date)",
                value,
                where=where,
            )
        try:
            _convert(value, schema[column], column, table, ts_format)
        except RowProblem as problem:
            raise ConfigError(
                f"{name}.{column}", problem.rule, value, where=where
            ) from None


def ingest_files(
    con: Any,
    mapping: str | Path,
    *,
    skip_bad_rows: bool = False,
    rejects: str | Path | None = None,
    progress: Progress | None = None,
) -> IngestSummary:
    """Load the CSV and Parquet files a YAML mapping describes.

    Parameters
    ----------
    con
        The warehouse, from :func:`veedel.warehouse.connect`.
    mapping
        The mapping file (see the module docstring and ``docs/ingest.md``).
    skip_bad_rows
        Set bad rows aside (counted, written to ``rejects``) instead of failing.
    rejects
        File for the rejected rows with their reason (``.csv`` or ``.jsonl``).
    progress
        Called with the number of bytes read as reading advances.

    Returns
    -------
    IngestSummary
        Rows read, written, already present and rejected per table.

    Raises
    ------
    ConfigError
        When the mapping breaks a rule; nothing has been read then.
    DataError
        On malformed input, naming file, line or row, field and value; the
        warehouse is left unchanged.
    """
    inputs = read_mapping(mapping)
    stem = Path(mapping).stem
    rejects_path = Path(rejects) if rejects is not None else None
    with IngestRun(
        con, f"files:{stem}", skip_bad_rows=skip_bad_rows, rejects=rejects_path
    ) as run:
        for spec in inputs:
            constants = dict(spec.constants)
            if "source" not in spec.columns:
                constants.setdefault("source", f"files:{stem}")
            for path in spec.files:
                run.summary.files.append(path)
                _read_file(spec, constants, path, run, progress)
        return run.finish()


def _read_file(
    spec: MappedInput,
    constants: dict[str, Any],
    path: Path,
    run: IngestRun,
    progress: Progress | None,
) -> None:
    log.debug("Reading %s into %s", path, spec.table)
    schema = TABLES[spec.table].schema
    fixed = {
        col: _convert(value, schema[col], col, spec.table, spec.timestamp_format)
        for col, value in constants.items()
    }

    for location, values in _records(spec, path, progress):
        if isinstance(values, RowProblem):
            run.problem(spec.table, values, path, location)
            continue
        try:
            row = dict(fixed)
            for column, source in spec.columns.items():
                row[column] = _convert(
                    values.get(source),
                    schema[column],
                    source,
                    spec.table,
                    spec.timestamp_format,
                    column,
                )
            run.add(spec.table, row)
        except RowProblem as problem:
            run.problem(spec.table, problem, path, location)


def _records(
    spec: MappedInput, path: Path, progress: Progress | None
) -> Iterator[tuple[str, dict[str, Any] | RowProblem]]:
    """``(location, values)`` per record, or a RowProblem for a broken record."""
    needed = sorted(set(spec.columns.values()))
    if spec.format == "csv":
        records = iter_csv(
            path,
            needed,
            encoding=spec.encoding,
            delimiter=spec.delimiter,
            progress=progress,
        )
        for record in records:
            if isinstance(record, CsvRecord):
                yield record.location, record.values
            else:
                number, line, problem = record
                yield f"line {line} (record {number})", problem
        return
    yield from _parquet_records(path, needed, progress)


def _parquet_records(
    path: Path, needed: list[str], progress: Progress | None
) -> Iterator[tuple[str, dict[str, Any] | RowProblem]]:
    if path.stat().st_size == 0:
        raise DataError("file", "must not be empty", "0 bytes", where=str(path))
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(
            "file", f"must be a Parquet file ({exc})", path.name, where=str(path)
        ) from None

    present = parquet.schema_arrow.names
    missing = [name for name in needed if name not in present]
    if missing:
        raise DataError(
            missing[0],
            f"is a required column (the file has: {', '.join(present)})",
            None,
            where=str(path),
        )

    total = max(parquet.metadata.num_rows, 1)
    size = path.stat().st_size
    number = 0
    for batch in parquet.iter_batches(batch_size=10_000, columns=needed):
        for values in _batch_rows(batch):
            number += 1
            yield f"row {number}", values
        if progress is not None:
            progress(size * batch.num_rows // total)


def _batch_rows(batch: pa.RecordBatch) -> list[dict[str, Any] | RowProblem]:
    """The rows of a batch; a row with text that is not UTF-8 is a RowProblem."""
    try:
        rows: list[dict[str, Any] | RowProblem] = list(batch.to_pylist())
        return rows
    except (UnicodeDecodeError, OverflowError, ValueError):
        pass

    # Parquet writers do not always check UTF-8, and a timestamp may lie past
    # year 9999; find the rows Python cannot hold one by one.
    rows = []
    for index in range(batch.num_rows):
        try:
            rows.append(_batch_row(batch, index))
        except _Unreadable as problem:
            rows.append(problem.problem)
    return rows


class _Unreadable(Exception):
    def __init__(self, problem: RowProblem) -> None:
        self.problem = problem


def _batch_row(batch: pa.RecordBatch, index: int) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in batch.column_names:
        scalar = batch.column(name)[index]
        try:
            values[name] = scalar.as_py()
        except UnicodeDecodeError as exc:
            raw = exc.object[exc.start : exc.start + 4]
            raise _Unreadable(RowProblem(name, "must be UTF-8 text", raw)) from None
        except (OverflowError, ValueError):
            # Show the stored number: the value itself cannot be converted.
            shown = f"{getattr(scalar, 'value', '?')} ({scalar.type})"
            raise _Unreadable(
                RowProblem(name, "must lie between years 1 and 9999", shown)
            ) from None
    return values


def _convert(
    value: Any,
    dtype: dt.DataType,
    column: str,
    table: str,
    ts_format: str,
    target: str | None = None,
) -> Any:
    """One source value as the canonical column's type, or a RowProblem.

    ``column`` is the name used in messages (the source column), ``target``
    the canonical column it fills. Private: the mapping was validated before.
    """
    if value is None or (isinstance(value, str) and value.strip() == ""):
        if not dtype.nullable:
            raise RowProblem(column, f"must not be empty (it fills {table})", value)
        return None
    if dtype.is_string():
        return _text(value, column)
    if dtype.is_integer():
        number = _integer(value, column)
        if table == "votes" and number not in (1, -1):
            raise RowProblem(column, "must be +1 or -1 (a vote's value)", value)
        return number
    if dtype.is_floating():
        return _float(value, column, target or column)
    if dtype.is_timestamp():
        return _timestamp(value, column, ts_format)
    return value


def _text(value: Any, column: str) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise RowProblem(column, "must be UTF-8 text", value[:20]) from None
    if isinstance(value, list | dict):
        raise RowProblem(column, "must be a single value, not a list", value)
    return str(value)


def _integer(value: Any, column: str) -> int:
    if isinstance(value, bool):
        raise RowProblem(column, "must be a whole number", value)
    if isinstance(value, int):
        return check_int64(value, column, value)
    text = str(value).strip()
    try:
        # Exact first: a float would round integers beyond 2**53.
        return check_int64(int(text), column, value)
    except ValueError:
        pass
    try:
        number = float(text)
        if not number.is_integer():
            raise ValueError(value)
    except (ValueError, OverflowError):
        raise RowProblem(column, "must be a whole number", value) from None
    return check_int64(int(number), column, value)


def _float(value: Any, column: str, target: str) -> float:
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise RowProblem(column, "must be a number", value) from None
    if math.isnan(number) or math.isinf(number):
        raise RowProblem(column, "must be a finite number", value)
    low, high = _RANGES.get(target, (-math.inf, math.inf))
    if not low <= number <= high:
        raise RowProblem(column, f"must lie between {low:g} and {high:g}", value)
    return number


def _timestamp(value: Any, column: str, ts_format: str) -> datetime:
    """A timestamp as naive UTC; aware values are converted to UTC first."""
    if isinstance(value, datetime):
        stamp = value
    elif isinstance(value, date):
        stamp = datetime(value.year, value.month, value.day)
    elif ts_format in ("unix", "unix_ms"):
        stamp = _epoch(value, column, 1000.0 if ts_format == "unix_ms" else 1.0)
    else:
        stamp = _parse_text(str(value).strip(), column, ts_format)
    return naive_utc(stamp, column, value)


def _epoch(value: Any, column: str, per_second: float) -> datetime:
    try:
        seconds = float(value) / per_second
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        unit = "milliseconds" if per_second > 1 else "seconds"
        raise RowProblem(
            column, f"must be {unit} since 1970-01-01 UTC", value
        ) from None


def _parse_text(text: str, column: str, ts_format: str) -> datetime:
    try:
        if ts_format == "iso":
            return datetime.fromisoformat(text)
        return datetime.strptime(text, ts_format)
    except ValueError:
        rule = (
            "must be a timestamp in ISO 8601 form such as 2026-05-01T12:30:00"
            if ts_format == "iso"
            else f"must be a timestamp in the format {ts_format!r}"
        )
        raise RowProblem(column, rule, text) from None
