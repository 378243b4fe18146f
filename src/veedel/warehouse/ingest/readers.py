"""Streaming readers for XML and CSV files, with errors that name the place.

Readers yield one record at a time and never hold a whole file in memory. A
file that cannot be read at all (empty, truncated, not well-formed, in the
wrong encoding, lacking a column) raises :class:`~veedel.errors.DataError`
naming the file, the line, the field and the value. A single bad value in an
otherwise readable record is a :class:`RowProblem` for the caller to handle.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from veedel.errors import DataError
from veedel.warehouse.ingest.rejects import RowProblem
from veedel.warehouse.ingest.run import Progress

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "CsvRecord",
    "check_int64",
    "iter_csv",
    "iter_xml_rows",
    "naive_utc",
    "parse_int",
    "parse_iso_timestamp",
    "require",
]

# Reddit self-texts and generic exports can hold long fields.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

_SNIPPET = 60
_XML_NO_ELEMENT = 3
_XML_INVALID_TOKEN = 4
_XML_UNCLOSED_TOKEN = 5
_XML_PARTIAL_CHAR = 6
_XML_INCORRECT_ENCODING = 19

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

# Byte order marks of encodings that are not ASCII-compatible, longest first.
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
# Bytes the decoder could not read come back as these lone surrogates.
_ESCAPED = re.compile("[\udc80-\udcff]")


class _CountingReader(io.RawIOBase):
    """A binary file that reports the bytes read to a progress callback."""

    def __init__(self, raw: IO[bytes], progress: Progress | None) -> None:
        self._raw = raw
        self._progress = progress

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self._raw.read(size)
        if self._progress is not None and chunk:
            self._progress(len(chunk))
        return chunk

    def readinto(self, buffer: Any) -> int:
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def _check_not_empty(path: Path) -> None:
    if path.stat().st_size == 0:
        raise DataError(
            "file",
            "must not be empty",
            "0 bytes",
            fix="Export the file again; it holds no data.",
            where=str(path),
        )


def _wide_encoding(path: Path) -> str | None:
    """UTF-16 or UTF-32 when the file opens with that byte order mark."""
    with path.open("rb") as raw:
        start = raw.read(4)
    return next((name for bom, name in _WIDE_BOMS if start.startswith(bom)), None)


def iter_xml_rows(
    path: Path, progress: Progress | None = None, root_tag: str | None = None
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(row_number, attributes)`` for every ``<row>`` of a dump file.

    Rows are numbered from 1 in file order. Parsed elements are cleared as
    soon as they are yielded, so memory stays flat whatever the file size.
    With ``root_tag`` the document's root element must have that name.
    """
    _check_not_empty(path)
    with path.open("rb") as raw:
        events = ET.iterparse(_CountingReader(raw, progress), events=("start", "end"))
        root: ET.Element | None = None
        number = 0
        try:
            for event, element in events:
                if event == "start":
                    if root is None:
                        root = element
                        _check_root(path, element.tag, root_tag)
                    continue
                if element.tag != "row":
                    continue
                number += 1
                yield number, dict(element.attrib)
                # Dropping finished rows from the root keeps the tree empty.
                if root is not None:
                    root.clear()
        except ET.ParseError as exc:
            raise _xml_error(path, exc) from None


def _check_root(path: Path, tag: str, expected: str | None) -> None:
    if expected is not None and tag != expected:
        raise DataError(
            "XML",
            f"must have the root element <{expected}> of a Stack Exchange {path.name}",
            f"<{tag}>",
            fix="Check that the file is the dump file its name says.",
            where=f"{path}, line 1",
        )


def _xml_error(path: Path, exc: ET.ParseError) -> DataError:
    """A parse error as a DataError naming the line, column and text there."""
    line, column = exc.position
    text = _line_bytes(path, line)
    where = f"{path}, line {line}, column {column + 1}"

    wide = _wide_encoding(path)
    if wide is not None and exc.code in (_XML_INVALID_TOKEN, _XML_INCORRECT_ENCODING):
        return DataError(
            "encoding",
            f"must be UTF-8 as the XML declaration says, but the file is {wide}",
            text[:4],
            fix=f"Convert the file with `iconv -f {wide} -t UTF-8` and ingest again.",
            where=f"{path}, line 1",
        )

    if exc.code in (_XML_INVALID_TOKEN, _XML_PARTIAL_CHAR):
        try:
            text.decode("utf-8")
        except UnicodeDecodeError as bad:
            raw = text[bad.start : bad.start + 4]
            return DataError(
                "encoding",
                "must be UTF-8 as the XML declaration says",
                raw,
                fix="Convert the file to UTF-8 (e.g. with iconv) and ingest again.",
                where=f"{path}, line {line}, column {bad.start + 1}",
            )

    snippet = text[max(0, column - 20) : column + 40].decode("utf-8", "replace")
    reason = str(exc).split(":")[0].removeprefix("not well-formed ").strip("()")
    if exc.code in (_XML_NO_ELEMENT, _XML_UNCLOSED_TOKEN) and _at_end(path, line):
        return DataError(
            "XML",
            f"must be a complete document, but the file ends early ({reason};"
            " truncated?)",
            snippet.strip() or "<end of file>",
            fix="Copy or download the file again.",
            where=where,
        )
    return DataError(
        "XML",
        f"must be well-formed ({reason})",
        snippet.strip(),
        where=where,
    )


