"""The experiment pages: list, one experiment, new experiment, metric library.

The pages read stored definitions and stored results and never recompute an
analysis when viewed. Every page reads without JavaScript; HTMX only makes the
search and the power calculator answer without a full reload.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from veedel.api.experiment_data import (
    ExperimentEntry,
    create_experiment,
    get_entry,
    list_entries,
    metric_library,
    metric_summaries,
    plan_for_metric,
)
from veedel.api.experiment_input import (
    ExperimentIn,
    definition_from_input,
    input_error_from_validation,
)
from veedel.api.security import CurrentUser, current_user
from veedel.errors import InputError, NotFoundError
from veedel.experiments.results import ExperimentResult
from veedel.web.components import (
    OUTCOME_LABELS,
    Badge,
    format_relative,
    format_value,
)
from veedel.web.experiment_views import (
    GLOSSARY,
    STATUSES,
    effect_chart_spec,
    experiment_status,
    metric_sections,
    settings_rows,
    slice_sections,
)
from veedel.web.form_parsing import (
    FormValues,
    check_percents,
    experiment_form_values,
    plan_values,
)
from veedel.web.templating import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

# Rows per page of the list; the pager links keep the search and the filters.
PAGE_SIZE = 100
# A plan longer than this many days is said to be out of reach, not just shown.
MAX_PLAN_DAYS = 365


@dataclass(frozen=True)
class ListRow:
    """One experiment on the list page."""

    key: str
    name: str
    owner: str
    start: str
    end: str | None
    badge: Badge
    primary_name: str
    effect: str | None
    outcome: str
    outcome_label: str
    text: str


def _list_row(entry: ExperimentEntry, names: dict[str, str], today: dt.date) -> ListRow:
    definition, result = entry.definition, entry.result
    primary = definition.metrics.primary[0]
    effect, outcome = None, "not_computed"
    # The metric that decided the verdict, so "Ship" never sits next to
    # another metric's "no clear effect".
    headline = result.headline_metric() if result is not None else None
    if headline is not None:
        primary = headline.metric
        effect = format_relative(headline.relative_effect)
        outcome = headline.outcome
    text = " ".join(
        [definition.key, definition.name, definition.owner, definition.hypothesis]
    ).lower()
    return ListRow(
        key=definition.key,
        name=definition.name,
        owner=definition.owner,
        start=definition.start.isoformat(),
        end=definition.end.isoformat() if definition.end else None,
        badge=experiment_status(result, definition.end, today),
        primary_name=names.get(primary, primary),
        effect=effect,
        outcome=outcome,
        outcome_label=OUTCOME_LABELS.get(outcome, outcome),
        text=text,
    )


@dataclass(frozen=True)
class Pager:
    """One page of the experiments list: which rows, and links to its neighbours."""

    number: int
    pages: int
    first: int
    last: int
    matching: int
    previous_url: str | None
    next_url: str | None
    total: int

    @property
    def sentence(self) -> str:
        """Which rows are shown, such as "Showing 1–100 of 500 experiments"."""
        if not self.matching:
            return f"No experiment matches ({self.total:,} in all)."
        rows = f"{self.first:,}–{self.last:,}"
        if self.first == self.last:
            rows = f"{self.first:,}"
        noun = "experiment" if self.matching == 1 else "experiments"
        if self.matching == self.total:
            return f"Showing {rows} of {self.matching:,} {noun}."
        return (
            f"Showing {rows} of {self.matching:,} matching {noun}"
            f" ({self.total:,} in all)."
        )


def _page_number(page: str) -> int:
    # A page number that is not a whole number shows the first page, as a
    # browser's hand-edited URL should not end in an error.
    try:
        return max(1, int(page.strip()))
    except ValueError:
        return 1


def _pager(matching: int, total: int, wanted: int, filters: dict[str, str]) -> Pager:
    pages = max(1, -(-matching // PAGE_SIZE))
    number = min(wanted, pages)
    kept = {name: value for name, value in filters.items() if value}

    def url(page: int) -> str:
        query = urlencode({**kept, "page": page} if page > 1 else kept)
        return f"/experiments?{query}" if query else "/experiments"

    first = (number - 1) * PAGE_SIZE
    return Pager(
        number=number,
        pages=pages,
        first=first + 1 if matching else 0,
        last=min(first + PAGE_SIZE, matching),
        matching=matching,
        previous_url=url(number - 1) if number > 1 else None,
        next_url=url(number + 1) if number < pages else None,
        total=total,
    )


@router.get("/experiments", response_class=HTMLResponse)
def experiments_page(
    request: Request, q: str = "", status: str = "", owner: str = "", page: str = "1"
) -> HTMLResponse:
    """Every experiment with its status, owner, dates and primary effect, paged."""
    user = current_user(request)
    names = {metric.key: metric.name for metric in metric_library(request.app)}
    today = dt.date.today()
    rows = [_list_row(entry, names, today) for entry in list_entries(request.app)]
    owners = sorted({row.owner for row in rows if row.owner})
    total = len(rows)

    words = q.lower().split()[:10]
    rows = [row for row in rows if all(word in row.text for word in words)]
    if status:
        rows = [row for row in rows if row.badge.text == status]
    if owner:
        rows = [row for row in rows if row.owner == owner]

    q = q[:200]
    filters = {"q": q, "status": status, "owner": owner}
    pager = _pager(len(rows), total, _page_number(page[:20]), filters)
    return render(
        request,
        "experiments/list.html",
        shown=rows[pager.first - 1 : pager.last] if rows else [],
        pager=pager,
        total=total,
        q=q,
        status=status,
        owner=owner,
        owners=owners,
        statuses=STATUSES,
        can_edit=user.can("editor"),
        glossary=GLOSSARY,
    )


def _chart_rows(
    result: ExperimentResult, names: dict[str, str]
) -> list[dict[str, str]]:
    rows = []
    for point in result.daily:
        relative = point.scale == "relative"
        effect = (
            format_relative(point.effect)
            if relative
            else ("—" if point.effect is None else f"{point.effect:+.4g}")
        )
        interval = "—"
        if point.ci_lower is not None and point.ci_upper is not None:
            if relative:
                lower, upper = (
                    format_relative(point.ci_lower),
                    format_relative(point.ci_upper),
                )
            else:
                lower, upper = f"{point.ci_lower:+.4g}", f"{point.ci_upper:+.4g}"
            interval = f"{lower} to {upper}"
        rows.append(
            {
                "date": point.date,
                "metric": names.get(point.metric, point.metric),
                "variant": point.variant,
                "n": f"{point.control_n:,} / {point.treatment_n:,}",
                "effect": effect,
                "interval": interval,
            }
        )
    return rows


def _entry_or_404(request: Request, key: str) -> ExperimentEntry | HTMLResponse:
    try:
        return get_entry(request.app, key)
    except NotFoundError as exc:
        return render(
            request, "experiments/missing.html", status_code=404, message=str(exc)
        )


def _editor_or_page(request: Request) -> CurrentUser | HTMLResponse:
    user = current_user(request)
    if not user.can("editor"):
        return render(request, "experiments/forbidden.html", status_code=403)
    return user


@router.get("/experiments/new", response_class=HTMLResponse)
def new_experiment_form(request: Request) -> HTMLResponse:
    """The guided form for a new experiment (editors only)."""
    user = _editor_or_page(request)
    if isinstance(user, HTMLResponse):
        return user
    values = FormValues.empty(owner=user.username, today=dt.date.today())
    return _form_page(request, values, errors={}, plan=None)


def _form_page(
    request: Request,
    values: FormValues,
    errors: dict[str, str],
    plan: dict[str, Any] | None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "experiments/new.html",
        status_code=status_code,
        values=values,
        errors=errors,
        plan=plan,
        metrics=list(metric_library(request.app)),
        glossary=GLOSSARY,
    )


def _plan(request: Request, values: FormValues) -> dict[str, Any]:
    """The power calculator's answer, or its error, for the template."""
    try:
        metric, mde, power, alpha, weights = plan_values(values)
        plan = plan_for_metric(request.app, metric, mde, alpha, power, weights)
    except InputError as exc:
        return {"error": str(exc)}
    if plan.n_per_variant is None:
        return {"error": plan.sentence}
    daily = round(plan.daily_users) if plan.daily_users else None
    too_long = None
    if plan.days is not None and plan.days > MAX_PLAN_DAYS:
        too_long = (
            f"That is {plan.days / 365:,.0f} years at current traffic: this test"
            " is not feasible. Plan for a bigger smallest change, or run it where"
            " more users arrive."
        )
    return {
        "too_long": too_long,
        "n_per_variant": plan.n_per_variant,
        "days": plan.days,
        "daily_users": daily,
        "metric_name": plan.name,
        "mde_text": f"{plan.mde * 100:.3g} %",
        "power_text": f"{plan.power:.0%}",
        "alpha": f"{plan.alpha:g}",
        "baseline_text": format_value(plan.baseline_mean, plan.kind),
        "history_text": f"{plan.history_users:,} users in the last 28 days of data",
        "sentence": plan.sentence,
    }


