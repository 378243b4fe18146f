"""Metric definitions: YAML files validated on load, compiled to Ibis expressions.

A metric says what to measure for each user in an experiment: which source
rows count (a source and a filter), how they are aggregated per user (count,
sum, any, max; a second aggregation for ratios), over which window after the
user's first exposure, in which direction a change is good, and how extreme
values are capped.

Filters are structured (column, operator, value), never SQL text: every column
is checked against the canonical schema on load and every value reaches the
warehouse as a literal of an Ibis expression.

Examples
--------
>>> metric = load_metric_text(
...     '''
... key: sessions_per_user
... name: Sessions per user
... kind: mean
... numerator: {source: events, aggregate: count,
...             filter: [{column: name, op: eq, value: app_open}]}
... window: {start_day: 0, end_day: 7}
... direction: increase
... '''
... )
>>> metric.numerator.source
'events'
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import reprlib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from veedel.errors import ConfigError, NotFoundError
from veedel.experiments.definition_model import DefinitionModel
from veedel.warehouse.schema import TABLES

__all__ = [
    "SOURCES",
    "Aggregation",
    "Capping",
    "Condition",
    "Metric",
    "MetricLibrary",
    "Source",
    "Window",
    "load_metric_file",
    "load_metric_text",
    "load_metrics",
    "starter_metrics",
]

log = logging.getLogger(__name__)

# A definition is a few hundred bytes; anything past this is not one, and
# parsing it (PyYAML is pure Python) would take minutes.
MAX_DEFINITION_BYTES = 1_000_000

MetricKind = Literal["proportion", "mean", "ratio", "quantile"]
AggregateName = Literal["count", "sum", "any", "max"]
Operator = Literal[
    "eq", "ne", "in", "not_in", "gt", "ge", "lt", "le", "is_null", "not_null"
]


@dataclass(frozen=True)
class Source:
    """A table of timestamped rows attributed to one user.

    ``join`` names a derived source: the rows of ``table`` are attributed to the
    author of the post they point at (``parent_id`` for replies, ``post_id`` for
    votes), so that "votes received" and "replies received" are per author.
    """

    name: str
    table: str
    user_column: str
    time_column: str
    join: Literal["parent_post", "post"] | None
    doc: str

    @property
    def columns(self) -> tuple[str, ...]:
        """Columns a filter may use: those of the underlying canonical table."""
        return tuple(TABLES[self.table].schema.names)


SOURCES: dict[str, Source] = {
    source.name: source
    for source in [
        Source("events", "events", "user_id", "timestamp", None, "App events."),
        Source("posts", "posts", "user_id", "created_at", None, "Posts and replies."),
        Source(
            "replies_received",
            "posts",
            "user_id",
            "created_at",
            "parent_post",
            "Replies, attributed to the author of the post replied to.",
        ),
        Source("votes_cast", "votes", "user_id", "created_at", None, "Votes cast."),
        Source(
            "votes_received",
            "votes",
            "user_id",
            "created_at",
            "post",
            "Votes, attributed to the author of the post voted on.",
        ),
    ]
}


_Strict = DefinitionModel


class Condition(_Strict):
    """One filter condition: ``column op value`` on the source's rows."""

    column: str
    op: Operator = "eq"
    value: Any = None

    @model_validator(mode="after")
    def _value_fits_operator(self) -> Condition:
        if self.op in ("is_null", "not_null"):
            if self.value is not None:
                raise ValueError(f"operator {self.op} takes no value")
        elif self.op in ("in", "not_in"):
            if not isinstance(self.value, list) or not self.value:
                raise ValueError(f"operator {self.op} needs a non-empty list")
        elif self.value is None or isinstance(self.value, (list, dict)):
            raise ValueError(f"operator {self.op} needs one scalar value")
        return self


