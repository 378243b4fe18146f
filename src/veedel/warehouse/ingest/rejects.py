"""Bad source rows set aside with their reason, instead of failing the ingest."""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from veedel.errors import DataError

__all__ = ["REJECT_FIELDS", "Reject", "RejectSink", "RowProblem"]

log = logging.getLogger(__name__)

REJECT_FIELDS = ("file", "location", "table", "field", "value", "reason")


class RowProblem(Exception):
    """One source row breaks a rule; raised by converters, caught by the ingest.

    The ingest turns it into a :class:`~veedel.errors.DataError` that names the
    file and the row, or into a :class:`Reject` with ``skip_bad_rows``.
    """

    def __init__(self, field: str, rule: str, value: Any = None) -> None:
        self.field = field
        self.rule = rule
        self.value = value
        super().__init__(f"{field} {rule}; got {value!r}")


@dataclass(frozen=True)
class Reject:
    """A source row that was not loaded, and why."""

    file: str
    location: str
    table: str
    field: str
    value: str | None
    reason: str


class RejectSink:
    """Writes rejects to a CSV (``.csv``) or JSON Lines (any other) file.

    The file is created on the first reject only, so a clean ingest leaves no
    empty rejects file behind.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.count = 0
        self._handle: IO[str] | None = None
        self._csv: Any = None

    def write(self, reject: Reject) -> None:
        """Append one reject to the file."""
        if self._handle is None:
            self._open()
        assert self._handle is not None  # opened just above
        if self._csv is not None:
            self._csv.writerow(asdict(reject))
        else:
            self._handle.write(json.dumps(asdict(reject), ensure_ascii=False) + "\n")
        self.count += 1

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("w", encoding="utf-8", newline="")
        except OSError as exc:
            raise DataError(
                "rejects",
                f"must be a file veedel can create ({exc.strerror})",
                str(self.path),
                fix="Pass --rejects with a path in a writable folder; nothing"
                " was written to the warehouse.",
            ) from None
        if self.path.suffix.lower() == ".csv":
            self._csv = csv.DictWriter(self._handle, fieldnames=REJECT_FIELDS)
            self._csv.writeheader()
        log.debug("Writing rejected rows to %s", self.path)

    def close(self) -> None:
        """Close the file if one was opened."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> RejectSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
