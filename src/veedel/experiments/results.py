"""Result objects of an experiment analysis, ready for the terminal, JSON and HTML.

Every object is a frozen dataclass of plain values (str, int, float, None,
tuples): a number that could not be computed is ``None`` with a reason beside
it, never NaN. The CLI, the HTTP API and the web pages render the same objects.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from veedel.experiments.report import render_html

__all__ = [
    "DECISION_LABELS",
    "DailyPoint",
    "ExperimentResult",
    "HealthCheck",
    "MetricResult",
    "Verdict",
    "finite_or_none",
]

Decision = Literal["ship", "keep_running", "dont_ship", "broken", "unhealthy"]
Outcome = Literal["better", "worse", "inconclusive", "not_computed"]
Status = Literal["pass", "warn", "fail"]

DECISION_LABELS: dict[str, str] = {
    "ship": "Ship",
    "keep_running": "Keep running",
    "dont_ship": "Don't ship",
    "broken": "Broken",
    "unhealthy": "Don't trust these results yet",
}


def finite_or_none(value: Any) -> float | None:
    """``float(value)`` when finite, else ``None`` (never NaN in a result)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)
        }
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class _Plain:
    def to_dict(self) -> dict[str, Any]:
        """The object as JSON-ready values."""
        result = _plain(self)
        assert isinstance(result, dict)
        return result

    def to_json(self, **kwargs: Any) -> str:
        """The object as JSON text (``allow_nan`` is off: no NaN ever)."""
        return json.dumps(self.to_dict(), allow_nan=False, **kwargs)


@dataclass(frozen=True)
class HealthCheck(_Plain):
    """One health check: its status, what was found and what to do."""

    key: str
    title: str
    status: Status
    message: str
    what_to_do: str = ""
    value: float | None = None

    @property
    def failed(self) -> bool:
        """True when the check failed (the verdict is withheld)."""
        return self.status == "fail"


@dataclass(frozen=True)
class MetricResult(_Plain):
    """One metric for one treatment against control (overall or in one slice).

    ``absolute_*`` are on the metric's scale (treatment - control);
    ``relative_*`` are fractions ((treatment - control) / control). ``outcome``
    respects the metric's direction: ``better`` means significantly better.
    """

    metric: str
    name: str
    kind: str
    role: str
    direction: str
    variant: str
    control_variant: str
    slice_name: str | None
    slice_value: str | None
    control_n: int
    treatment_n: int
    control_value: float | None
    treatment_value: float | None
    absolute_effect: float | None
    absolute_ci_lower: float | None
    absolute_ci_upper: float | None
    relative_effect: float | None
    relative_ci_lower: float | None
    relative_ci_upper: float | None
    p_value: float | None
    significant: bool
    outcome: Outcome
    method: str
    sentence: str
    reason: str = ""
    margin: float = 0.0
    guardrail_breached: bool = False
    variance_reduction: float | None = None
    cap: float | None = None


@dataclass(frozen=True)
class DailyPoint(_Plain):
    """The cumulative effect of one metric and treatment as of one day."""

    metric: str
    variant: str
    day: int
    date: str
    control_n: int
    treatment_n: int
    effect: float | None
    ci_lower: float | None
    ci_upper: float | None
    scale: str


@dataclass(frozen=True)
class Verdict(_Plain):
    """What to do: the decision, its label, one sentence and the reasons."""

    decision: Decision
    sentence: str
    reasons: tuple[str, ...] = ()
    what_to_do: str = ""
    days_left: int | None = None

    @property
    def label(self) -> str:
        """The decision as people read it ("Ship", "Keep running", ...)."""
        return DECISION_LABELS[self.decision]

    @property
    def explanation(self) -> str:
        """The sentence without its leading label, for a place that shows the
        label already ("Ship" over "Day-7 retention improved ...")."""
        prefix = f"{self.label}: "
        if not self.sentence.startswith(prefix):
            return self.sentence
        rest = self.sentence[len(prefix) :]
        return rest[:1].upper() + rest[1:]

    def to_dict(self) -> dict[str, Any]:
        """The verdict as JSON-ready values, with its label."""
        return {**super().to_dict(), "label": self.label}


