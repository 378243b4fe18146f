"""Validating a warehouse against the canonical data model.

:func:`check_warehouse` runs every rule of :data:`veedel.warehouse.rules.RULES`
inside the warehouse engine as Ibis expressions, so it works the same on DuckDB
and PostgreSQL and never pulls a table into memory: only counts and at most five
example rows per violation come back. The rules, their codes and severities are
documented in ``docs/data-model.md``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.datatypes as dt

from veedel.errors import InputError
from veedel.warehouse.report import CheckReport, Violation
from veedel.warehouse.rules import (
    COORDINATE_RANGES,
    OPTIONAL_TABLES,
    REQUIRED_TABLES,
    RULES,
    type_family,
)
from veedel.warehouse.schema import TABLES

__all__ = [
    "COORDINATE_RANGES",
    "MAX_EXAMPLES",
    "OPTIONAL_TABLES",
    "REQUIRED_TABLES",
    "RULES",
    "check_warehouse",
    "type_family",
]

log = logging.getLogger(__name__)

MAX_EXAMPLES = 5


def check_warehouse(con: Any, now: datetime | None = None) -> CheckReport:
    """Validate a warehouse against the canonical data model.

    Parameters
    ----------
    con
        An Ibis backend, as returned by :func:`veedel.warehouse.connect`.
    now
        The time that timestamps must not exceed; the current time by default.
        A naive datetime is taken as UTC.

    Returns
    -------
    CheckReport
        Every violation with its count and up to five examples; ``ok`` is
        False when any violation is an error.

    Examples
    --------
    >>> from veedel.warehouse import connect
    >>> report = check_warehouse(connect("duckdb://"))
    >>> report.ok, report.violations[0].code
    (False, 'missing_table')
    """
    if now is None:
        now = datetime.now(UTC)
    elif not isinstance(now, datetime):
        raise InputError("now", "must be a datetime", now)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)

    checker = _Checker(con, now.astimezone(UTC))
    report = checker.run()
    log.debug("%s", report.headline())
    return report


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    """``"1 row"``, ``"3 rows"``."""
    word = singular if count == 1 else (plural or singular + "s")
    return f"{count} {word}"


def _counted(count: int, singular: str, plural: str) -> str:
    """``"1 vote has"``, ``"3 votes have"``: count, noun and verb that agree."""
    return f"{count} {singular if count == 1 else plural}"


def _json_safe(value: Any) -> Any:
    """A value as JSON can hold it: times as ISO text, NaN and infinities as text."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