class Aggregation(_Strict):
    """Rows of a source, filtered and aggregated per user."""

    source: str
    aggregate: AggregateName = "count"
    column: str | None = None
    filter: tuple[Condition, ...] = ()

    @model_validator(mode="after")
    def _known_source_and_columns(self) -> Aggregation:
        if self.source not in SOURCES:
            raise ValueError(
                f"unknown source {self.source!r}; use one of {sorted(SOURCES)}"
            )
        columns = SOURCES[self.source].columns
        if self.aggregate in ("sum", "max") and self.column is None:
            raise ValueError(f"aggregate {self.aggregate} needs a column")
        if self.column is not None and self.column not in columns:
            raise ValueError(
                f"column {self.column!r} is not in source {self.source}"
                f" (columns: {', '.join(columns)})"
            )
        schema = TABLES[SOURCES[self.source].table].schema
        if self.column is not None and not schema[self.column].is_numeric():
            raise ValueError(
                f"aggregate {self.aggregate} needs a numeric column; column"
                f" {self.column!r} of source {self.source} is"
                f" {str(schema[self.column]).lstrip('!')}"
            )
        for condition in self.filter:
            if condition.column not in columns:
                raise ValueError(
                    f"filter column {condition.column!r} is not in source"
                    f" {self.source} (columns: {', '.join(columns)})"
                )
            _check_filter_value(condition, schema[condition.column])
        return self


def _value_fits(dtype: Any, value: Any) -> bool:
    if dtype.is_string():
        return isinstance(value, str)
    if dtype.is_boolean():
        return isinstance(value, bool)
    if dtype.is_numeric():
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return number and math.isfinite(value)
    if dtype.is_timestamp() or dtype.is_date():
        return isinstance(value, dt.date)
    return True


def _check_filter_value(condition: Condition, dtype: Any) -> None:
    # The warehouse would refuse a comparison of unlike types only at analysis
    # time, deep inside Ibis; say it on load instead.
    if condition.op in ("is_null", "not_null"):
        return
    values = condition.value if isinstance(condition.value, list) else [condition.value]
    wrong = [value for value in values if not _value_fits(dtype, value)]
    if not wrong:
        return
    if dtype.is_string():
        wanted = "text (quote numbers, e.g. '5')"
    elif dtype.is_numeric():
        wanted = "a finite number"
    elif dtype.is_timestamp() or dtype.is_date():
        wanted = "a date or date-time written unquoted, e.g. 2025-01-10"
    else:
        wanted = f"a {dtype} value"
    raise ValueError(
        f"filter on column {condition.column!r} ({str(dtype).lstrip('!')}) needs"
        f" {wanted};"
        f" got {wrong[0]!r}"
    )


class Window(_Strict):
    """Calendar days after the day of first exposure that count.

    Day 0 is the (UTC) day of the user's first exposure; the window holds days
    ``start_day`` to ``end_day - 1``. ``end_day`` empty means up to the
    analysis date. A user enters a metric only once its window is complete (a
    user exposed yesterday has no day-7 retention yet).
    """

    start_day: int = Field(default=0, ge=0, le=3650)
    end_day: int | None = Field(default=None, ge=1, le=3650)

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end_day is not None and self.end_day <= self.start_day:
            raise ValueError("end_day must be greater than start_day")
        return self


class Capping(_Strict):
    """Cap per-user values: at a fixed ``value`` or at a pooled ``percentile``."""

    value: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    percentile: float | None = Field(default=None, gt=0.5, lt=1.0)

    @model_validator(mode="after")
    def _exactly_one(self) -> Capping:
        if (self.value is None) == (self.percentile is None):
            raise ValueError("give exactly one of value or percentile")
        return self