# The form's labels for the fields an error names ("variants.0.weight" is the
# weight in the first row of the variants table).
_ROW_FIELDS = re.compile(r"^(variants|guardrails)\.(\d+)\.(\w+)$")
_LABELS = {
    "key": "Key",
    "name": "Name",
    "hypothesis": "Hypothesis",
    "owner": "Owner",
    "start": "Start",
    "end": "End",
    "variants": "Variants",
    "variants.weight": "Weights",
    "variants.control": "Control",
    "variants.key": "Variant keys",
    "primary": "Primary metrics",
    "guardrails": "Guardrail metrics",
    "secondary": "Secondary metrics",
    "mde_percent": "Smallest change worth detecting",
    "alpha": "Alpha",
    "power": "Power",
}


def _form_error(error: InputError) -> dict[str, str]:
    """The error keyed by its field, opening with the form's label for it."""
    label = _LABELS.get(error.field)
    row = _ROW_FIELDS.match(error.field)
    if row is not None:
        table, index, part = row.groups()
        noun = "Variant" if table == "variants" else "Guardrail"
        label = f"{noun} {int(index) + 1}, {part}"
    elif error.field.startswith("margin_"):
        label = f"Guardrail margin of {error.field.removeprefix('margin_')}"
    text = str(error)
    return {error.field: f"{label}: {text}" if label else text}


