"""The rules of the warehouse check: codes, severities and type families.

Each rule has a stable code that scripts and the web app may rely on, a
severity (an ``error`` fails the check, a ``warning`` does not), what its count
counts, and one sentence of purpose. ``docs/data-model.md`` explains each.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis.expr.datatypes as dt

from veedel.warehouse.report import Severity

__all__ = [
    "COORDINATE_RANGES",
    "OPTIONAL_TABLES",
    "REQUIRED_TABLES",
    "RULES",
    "Rule",
    "type_family",
]


@dataclass(frozen=True)
class Rule:
    """A check rule: stable code, severity, what its count counts, and purpose."""

    code: str
    severity: Severity
    counts: str
    description: str


REQUIRED_TABLES: tuple[str, ...] = ("users", "channels", "posts", "votes")
OPTIONAL_TABLES: tuple[str, ...] = ("events", "assignments", "exposures")
COORDINATE_RANGES: dict[str, tuple[float, float]] = {
    "latitude": (-90.0, 90.0),
    "longitude": (-180.0, 180.0),
}

RULES: dict[str, Rule] = {
    rule.code: rule
    for rule in [
        Rule(
            "missing_table",
            "error",
            "tables",
            "A required table (users, channels, posts, votes) is absent.",
        ),
        Rule(
            "missing_optional_table",
            "warning",
            "tables",
            "An optional table (events, assignments, exposures) is absent.",
        ),
        Rule(
            "missing_column",
            "error",
            "columns",
            "A canonical column is absent from its table.",
        ),
        Rule(
            "wrong_type",
            "error",
            "columns",
            "A column's type is not of the declared type family.",
        ),
        Rule(
            "null_value",
            "error",
            "rows",
            "A NULL in a column that the schema declares non-nullable.",
        ),
        Rule(
            "duplicate_key",
            "error",
            "key values",
            "A key value occurs in more than one row.",
        ),
        Rule(
            "orphan_reply",
            "error",
            "rows",
            "A reply whose parent_id names no post.",
        ),
        Rule(
            "orphan_vote",
            "error",
            "rows",
            "A vote whose post_id names no post.",
        ),
        Rule(
            "bad_vote_value",
            "error",
            "rows",
            "A vote whose value is neither +1 nor -1.",
        ),
        Rule(
            "future_timestamp",
            "error",
            "rows",
            "A timestamp later than the time of the check.",
        ),
        Rule(
            "coordinate_out_of_range",
            "error",
            "rows",
            "A latitude outside [-90, 90] or a longitude outside [-180, 180]"
            " (NaN included).",
        ),
        Rule(
            "unknown_user",
            "warning",
            "rows",
            "A post, vote or event names a user_id that users does not hold.",
        ),
        Rule(
            "unknown_channel",
            "warning",
            "rows",
            "A post names a channel_id that channels does not hold.",
        ),
        Rule(
            "unknown_assigned_user",
            "error",
            "rows",
            "An assignment names a user_id that users does not hold.",
        ),
        Rule(
            "multiple_variants",
            "warning",
            "users",
            "A user is assigned to more than one variant of one experiment.",
        ),
        Rule(
            "exposure_without_assignment",
            "warning",
            "rows",
            "An exposure with no assignment of that user to that variant.",
        ),
    ]
}


def type_family(dtype: dt.DataType) -> str:
    """The family of an Ibis type: ``integer``, ``floating``, ``string``, ...

    Widths, precisions and time zones do not change the family, so an ``int16``
    (PostgreSQL has no one-byte integer) satisfies a declared ``int8`` and a
    time-zone-aware timestamp satisfies a declared ``timestamp``.
    """
    if dtype.is_integer():
        return "integer"
    if dtype.is_floating():
        return "floating"
    if dtype.is_string():
        return "string"
    if dtype.is_timestamp():
        return "timestamp"
    return str(dtype.copy(nullable=True))