def _line_bytes(path: Path, line: int) -> bytes:
    with path.open("rb") as raw:
        for number, text in enumerate(raw, start=1):
            if number == line:
                return text.rstrip(b"\r\n")
    return b""


def _at_end(path: Path, line: int) -> bool:
    with path.open("rb") as raw:
        count = sum(1 for _ in raw)
    return line >= count


class CsvRecord:
    """One CSV record: its line and its values keyed by the header."""

    __slots__ = ("line", "number", "values")

    def __init__(self, number: int, line: int, values: dict[str, str]) -> None:
        self.number = number
        self.line = line
        self.values = values

    @property
    def location(self) -> str:
        """Where the record starts, for messages."""
        return f"line {self.line} (record {self.number})"


_DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "bars", ",": "commas"}


def _delimiter_hint(header: Sequence[str], delimiter: str) -> str | None:
    """A fix naming the likely delimiter when the header holds another one."""
    text = "".join(header)
    for candidate, name in _DELIMITERS.items():
        if candidate != delimiter and candidate in text:
            expected = _DELIMITERS.get(delimiter, repr(delimiter))
            return (
                f"The header holds {candidate!r}, so the file may be separated by"
                f" {name}, not {expected}: save it with {expected} (a mapping"
                f" file can set delimiter: {candidate!r} instead)."
            )
    return None


def iter_csv(
    path: Path,
    required: Sequence[str] = (),
    *,
    encoding: str = "utf-8",
    delimiter: str = ",",
    progress: Progress | None = None,
) -> Iterator[CsvRecord | tuple[int, int, RowProblem]]:
    """Yield the records of a CSV file with a header line.

    A record with the wrong number of fields is yielded as a
    ``(number, line, RowProblem)`` triple so the caller can reject it; the
    empty file, a missing required column, a byte that is not in ``encoding``
    and broken quoting raise :class:`~veedel.errors.DataError`.
    """
    _check_not_empty(path)
    with path.open("rb") as raw:
        reader = csv.reader(
            _decoded_lines(raw, path, encoding, progress), delimiter=delimiter
        )
        header = _read_header(reader, path, lambda: reader.line_num)
        missing = [name for name in required if name not in header]
        if missing:
            raise DataError(
                missing[0],
                f"is a required column (the header has: {', '.join(header)})",
                None,
                fix=_delimiter_hint(header, delimiter)
                or f"Add the column {missing[0]!r} to the file.",
                where=f"{path}, line 1",
            )

        number = 0
        while True:
            start = reader.line_num + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise DataError(
                    "CSV",
                    f"must be valid CSV ({exc})",
                    None,
                    where=f"{path}, line {start}",
                ) from None
            if not fields:
                continue
            number += 1
            if len(fields) != len(header):
                yield (
                    number,
                    start,
                    RowProblem(
                        "fields",
                        f"must number {len(header)} like the header",
                        len(fields),
                    ),
                )
                continue
            yield CsvRecord(number, start, dict(zip(header, fields, strict=True)))


def _read_header(reader: Any, path: Path, line: Callable[[], int]) -> list[str]:
    try:
        header: list[str] = next(reader)
    except StopIteration:
        header = []
    except csv.Error as exc:
        raise DataError(
            "CSV", f"must be valid CSV ({exc})", None, where=f"{path}, line {line()}"
        ) from None
    if not any(name.strip() for name in header):
        raise DataError(
            "header", "must name the columns on line 1", None, where=f"{path}, line 1"
        )
    names = [name.strip() for name in header]
    twice = sorted({name for name in names if name and names.count(name) > 1})
    if twice:
        raise DataError(
            twice[0],
            "must name a column only once in the header",
            ", ".join(names),
            fix="Rename or drop the repeated column.",
            where=f"{path}, line 1",
        )
    return names