@router.post("/experiments/new", response_model=None)
async def create_experiment_form(request: Request) -> Response:
    """Create the experiment, or show the form again with what is wrong.

    The "Calculate" button of the power calculator posts the same form with
    ``action=plan``: the form comes back with the plan and nothing is stored.
    """
    user = _editor_or_page(request)
    if isinstance(user, HTMLResponse):
        return user
    form = await request.form()
    values = experiment_form_values(form)
    if values.action == "plan":
        return _form_page(request, values, errors={}, plan=_plan(request, values))

    library = metric_library(request.app)
    try:
        check_percents(values)
        body = ExperimentIn.model_validate(values.as_input())
        definition = definition_from_input(body, library)
        create_experiment(request.app, definition, user.username)
    except ValidationError as exc:
        error = input_error_from_validation(exc)
        return _form_page(request, values, _form_error(error), None, 422)
    except InputError as exc:
        return _form_page(request, values, _form_error(exc), None, 422)
    return RedirectResponse(f"/experiments/{definition.key}?created=1", status_code=303)


@router.post("/experiments/plan", response_class=HTMLResponse)
async def plan_fragment(request: Request) -> HTMLResponse:
    """The power calculator's answer as an HTML fragment (for HTMX)."""
    form = await request.form()
    values = experiment_form_values(form)
    return render(
        request, "experiments/_plan.html", plan=_plan(request, values), values=values
    )


@router.get("/experiments/{key}", response_class=HTMLResponse)
def experiment_page(request: Request, key: str, created: int = 0) -> HTMLResponse:
    """One experiment: verdict, health, metrics, chart, slices, settings, exports."""
    found = _entry_or_404(request, key)
    if isinstance(found, HTMLResponse):
        return found
    definition, result = found.definition, found.result
    names = {metric.key: metric.name for metric in metric_library(request.app)}
    context: dict[str, Any] = {
        "definition": definition,
        "result": result,
        "badge": experiment_status(result, definition.end, dt.date.today()),
        "glossary": GLOSSARY,
        "created": bool(created),
    }
    if result is not None:
        context |= {
            "sections": metric_sections(result),
            "slices": slice_sections(result),
            "settings": settings_rows(result.definition),
            "chart_spec": effect_chart_spec(result.daily, names),
            "chart_rows": _chart_rows(result, names),
        }
    return render(request, "experiments/detail.html", **context)


def _result_or_404(request: Request, key: str) -> ExperimentResult | HTMLResponse:
    found = _entry_or_404(request, key)
    if isinstance(found, HTMLResponse):
        return found
    if found.result is None:
        return render(
            request,
            "experiments/missing.html",
            status_code=404,
            message=f"Experiment {key!r} has no stored analysis yet.",
        )
    return found.result


@router.get("/experiments/{key}/export.csv", response_model=None)
def export_csv(request: Request, key: str) -> Response:
    """The stored result, one row per metric x treatment, as CSV."""
    result = _result_or_404(request, key)
    if isinstance(result, HTMLResponse):
        return result
    filename = f"{result.key}-{result.as_of}.csv"
    return Response(
        result.to_csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/experiments/{key}/export.json", response_model=None)
def export_json(request: Request, key: str) -> Response:
    """The stored result as JSON (the same document the API returns)."""
    result = _result_or_404(request, key)
    if isinstance(result, HTMLResponse):
        return result
    filename = f"{result.key}-{result.as_of}.json"
    return Response(
        result.to_json(indent=2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/experiments/{key}/report", response_model=None)
def printable_report(request: Request, key: str) -> Response:
    """The self-contained, printable HTML report of the stored result."""
    result = _result_or_404(request, key)
    if isinstance(result, HTMLResponse):
        return result
    return HTMLResponse(result.to_html())


@router.get("/metrics", response_class=HTMLResponse)
def metrics_page(request: Request) -> HTMLResponse:
    """Every metric of the library with its definition in words and recent values."""
    return render(
        request,
        "experiments/metrics.html",
        metrics=metric_summaries(request.app),
        glossary=GLOSSARY,
    )