class Metric(_Strict):
    """A metric definition, as read from one YAML file."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    name: str = Field(min_length=1)
    description: str = ""
    kind: MetricKind
    numerator: Aggregation
    denominator: Aggregation | None = None
    window: Window = Window()
    direction: Literal["increase", "decrease"] = "increase"
    capping: Capping | None = None
    quantile: float | None = Field(default=None, gt=0.0, lt=1.0)
    minimum_sample_size: int = Field(default=100, ge=2)
    unit: str = ""

    @model_validator(mode="after")
    def _kind_rules(self) -> Metric:
        if self.kind == "ratio" and self.denominator is None:
            raise ValueError("a ratio metric needs a denominator")
        if self.kind != "ratio" and self.denominator is not None:
            raise ValueError(f"a {self.kind} metric takes no denominator")
        if self.kind == "proportion" and self.numerator.aggregate != "any":
            raise ValueError("a proportion metric aggregates with 'any'")
        if self.kind == "quantile" and self.quantile is None:
            raise ValueError("a quantile metric needs quantile (e.g. 0.5)")
        if self.kind != "quantile" and self.quantile is not None:
            raise ValueError(f"a {self.kind} metric takes no quantile")
        if self.kind == "proportion" and self.capping is not None:
            raise ValueError("a proportion metric cannot be capped")
        return self

    @property
    def aggregations(self) -> tuple[Aggregation, ...]:
        """The numerator, then the denominator where there is one."""
        if self.denominator is None:
            return (self.numerator,)
        return (self.numerator, self.denominator)

    @property
    def higher_is_better(self) -> bool:
        """Whether an increase is good news."""
        return self.direction == "increase"


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict = 3, 8, 8
_SHORT.maxstring, _SHORT.maxother = 120, 120


class _Shown:
    """A value that prints as a shortened repr (for error messages)."""

    def __init__(self, value: Any) -> None:
        self.text = _SHORT.repr(value)

    def __repr__(self) -> str:
        return self.text


def shown(value: Any) -> Any:
    """``value`` itself, or a shortened stand-in when its repr could be huge.

    A 10 MB list or a YAML alias bomb would otherwise end up whole in the
    message of the error that refuses it.
    """
    if isinstance(value, list | tuple | dict | set) or (
        isinstance(value, str) and len(value) > 200
    ):
        return _Shown(value)
    return value


def _config_error(exc: ValidationError, where: str) -> ConfigError:
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "metric"
    message = str(first["msg"]).removeprefix("Value error, ")
    return ConfigError(
        field,
        message if message.startswith("must ") else f"must be valid ({message})",
        shown(first.get("input")),
        where=where,
        fix="Correct the metric file; docs/experiments.md lists every field.",
    )


def parse_definition_yaml(text: str, where: str) -> dict[str, Any]:
    """The mapping a metric or experiment YAML text holds, or a ConfigError.

    Refuses text over ``MAX_DEFINITION_BYTES``, YAML syntax errors (with the
    line and column) and documents that are not a mapping.
    """
    if len(text) > MAX_DEFINITION_BYTES:
        raise ConfigError(
            "file",
            f"must be at most {MAX_DEFINITION_BYTES:,} characters",
            f"{len(text):,} characters",
            where=where,
            fix="A definition is a few lines of YAML; check the file.",
        )
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(
            "file", "must be valid YAML", _yaml_problem(exc), where=where
        ) from None
    if not isinstance(document, dict):
        raise ConfigError(
            "file", "must hold a mapping of fields", shown(document), where=where
        )
    return document


def _yaml_problem(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if problem and mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return str(exc).splitlines()[0]


def read_definition_file(path: Path) -> str:
    """The text of a definition file, refusing unreadable or oversized files."""
    try:
        size = path.stat().st_size
        if size > MAX_DEFINITION_BYTES:
            raise ConfigError(
                "file",
                f"must be at most {MAX_DEFINITION_BYTES:,} bytes",
                f"{size:,} bytes",
                where=str(path),
                fix="A definition is a few lines of YAML; check the file.",
            )
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            "file", "must be a readable UTF-8 text file", str(path), where=str(path)
        ) from exc


def load_metric_text(
    text: str, where: str = "<text>", key: str | None = None
) -> Metric:
    """Validate one metric definition given as YAML text.

    ``key`` (the file's stem) is used when the document has no ``key``.
    """
    document = parse_definition_yaml(text, where)
    if key is not None:
        document.setdefault("key", key)
    try:
        return Metric.model_validate(document)
    except ValidationError as exc:
        raise _config_error(exc, where) from None


def load_metric_file(path: str | Path) -> Metric:
    """Read and validate one metric YAML file."""
    path = Path(path)
    text = read_definition_file(path)
    return load_metric_text(text, where=str(path), key=path.stem)


class MetricLibrary:
    """Metrics by key, read from one or more folders of YAML files."""

    def __init__(self, metrics: Iterable[Metric] = ()) -> None:
        self._metrics: dict[str, Metric] = {}
        for metric in metrics:
            self.add(metric)

    def add(self, metric: Metric, where: str = "metrics") -> None:
        """Add a metric; a second metric with the same key is an error."""
        if metric.key in self._metrics:
            raise ConfigError(
                "key",
                "must be unique across the metric library",
                metric.key,
                where=where,
            )
        self._metrics[metric.key] = metric

    def __getitem__(self, key: str) -> Metric:
        try:
            return self._metrics[key]
        except KeyError:
            known = ", ".join(sorted(self._metrics)) or "none"
            raise NotFoundError(f"No metric {key!r}; known metrics: {known}.") from None

    def __contains__(self, key: object) -> bool:
        return key in self._metrics

    def __iter__(self) -> Any:
        return iter(self._metrics.values())

    def __len__(self) -> int:
        return len(self._metrics)

    def keys(self) -> list[str]:
        """Metric keys in the order they were added."""
        return list(self._metrics)


def load_metrics(*folders: str | Path, starter: bool = True) -> MetricLibrary:
    """The metric library: the starter set (unless ``starter=False``) and folders.

    Files are read in name order; a key defined twice is an error that names
    the second file.
    """
    library = starter_metrics() if starter else MetricLibrary()
    for folder in folders:
        for path in sorted(Path(folder).glob("*.y*ml")):
            library.add(load_metric_file(path), where=str(path))
    return library


def starter_metrics() -> MetricLibrary:
    """The metrics that ship with veedel (``veedel/experiments/metrics/*.yaml``)."""
    library = MetricLibrary()
    package = resources.files("veedel.experiments") / "metrics"
    for entry in sorted(package.iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".yaml"):
            where = f"veedel/experiments/metrics/{entry.name}"
            metric = load_metric_text(
                entry.read_text(encoding="utf-8"),
                where=where,
                key=entry.name.removesuffix(".yaml"),
            )
            library.add(metric, where=where)
    return library


def source_rows(con: Any, name: str, table: Any = None, posts: Any = None) -> Any:
    """The rows of source ``name`` with ``unit_id`` and ``ts`` columns added.

    ``unit_id`` is the user the row is attributed to, ``ts`` its timestamp; the
    other columns are those of the canonical table, for filters and sums.
    ``table`` replaces the canonical table (its columns and any others, which
    are kept); ``posts`` (``target_post_id``, ``target_user_id`` and any other
    columns, kept too) replaces the posts that rows of a derived source are
    attributed through. By default every row and every post.
    """
    source = SOURCES[name]
    if table is None:
        table = con.table(source.table)
    if source.join is None:
        return table.mutate(
            unit_id=table[source.user_column], ts=table[source.time_column]
        )
    if posts is None:
        posts = con.table("posts").select(
            target_post_id="post_id", target_user_id="user_id"
        )
    key = "parent_id" if source.join == "parent_post" else "post_id"
    joined = table.join(posts, table[key] == posts.target_post_id)
    return joined.mutate(unit_id=joined.target_user_id, ts=joined[source.time_column])


def filter_expression(table: Any, conditions: Iterable[Condition]) -> Any:
    """The conjunction of ``conditions`` on ``table`` as an Ibis boolean.

    Values become Ibis literals; nothing is spliced into SQL text. No
    conditions give a literal true.
    """
    import ibis

    result = ibis.literal(True)
    for condition in conditions:
        result = result & _condition_expression(table[condition.column], condition)
    return result


def _condition_expression(column: Any, condition: Condition) -> Any:
    op, value = condition.op, condition.value
    if op == "is_null":
        return column.isnull()
    if op == "not_null":
        return column.notnull()
    if op == "in":
        return column.isin(list(value))
    if op == "not_in":
        return ~column.isin(list(value))
    comparisons = {
        "eq": column.__eq__,
        "ne": column.__ne__,
        "gt": column.__gt__,
        "ge": column.__ge__,
        "lt": column.__lt__,
        "le": column.__le__,
    }
    return comparisons[op](value)
