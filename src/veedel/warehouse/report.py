"""The result of a warehouse check: violations and the report.

A :class:`CheckReport` renders itself as a Rich table and serialises to JSON,
so the command line, the HTTP API and the web pages show the same result.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from rich.console import Console, ConsoleOptions, RenderableType
from rich.table import Table
from rich.text import Text

__all__ = ["CheckReport", "Severity", "Violation"]

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Violation:
    """One rule broken in one table (and column): how often, and examples.

    ``examples`` holds up to five offending rows (or columns, or tables) as
    plain JSON-ready mappings, ordered by their key so that runs agree.
    """

    code: str
    severity: Severity
    table: str
    column: str | None
    count: int
    message: str
    examples: tuple[dict[str, Any], ...] = ()

    @property
    def where(self) -> str:
        """``table`` or ``table.column``."""
        return f"{self.table}.{self.column}" if self.column else self.table

    def to_dict(self) -> dict[str, Any]:
        """The violation as JSON-ready data."""
        return {
            "code": self.code,
            "severity": self.severity,
            "table": self.table,
            "column": self.column,
            "count": self.count,
            "message": self.message,
            "examples": [dict(e) for e in self.examples],
        }


@dataclass(frozen=True)
class CheckReport:
    """Every violation found in a warehouse; ``ok`` when none is an error.

    ``tables`` lists the canonical tables found; ``skipped`` says, one sentence
    each, which rules could not run and why (a column absent or of the wrong
    type, which is itself reported as a violation).
    """

    violations: tuple[Violation, ...]
    checked_at: datetime
    tables: tuple[str, ...]
    skipped: tuple[str, ...] = ()

    @property
    def errors(self) -> tuple[Violation, ...]:
        """The violations of severity ``error``."""
        return tuple(v for v in self.violations if v.severity == "error")

    @property
    def warnings(self) -> tuple[Violation, ...]:
        """The violations of severity ``warning``."""
        return tuple(v for v in self.violations if v.severity == "warning")

    @property
    def ok(self) -> bool:
        """True when no violation is an error (warnings do not fail a check)."""
        return not self.errors

    def find(self, code: str, table: str | None = None) -> tuple[Violation, ...]:
        """The violations with ``code`` (in ``table`` when given)."""
        return tuple(
            v
            for v in self.violations
            if v.code == code and (table is None or v.table == table)
        )

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "ok": self.ok,
            "checked_at": self.checked_at.isoformat(),
            "n_errors": len(self.errors),
            "n_warnings": len(self.warnings),
            "tables": list(self.tables),
            "violations": [v.to_dict() for v in self.violations],
            "skipped": list(self.skipped),
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The report as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)

    def headline(self) -> str:
        """One sentence: passed or failed, with the numbers."""
        n_errors, n_warnings = len(self.errors), len(self.warnings)
        verdict = "passed" if self.ok else "FAILED"
        return (
            f"Warehouse check {verdict}: {n_errors} "
            f"{'error' if n_errors == 1 else 'errors'}, {n_warnings} "
            f"{'warning' if n_warnings == 1 else 'warnings'}."
        )

    def __rich_console__(
        self, console: Console, options: ConsoleOptions
    ) -> Iterator[RenderableType]:
        if self.violations:
            yield _violations_table(self.violations)
        for reason in self.skipped:
            yield Text(f"skipped: {reason}", style="dim")
        yield Text(self.headline(), style="bold green" if self.ok else "bold red")


def _violations_table(violations: tuple[Violation, ...]) -> Table:
    """The violations as a Rich table, one row each.

    Codes are never cut (users look them up in the docs); the severity sits
    under the code and the examples under the message, so the table stays
    readable in an 80-column terminal.
    """
    table = Table(title="Warehouse check", show_lines=True)
    table.add_column("rule", no_wrap=True)
    table.add_column("where", overflow="fold")
    table.add_column("count", justify="right", no_wrap=True)
    table.add_column("message and examples", ratio=1, overflow="fold")

    for v in violations:
        style = "red" if v.severity == "error" else "yellow"
        rule = Text(v.code, style=f"bold {style}")
        rule.append(f"\n{v.severity}", style=style)
        body = Text(v.message)
        for example in v.examples:
            body.append(f"\n{_one_line(example)}", style="dim")
        table.add_row(rule, v.where, f"{v.count:,}", body)
    return table


def _one_line(example: dict[str, Any]) -> str:
    """``post_id=p3 parent_id=p99``; NULL for a missing value."""
    return " ".join(f"{k}={'NULL' if v is None else v}" for k, v in example.items())