@dataclass(frozen=True)
class ExperimentResult(_Plain):
    """The full analysis of one experiment as of one date.

    ``definition`` and ``metric_definitions`` are snapshots of what was used,
    so the report can be reproduced; ``units`` gives users per variant and
    the users excluded.
    """

    key: str
    name: str
    as_of: str
    computed_at: str
    warehouse: str
    definition: dict[str, Any]
    metric_definitions: dict[str, Any]
    units: dict[str, Any]
    health: tuple[HealthCheck, ...]
    verdict: Verdict
    metrics: tuple[MetricResult, ...]
    slices: tuple[MetricResult, ...] = ()
    daily: tuple[DailyPoint, ...] = ()
    versions: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready values (the verdict with its label)."""
        result = super().to_dict()
        result["verdict"] = self.verdict.to_dict()
        return result

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExperimentResult:
        """Rebuild a result from :meth:`to_dict` output (e.g. from the store)."""
        verdict = {k: v for k, v in data["verdict"].items() if k != "label"}
        verdict["reasons"] = tuple(verdict.get("reasons", ()))
        return cls(
            key=data["key"],
            name=data["name"],
            as_of=data["as_of"],
            computed_at=data["computed_at"],
            warehouse=data["warehouse"],
            definition=data["definition"],
            metric_definitions=data["metric_definitions"],
            units=data["units"],
            health=tuple(HealthCheck(**item) for item in data["health"]),
            verdict=Verdict(**verdict),
            metrics=tuple(MetricResult(**item) for item in data["metrics"]),
            slices=tuple(MetricResult(**item) for item in data.get("slices", ())),
            daily=tuple(DailyPoint(**item) for item in data.get("daily", ())),
            versions=dict(data.get("versions", {})),
        )

    def headline_metric(self) -> MetricResult | None:
        """The overall primary result that best explains the verdict.

        For Ship, the first primary metric that got better; for Don't ship,
        the first that got worse; otherwise the first primary metric. ``None``
        when no primary metric has a result.
        """
        primary = [item for item in self.metrics if item.role == "primary"]
        wanted = {"ship": "better", "dont_ship": "worse"}.get(self.verdict.decision)
        deciding = [item for item in primary if item.outcome == wanted]
        return next(iter(deciding or primary), None)

    @property
    def healthy(self) -> bool:
        """True when no health check failed."""
        return not any(check.failed for check in self.health)

    def to_csv(self) -> str:
        """One row per metric x treatment (overall, then slices) as CSV text."""
        rows = [item.to_dict() for item in (*self.metrics, *self.slices)]
        buffer = io.StringIO()
        if not rows:
            return ""
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_cell(v) for k, v in row.items()})
        return buffer.getvalue()

    def to_html(self) -> str:
        """A self-contained HTML report (inline CSS and SVG, no scripts)."""
        return render_html(self)

    def __rich__(self) -> RenderableType:
        style = {
            "ship": "bold green",
            "keep_running": "bold yellow",
            "dont_ship": "bold red",
            "broken": "bold red",
            "unhealthy": "bold magenta",
        }[self.verdict.decision]
        lines = [Text(self.verdict.label, style=style), Text(self.verdict.explanation)]
        lines += [Text(f"• {reason}") for reason in self.verdict.reasons]
        if self.verdict.what_to_do:
            lines.append(Text(f"What to do: {self.verdict.what_to_do}", style="italic"))
        header = Panel(
            Group(*lines),
            # Text, not a markup string: a name like "[bold]x" must print as is.
            title=Text(f"{self.name} ({self.key}) · as of {self.as_of}"),
            title_align="left",
        )
        return Group(header, self._health_table(), self._metric_table())

    def _health_table(self) -> Table:
        table = Table(title="Health checks", title_justify="left")
        for name in ("check", "status", "finding"):
            table.add_column(name)
        colours = {"pass": "green", "warn": "yellow", "fail": "red"}
        for check in self.health:
            status = Text(check.status, style=colours[check.status])
            table.add_row(Text(check.title), status, Text(check.message))
        return table

    def _metric_table(self) -> Table:
        # Four columns of stacked fields, so 80 columns cut nothing: the metric
        # over its role and variant, control over treatment, the change over
        # its interval, the outcome over its p-value.
        table = Table(title="Metrics", title_justify="left")
        table.add_column("metric")
        table.add_column("control\ntreatment", justify="right", no_wrap=True)
        table.add_column("change\ninterval", justify="right")
        table.add_column("outcome\np-value")
        colours = {"better": "green", "worse": "red"}
        for item in self.metrics:
            metric = Text(item.name, style="bold")
            metric.append(f"\n{item.role} · {item.variant}", style="dim")
            outcome = Text(item.outcome, style=colours.get(item.outcome, ""))
            outcome.append(f"\n{_p_value(item.p_value)}")
            table.add_row(
                metric,
                f"{_number(item.control_value)}\n{_number(item.treatment_value)}",
                f"{_change(item)}\n{_interval(item)}",
                outcome,
            )
        return table


def _p_value(value: float | None) -> str:
    if value is None:
        return "p —"
    return "p < 0.0001" if value < 1e-4 else f"p = {value:.3g}"


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def _change(item: MetricResult) -> str:
    if item.relative_effect is not None:
        return f"{item.relative_effect * 100:+.2f}%"
    return "—" if item.absolute_effect is None else f"{item.absolute_effect:+.4g}"


def _interval(item: MetricResult) -> str:
    if item.relative_ci_lower is not None and item.relative_ci_upper is not None:
        lower, upper = item.relative_ci_lower * 100, item.relative_ci_upper * 100
        return f"{lower:+.2f}% to {upper:+.2f}%"
    if item.absolute_ci_lower is not None and item.absolute_ci_upper is not None:
        return f"{item.absolute_ci_lower:+.4g} to {item.absolute_ci_upper:+.4g}"
    return "—"


# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    """A CSV cell: empty for None; text that a spreadsheet would run as a
    formula (a slice value '=HYPERLINK(...)' from the warehouse) gets a
    leading apostrophe. Numbers stay numbers, negative ones included."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value