def _decoded_lines(
    raw: IO[bytes], path: Path, encoding: str, progress: Progress | None
) -> Iterator[str]:
    """Decode ``raw`` into lines; a byte not in ``encoding`` names its line.

    Lines end at ``\\n``, ``\\r\\n`` or a bare ``\\r`` and keep their ending, as
    :mod:`csv` wants. Undecodable bytes are escaped by the decoder and found
    per line, so the error names the exact line and byte column.
    """
    utf8 = codecs.lookup(encoding).name == "utf-8"
    wide = _wide_encoding(path)
    if wide is not None and not codecs.lookup(encoding).name.startswith(wide.lower()):
        raise DataError(
            "encoding",
            f"must be {encoding}, but the file is {wide} (it opens with a {wide}"
            " byte order mark)",
            _first_bytes(path),
            fix=f"Convert the file with `iconv -f {wide} -t UTF-8`, or name its"
            f" encoding ({wide.lower()}).",
            where=f"{path}, line 1",
        )

    text = io.TextIOWrapper(
        io.BufferedReader(_CountingReader(raw, progress)),
        encoding="utf-8-sig" if utf8 else encoding,
        errors="surrogateescape",
        newline="",
    )
    number = 0
    try:
        for number, line in enumerate(text, start=1):
            bad = _ESCAPED.search(line)
            if bad is not None:
                raise _encoding_error(path, number, line, bad.start(), encoding)
            yield line
    except UnicodeError as exc:
        # Only codecs without byte escapes (UTF-16, UTF-32) land here; the
        # UTF-16 codec raises a bare UnicodeError for a missing byte order mark.
        if isinstance(exc, UnicodeDecodeError):
            reason, shown = exc.reason, exc.object[exc.start : exc.start + 4]
        else:
            reason, shown = str(exc), _first_bytes(path)
        raise DataError(
            "encoding",
            f"must be {encoding} ({reason})",
            shown,
            fix=f"Convert the file to {encoding}, or name its encoding.",
            where=f"{path}, line {number + 1}",
        ) from None
    finally:
        text.detach()


def _encoding_error(
    path: Path, number: int, line: str, index: int, encoding: str
) -> DataError:
    """The error for the first undecodable byte at ``line[index]``."""
    before = len(line[:index].encode(encoding, "surrogateescape"))
    raw = line[index:].encode(encoding, "surrogateescape")[:4]
    return DataError(
        "encoding",
        f"must be {encoding}",
        raw,
        fix=f"Convert the file to {encoding}, or name its encoding.",
        where=f"{path}, line {number}, column {before + 1}",
    )


def _first_bytes(path: Path) -> bytes:
    with path.open("rb") as raw:
        return raw.read(4)


def require(attributes: dict[str, str], name: str) -> str:
    """The attribute ``name``, or a RowProblem saying it is missing."""
    value = attributes.get(name)
    if value is None or value == "":
        raise RowProblem(name, "is required", value)
    return value


def parse_int(value: str | None, name: str) -> int | None:
    """An integer field; None stays None."""
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise RowProblem(name, "must be an integer", value) from None
    return check_int64(number, name, value)


def check_int64(number: int, name: str, value: Any) -> int:
    """``number`` if a 64-bit integer holds it, else a RowProblem for ``value``."""
    if not INT64_MIN <= number <= INT64_MAX:
        raise RowProblem(
            name, "must fit a 64-bit integer (-2**63 to 2**63-1)", snippet(value)
        )
    return number


def parse_iso_timestamp(value: str, name: str) -> datetime:
    """An ISO 8601 timestamp as naive UTC (the warehouse's convention)."""
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        raise RowProblem(
            name, "must be an ISO 8601 timestamp such as 2018-02-06T20:19:50.957", value
        ) from None
    return naive_utc(stamp, name, value)


def naive_utc(stamp: datetime, name: str, value: Any) -> datetime:
    """``stamp`` moved to UTC without a zone; a RowProblem if UTC leaves 1..9999."""
    if stamp.tzinfo is None:
        return stamp
    try:
        return stamp.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:
        raise RowProblem(
            name, "must lie between years 1 and 9999 once moved to UTC", value
        ) from None


def snippet(value: Any) -> str:
    """A value shortened for messages."""
    text = str(value)
    return text if len(text) <= _SNIPPET else text[: _SNIPPET - 1] + "…"
