"""What an ingest did: rows read, written, already present and rejected."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from veedel.warehouse.ingest.rejects import Reject
from veedel.warehouse.schema import CANONICAL_TABLES

__all__ = ["IngestSummary", "TableCounts"]


@dataclass
class TableCounts:
    """Counts for one target table.

    ``read`` counts the source rows that map to the table, ``written`` the rows
    the warehouse did not hold yet, ``rejected`` the bad rows set aside.
    """

    read: int = 0
    written: int = 0
    rejected: int = 0

    @property
    def present(self) -> int:
        """Good rows not written because their key was already there."""
        return self.read - self.written - self.rejected


@dataclass
class IngestSummary:
    """The outcome of one ingest; renders itself as a Rich table."""

    source: str
    files: list[Path] = field(default_factory=list)
    tables: dict[str, TableCounts] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)
    rejects: list[Reject] = field(default_factory=list)
    rejects_path: Path | None = None

    def counts(self, table: str) -> TableCounts:
        """The counts of ``table``, created on first use."""
        return self.tables.setdefault(table, TableCounts())

    @property
    def read(self) -> int:
        """Rows read over all tables."""
        return sum(c.read for c in self.tables.values())

    @property
    def written(self) -> int:
        """Rows written over all tables."""
        return sum(c.written for c in self.tables.values())

    @property
    def rejected(self) -> int:
        """Rows rejected over all tables."""
        return sum(c.rejected for c in self.tables.values())

    def _ordered(self) -> list[str]:
        known = [t for t in CANONICAL_TABLES if t in self.tables]
        return known + sorted(t for t in self.tables if t not in CANONICAL_TABLES)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form of the summary."""
        return {
            "source": self.source,
            "files": [str(p) for p in self.files],
            "tables": {
                name: {
                    "read": c.read,
                    "written": c.written,
                    "present": c.present,
                    "rejected": c.rejected,
                }
                for name, c in ((t, self.tables[t]) for t in self._ordered())
            },
            "skipped": dict(self.skipped),
            "rejects_path": str(self.rejects_path) if self.rejects_path else None,
        }

    def __rich__(self) -> Group:
        table = Table(title=f"Ingest of {self.source}", title_justify="left")
        table.add_column("table")
        for name in ("read", "written", "already present", "rejected"):
            table.add_column(name, justify="right")

        for name in self._ordered():
            c = self.tables[name]
            table.add_row(
                name,
                f"{c.read:,}",
                f"{c.written:,}",
                f"{c.present:,}",
                f"{c.rejected:,}",
            )
        table.add_section()
        table.add_row(
            "total",
            f"{self.read:,}",
            f"{self.written:,}",
            f"{self.read - self.written - self.rejected:,}",
            f"{self.rejected:,}",
        )

        # Notes go below the table, not in its caption: a caption wraps at the
        # table's width and broke the rejects path in two when copied.
        notes: list[Text] = [
            Text(f"not represented: {n:,} {why}") for why, n in self.skipped.items()
        ]
        if self.rejects_path is not None and self.rejected:
            notes.append(Text("rejected rows with reasons:"))
            notes.append(
                Text(f"  {self.rejects_path}", no_wrap=True, overflow="ignore")
            )
        return Group(table, *notes)