class _Checker:
    """One run of the rules over one warehouse; collects what it finds."""

    def __init__(self, con: Any, now: datetime) -> None:
        self.con = con
        self.now = now
        self.violations: list[Violation] = []
        self.skipped: list[str] = []

        present = set(con.list_tables())
        self.tables: dict[str, Any] = {}
        # Listed but unreadable (a view over a dropped table): name -> reason.
        self.unreadable: dict[str, str] = {}
        for name in TABLES:
            if name not in present:
                continue
            try:
                self.tables[name] = con.table(name)
            except Exception as exc:  # engines raise their own types
                self.unreadable[name] = f"{type(exc).__name__}: {exc}"
        # Columns present with the declared type family; value rules use only these.
        self.usable: dict[str, set[str]] = {}

    def run(self) -> CheckReport:
        self._check_structure()
        for name in self.tables:
            self._isolated("null_value", name, self._check_nulls)
            self._isolated("duplicate_key", name, self._check_duplicates)
            self._isolated("future_timestamp", name, self._check_future)
            self._isolated("coordinate_out_of_range", name, self._check_coordinates)
        self._check_references()
        self._check_experiments()
        # Model order, then rule order: the same warehouse reads the same way.
        tables = list(TABLES)
        codes = list(RULES)
        ordered = sorted(
            self.violations,
            key=lambda v: (tables.index(v.table), codes.index(v.code)),
        )
        return CheckReport(
            violations=tuple(ordered),
            checked_at=self.now,
            tables=tuple(self.tables),
            skipped=tuple(self.skipped),
        )

    # -- plumbing -----------------------------------------------------------

    def _isolated(self, code: str, table: str, step: Callable[[str], None]) -> None:
        """Run one rule on one table; an engine failure skips it, not the run."""
        try:
            step(table)
        except Exception as exc:  # engines raise their own types
            log.warning("Rule %s on %s failed: %s", code, table, exc)
            self.skipped.append(
                f"{code} on {table}: the engine failed ({type(exc).__name__}: {exc})"
            )

    def _needs(self, code: str, table: str, *columns: str) -> bool:
        """Whether a rule can run; notes why not when the table exists."""
        if table not in self.tables:
            return False
        missing = [c for c in columns if c not in self.usable[table]]
        if missing:
            self.skipped.append(
                f"{code} on {table}: needs {', '.join(missing)} present with the"
                " declared type"
            )
            return False
        return True

    def _add(
        self,
        code: str,
        table: str,
        column: str | None,
        count: int,
        message: str,
        examples: list[dict[str, Any]] | tuple[dict[str, Any], ...] = (),
    ) -> None:
        rule = RULES[code]
        self.violations.append(
            Violation(
                code=code,
                severity=rule.severity,
                table=table,
                column=column,
                count=count,
                message=message,
                examples=tuple(examples),
            )
        )

    def _examples(self, expr: Any, columns: list[str]) -> list[dict[str, Any]]:
        """Up to MAX_EXAMPLES rows of ``expr``, ordered so runs agree."""
        rows = expr.select(*columns).order_by(columns).limit(MAX_EXAMPLES)
        try:
            records: list[dict[str, Any]] = rows.to_pyarrow().to_pylist()
        except Exception:  # engines and drivers raise their own types
            # Some values cannot come back as Python objects ('infinity' or year
            # 10000 timestamps, PostgreSQL uuids in Arrow): show them as text.
            as_text = [expr[c].cast("string").name(c) for c in columns]
            rows = expr.select(*as_text).order_by(columns).limit(MAX_EXAMPLES)
            records = rows.to_pyarrow().to_pylist()
        return [{k: _json_safe(v) for k, v in r.items()} for r in records]

    def _counts(self, table: Any, conditions: dict[str, Any]) -> dict[str, int]:
        """Rows matching each condition, all in one query."""
        if not conditions:
            return {}
        agg = table.aggregate(
            **{name: table.count(where=cond) for name, cond in conditions.items()}
        )
        (row,) = agg.to_pyarrow().to_pylist()
        return {name: int(row[name] or 0) for name in conditions}

    def _report_rows(
        self,
        code: str,
        table: str,
        column: str | None,
        offending: Any,
        columns: list[str],
        message: Callable[[int], str],
    ) -> None:
        """Count the offending rows; when there are any, add a violation."""
        count = int(offending.count().execute())
        if count:
            examples = self._examples(offending, columns)
            self._add(code, table, column, count, message(count), examples)

    # -- structure ----------------------------------------------------------

    def _check_structure(self) -> None:
        for name in TABLES:
            if name not in self.tables:
                self._report_missing_table(name)
                continue
            self._check_columns(name)

    def _report_missing_table(self, name: str) -> None:
        example = [{"table": name}]
        if name in self.unreadable:
            code = (
                "missing_optional_table" if name in OPTIONAL_TABLES else "missing_table"
            )
            message = (
                f"The table {name} is listed but cannot be read"
                f" ({self.unreadable[name]})."
            )
            self._add(code, name, None, 1, message, example)
        elif name in OPTIONAL_TABLES:
            message = (
                f"The optional table {name} is absent; products that need it"
                " will say so. An ingest or `veedel simulate` creates it, empty"
                " when the source has no such rows."
            )
            self._add("missing_optional_table", name, None, 1, message, example)
        else:
            message = (
                f"The table {name} is absent; every product reads it. Create it"
                " with the columns of docs/data-model.md, or load the data with"
                " `veedel ingest`, which creates every table of the model."
            )
            self._add("missing_table", name, None, 1, message, example)

    def _check_columns(self, name: str) -> None:
        declared = TABLES[name].schema
        actual = self.tables[name].schema()
        missing: list[dict[str, Any]] = []
        wrong: list[dict[str, Any]] = []
        usable: set[str] = set()

        for column, want in declared.items():
            if column not in actual:
                missing.append({"column": column, "expected": _show(want)})
            elif type_family(actual[column]) != type_family(want):
                got = _show(actual[column])
                wrong.append({"column": column, "expected": _show(want), "got": got})
            else:
                usable.add(column)
        self.usable[name] = usable

        if missing:
            names = ", ".join(m["column"] for m in missing)
            count = len(missing)
            message = f"{name} lacks {_plural(count, 'canonical column')}: {names}."
            self._add("missing_column", name, None, count, message, missing)
        if wrong:
            details = ", ".join(
                f"{w['column']} is {w['got']}, expected {w['expected']}" for w in wrong
            )
            count = len(wrong)
            message = f"{name} has {_plural(count, 'column')} of the wrong type: "
            self._add("wrong_type", name, None, count, message + details + ".", wrong)

    # -- per-table values ---------------------------------------------------

    def _check_nulls(self, name: str) -> None:
        t = self.tables[name]
        declared = TABLES[name].schema
        required = [
            c for c, want in declared.items() if not want.nullable and c in t.columns
        ]
        counts = self._counts(t, {c: t[c].isnull() for c in required})
        key = [c for c in TABLES[name].key if c in t.columns]

        for column, count in counts.items():
            if not count:
                continue
            shown = list(dict.fromkeys([*key, column]))
            examples = self._examples(t.filter(t[column].isnull()), shown)
            message = (
                f"{name}.{column} holds {_plural(count, 'NULL')} but must not be empty."
            )
            self._add("null_value", name, column, count, message, examples)

    def _check_duplicates(self, name: str) -> None:
        key = list(TABLES[name].key)
        if not self._needs("duplicate_key", name, *key):
            return
        t = self.tables[name]
        complete = t.filter([t[c].notnull() for c in key])
        groups = complete.group_by(key).aggregate(n_rows=complete.count())
        duplicated = groups.filter(groups.n_rows > 1)

        count = int(duplicated.count().execute())
        if count:
            examples = self._examples(duplicated, [*key, "n_rows"])
            values = _counted(count, "value occurs", "values occur")
            message = (
                f"In {name}, {values} more than once in the key ({', '.join(key)})."
            )
            self._add("duplicate_key", name, None, count, message, examples)

    def _check_future(self, name: str) -> None:
        t = self.tables[name]
        declared = [c for c, want in TABLES[name].schema.items() if want.is_timestamp()]
        if not self._needs("future_timestamp", name, *declared):
            declared = [c for c in declared if c in self.usable[name]]
        stamps = [c for c in t.columns if c in declared]
        conditions = {c: t[c] > self._now_for(t[c].type()) for c in stamps}
        key = list(TABLES[name].key)

        for column, count in self._counts(t, conditions).items():
            if not count:
                continue
            shown = list(dict.fromkeys([*key, column]))
            examples = self._examples(t.filter(conditions[column]), shown)
            message = (
                f"{name}.{column} has {_plural(count, 'timestamp')} after the time"
                f" of the check ({self.now.isoformat(timespec='seconds')})."
            )
            self._add("future_timestamp", name, column, count, message, examples)

    def _now_for(self, dtype: dt.DataType) -> Any:
        """The check time as a literal comparable with a column of ``dtype``."""
        if dtype.timezone is None:
            naive = self.now.replace(tzinfo=None)
            return ibis.literal(naive, type=dt.Timestamp())
        return ibis.literal(self.now, type=dt.Timestamp(timezone="UTC"))

    def _check_coordinates(self, name: str) -> None:
        t = self.tables[name]
        declared = [c for c in COORDINATE_RANGES if c in TABLES[name].schema]
        if not self._needs("coordinate_out_of_range", name, *declared):
            declared = [c for c in declared if c in self.usable[name]]
        ranges = {c: COORDINATE_RANGES[c] for c in declared}
        # NOT BETWEEN is false for NULL, and NaN sorts above every number on
        # DuckDB and PostgreSQL, so NaN counts as out of range and NULL does not.
        conditions = {
            c: t[c].notnull() & ~t[c].between(low, high)
            for c, (low, high) in ranges.items()
        }
        key = list(TABLES[name].key)

        for column, count in self._counts(t, conditions).items():
            if not count:
                continue
            low, high = ranges[column]
            examples = self._examples(t.filter(conditions[column]), [*key, column])
            message = (
                f"{name}.{column} has {_plural(count, 'value')} outside"
                f" [{low:g}, {high:g}]."
            )
            self._add("coordinate_out_of_range", name, column, count, message, examples)

    # -- references between tables -------------------------------------------

    def _check_references(self) -> None:
        self._isolated("orphan_reply", "posts", self._check_orphan_replies)
        self._isolated("orphan_vote", "votes", self._check_orphan_votes)
        self._isolated("bad_vote_value", "votes", self._check_vote_values)
        for name in ("posts", "votes", "events"):
            self._isolated("unknown_user", name, self._check_unknown_users)
        self._isolated("unknown_channel", "posts", self._check_unknown_channels)

    def _dangling(
        self, code: str, name: str, column: str, target: str, target_column: str
    ) -> Any | None:
        """Rows of ``name`` whose non-NULL ``column`` names no row of ``target``."""
        if not (
            self._needs(code, name, column) and self._needs(code, target, target_column)
        ):
            return None
        t = self.tables[name]
        ids = self.tables[target].select(_ref=self.tables[target][target_column])
        referring = t.filter(t[column].notnull())
        return referring.anti_join(ids, referring[column] == ids._ref)

    def _check_orphan_replies(self, name: str) -> None:
        orphans = self._dangling("orphan_reply", name, "parent_id", "posts", "post_id")
        if orphans is None:
            return
        self._report_rows(
            "orphan_reply",
            name,
            "parent_id",
            orphans,
            ["post_id", "parent_id"],
            lambda n: (
                f"{_counted(n, 'reply has', 'replies have')} a parent_id"
                " that names no post."
            ),
        )

    def _check_orphan_votes(self, name: str) -> None:
        orphans = self._dangling("orphan_vote", name, "post_id", "posts", "post_id")
        if orphans is None:
            return
        self._report_rows(
            "orphan_vote",
            name,
            "post_id",
            orphans,
            ["vote_id", "post_id"],
            lambda n: (
                f"{_counted(n, 'vote points', 'votes point')} at a post"
                " that does not exist."
            ),
        )

    def _check_vote_values(self, name: str) -> None:
        if not self._needs("bad_vote_value", name, "value"):
            return
        t = self.tables[name]
        bad = t.filter(t.value.notnull() & ~t.value.isin([1, -1]))
        self._report_rows(
            "bad_vote_value",
            name,
            "value",
            bad,
            ["vote_id", "value"],
            lambda n: (
                f"{_counted(n, 'vote has', 'votes have')} a value other than +1 or -1."
            ),
        )

    def _check_unknown_users(self, name: str) -> None:
        unknown = self._dangling("unknown_user", name, "user_id", "users", "user_id")
        if unknown is None:
            return
        key = list(TABLES[name].key)
        self._report_rows(
            "unknown_user",
            name,
            "user_id",
            unknown,
            list(dict.fromkeys([*key, "user_id"])),
            lambda n: (
                f"In {name}, {_counted(n, 'row names', 'rows name')} a user_id"
                " that users does not hold."
            ),
        )

    def _check_unknown_channels(self, name: str) -> None:
        unknown = self._dangling(
            "unknown_channel", name, "channel_id", "channels", "channel_id"
        )
        if unknown is None:
            return
        self._report_rows(
            "unknown_channel",
            name,
            "channel_id",
            unknown,
            ["post_id", "channel_id"],
            lambda n: (
                f"{_counted(n, 'post names', 'posts name')} a channel_id"
                " that channels does not hold."
            ),
        )

    # -- experiments ----------------------------------------------------------

    def _check_experiments(self) -> None:
        self._isolated(
            "unknown_assigned_user", "assignments", self._check_assigned_users
        )
        self._isolated("multiple_variants", "assignments", self._check_variants)
        self._isolated(
            "exposure_without_assignment", "exposures", self._check_exposures
        )

    def _check_assigned_users(self, name: str) -> None:
        unknown = self._dangling(
            "unknown_assigned_user", name, "user_id", "users", "user_id"
        )
        if unknown is None:
            return
        self._report_rows(
            "unknown_assigned_user",
            name,
            "user_id",
            unknown,
            ["experiment_id", "user_id", "variant"],
            lambda n: (
                f"{_counted(n, 'assignment names', 'assignments name')} a user_id"
                " that users does not hold."
            ),
        )

    def _check_variants(self, name: str) -> None:
        columns = ("experiment_id", "user_id", "variant")
        if not self._needs("multiple_variants", name, *columns):
            return
        t = self.tables[name]
        per_user = t.group_by(["experiment_id", "user_id"]).aggregate(
            n_variants=t.variant.nunique()
        )
        mixed = per_user.filter(per_user.n_variants > 1)
        self._report_rows(
            "multiple_variants",
            name,
            "variant",
            mixed,
            ["experiment_id", "user_id", "n_variants"],
            lambda n: (
                f"{_counted(n, 'user is', 'users are')} assigned to more than"
                " one variant of the same experiment."
            ),
        )

    def _check_exposures(self, name: str) -> None:
        columns = ("experiment_id", "user_id", "variant")
        if not (
            self._needs("exposure_without_assignment", name, *columns)
            and self._needs("exposure_without_assignment", "assignments", *columns)
        ):
            return
        t = self.tables[name]
        a = self.tables["assignments"].select(
            _experiment=lambda s: s.experiment_id,
            _user=lambda s: s.user_id,
            _variant=lambda s: s.variant,
        )
        lonely = t.anti_join(
            a,
            [
                t.experiment_id == a._experiment,
                t.user_id == a._user,
                t.variant == a._variant,
            ],
        )
        self._report_rows(
            "exposure_without_assignment",
            name,
            None,
            lonely,
            ["experiment_id", "user_id", "variant", "exposed_at"],
            lambda n: (
                f"{_counted(n, 'exposure has', 'exposures have')} no assignment"
                " of that user to that variant."
            ),
        )


def _show(dtype: dt.DataType) -> str:
    """A type as users read it, without Ibis's non-nullable ``!`` marker."""
    return str(dtype.copy(nullable=True))
