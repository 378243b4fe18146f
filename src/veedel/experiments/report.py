"""The self-contained HTML report of an experiment result.

One file, inline CSS and inline SVG, no scripts and nothing fetched: it can be
mailed, archived or opened behind a firewall.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from veedel.experiments.results import DailyPoint, ExperimentResult, MetricResult

__all__ = ["render_html"]

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:64rem;color:#222}
h1{font-size:1.5rem;margin-bottom:.2rem}.muted{color:#666}
.verdict{border-left:.4rem solid #888;padding:.6rem 1rem;background:#f6f6f6}
.ship{border-color:#1a7f37}.dont_ship,.broken{border-color:#cf222e}
.keep_running{border-color:#bf8700}.unhealthy{border-color:#8250df}
table{border-collapse:collapse;width:100%;margin:1rem 0;font-size:.9rem}
th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:right}
th:first-child,td:first-child{text-align:left}
.better{color:#1a7f37}.worse{color:#cf222e}.pass{color:#1a7f37}
.fail{color:#cf222e}.warn{color:#bf8700}
"""


def _fmt(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value * 100:+.2f}%" if percent else f"{value:.4g}"


def _metric_row(item: MetricResult) -> str:
    relative = item.relative_effect is not None
    if relative:
        change = _fmt(item.relative_effect, True)
        lower = _fmt(item.relative_ci_lower, True)
        interval = f"{lower} to {_fmt(item.relative_ci_upper, True)}"
    else:
        change = _fmt(item.absolute_effect)
        interval = f"{_fmt(item.absolute_ci_lower)} to {_fmt(item.absolute_ci_upper)}"
    p_value = "—" if item.p_value is None else f"{item.p_value:.3g}"
    where = f" ({item.slice_name} = {item.slice_value})" if item.slice_name else ""
    cells = [
        escape(item.name + where),
        escape(item.role),
        escape(item.variant),
        f"{item.control_n:,}",
        f"{item.treatment_n:,}",
        _fmt(item.control_value),
        _fmt(item.treatment_value),
        change,
        interval,
        p_value,
        f'<span class="{item.outcome}">{escape(item.outcome)}</span>',
    ]
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def _metric_table(items: tuple[MetricResult, ...]) -> str:
    head = [
        "metric",
        "role",
        "variant",
        "n&nbsp;control",
        "n&nbsp;treatment",
        "control",
        "treatment",
        "change",
        "interval",
        "p",
        "outcome",
    ]
    rows = "".join(_metric_row(item) for item in items)
    header = "".join(f"<th>{name}</th>" for name in head)
    return f"<table><tr>{header}</tr>{rows}</table>"


def _sparkline(points: list[DailyPoint]) -> str:
    """An SVG chart of the cumulative effect with its interval band."""
    usable = [p for p in points if p.effect is not None and p.ci_lower is not None]
    if len(usable) < 2:
        return "<p class='muted'>Not enough days with data for a chart yet.</p>"
    width, height, pad = 640, 160, 10
    lows = [p.ci_lower for p in usable if p.ci_lower is not None]
    highs = [p.ci_upper for p in usable if p.ci_upper is not None]
    low, high = min([*lows, 0.0]), max([*highs, 0.0])
    span = (high - low) or 1.0
    first, last = usable[0].day, usable[-1].day
    days = (last - first) or 1

    def x(day: int) -> float:
        return pad + (day - first) / days * (width - 2 * pad)

    def y(value: float) -> float:
        return pad + (high - value) / span * (height - 2 * pad)

    upper = [f"{x(p.day):.1f},{y(p.ci_upper or 0):.1f}" for p in usable]
    lower = [f"{x(p.day):.1f},{y(p.ci_lower or 0):.1f}" for p in reversed(usable)]
    line = " ".join(f"{x(p.day):.1f},{y(p.effect or 0):.1f}" for p in usable)
    return (
        f'<svg viewBox="0 0 {width} {height}" width="100%" role="img"'
        ' aria-label="cumulative effect over time">'
        f'<polygon points="{" ".join(upper + lower)}" fill="#ddeeff"/>'
        f'<line x1="{pad}" x2="{width - pad}" y1="{y(0):.1f}" y2="{y(0):.1f}"'
        ' stroke="#999" stroke-dasharray="4"/>'
        f'<polyline points="{line}" fill="none" stroke="#0969da" stroke-width="2"/>'
        "</svg>"
    )


def render_html(result: ExperimentResult) -> str:
    """Render ``result`` as one self-contained HTML page."""
    verdict = result.verdict
    reasons = "".join(f"<li>{escape(reason)}</li>" for reason in verdict.reasons)
    todo = f"<p><em>What to do:</em> {escape(verdict.what_to_do)}</p>"
    health_rows = "".join(
        f"<tr><td>{escape(c.title)}</td><td class='{c.status}'>{c.status}</td>"
        f"<td>{escape(c.message)}</td><td>{escape(c.what_to_do)}</td></tr>"
        for c in result.health
    )
    sentences = "".join(f"<li>{escape(m.sentence)}</li>" for m in result.metrics)
    charts = []
    for item in result.metrics:
        if item.role != "primary":
            continue
        points = [
            p
            for p in result.daily
            if p.metric == item.metric and p.variant == item.variant
        ]
        charts.append(
            f"<h3>{escape(item.name)} · {escape(item.variant)}: change over time</h3>"
            + _sparkline(points)
        )
    definition = result.definition
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{escape(result.name)}: experiment report</title><style>{_CSS}</style></head>
<body>
<h1>{escape(result.name)}</h1>
<p class="muted">{escape(result.key)} · owner {escape(str(definition.get("owner", "")))}
 · as of {escape(result.as_of)} · computed {escape(result.computed_at)}
 on {escape(result.warehouse)}</p>
<p><em>Hypothesis:</em> {escape(str(definition.get("hypothesis", "")))}</p>
<div class="verdict {verdict.decision}"><h2>{escape(verdict.label)}</h2>
<p>{escape(verdict.explanation)}</p><ul>{reasons}</ul>
{todo if verdict.what_to_do else ""}</div>
<h2>Health checks</h2>
<table><tr><th>check</th><th>status</th><th>finding</th><th>what to do</th></tr>
{health_rows}</table>
<h2>Metrics</h2><ul>{sentences}</ul>
{_metric_table(result.metrics)}
{"".join(charts)}
{"<h2>Slices</h2>" + _metric_table(result.slices) if result.slices else ""}
<p class="muted">Users per variant: {escape(str(result.units))}</p>
</body></html>
"""
