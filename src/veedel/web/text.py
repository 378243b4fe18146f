"""The text analytics page: the report with charts, and a box to try a text."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse

from veedel.api.security import CurrentUser, require_role
from veedel.api.text import analyze_texts
from veedel.errors import InputError
from veedel.web.templating import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

GROUPINGS = {"city": "city", "channel_id": "channel", "week": "week"}


def _report(request: Request, by: str, top: int) -> tuple[Any, InputError | None]:
    from veedel.text import build_report
    from veedel.warehouse import connect

    try:
        # A warehouse held by another process (a running enrich) is a problem
        # to show on the page, like a missing table.
        con = connect(request.app.state.settings.resolved_warehouse_url())
        return build_report(con, by, top, 12), None  # type: ignore[arg-type]
    except InputError as exc:
        return None, exc


def _label_names() -> dict[str, str]:
    """Readable names of the taxonomy's labels by id; {} if it cannot be read
    (the page then shows the ids the warehouse holds)."""
    from veedel.text.settings import get_text_settings
    from veedel.text.taxonomy import load_taxonomy

    try:
        taxonomy = load_taxonomy(get_text_settings().taxonomy_path)
    except InputError:
        return {}
    return {label.id: label.name for label in taxonomy.labels}


def _named(rows: list[dict[str, Any]], names: dict[str, str]) -> list[dict[str, Any]]:
    """The rows with each label id replaced by its name (unknown ids kept)."""
    return [{**row, "label": names.get(row["label"], row["label"])} for row in rows]


def _terms(frame: Any) -> list[tuple[str, list[tuple[str, int]]]]:
    """Rows of (group, [(term, n), ...]) for the template."""
    rows = []
    for group, part in frame.groupby("group", sort=True):
        pairs = zip(part.term, part.n, strict=True)
        rows.append((str(group), [(str(term), int(n)) for term, n in pairs]))
    return rows


@router.get("/text", response_class=HTMLResponse)
def text_page(
    request: Request,
    user: Annotated[CurrentUser, Depends(require_role("viewer"))],
    by: Annotated[Literal["city", "channel_id", "week"], Query()] = "city",
    top: Annotated[int, Query(ge=1, le=30)] = 8,
) -> HTMLResponse:
    """Language mix, label mix per week, top nouns and entities per group."""
    report, problem = _report(request, by, top)
    context: dict[str, Any] = {"by": by, "top": top, "groupings": GROUPINGS}
    if report is None:
        return render(
            request,
            "text/report.html",
            report=None,
            problem=str(problem),
            no_posts=getattr(problem, "field", None) == "posts",
            **context,
        )
    names = _label_names()
    label_spec = report.label_chart()
    label_spec["data"]["values"] = _named(label_spec["data"]["values"], names)
    return render(
        request,
        "text/report.html",
        report=report,
        problem=None,
        languages=report.languages.to_dict(orient="records"),
        languages_by=report.language_rows(),
        labels=_named(report.label_totals().to_dict(orient="records"), names),
        nouns=_terms(report.nouns),
        entities=_terms(report.entities),
        label_spec=label_spec,
        language_spec=report.language_chart(),
        **context,
    )


@router.post("/text/analyze", response_class=HTMLResponse)
def analyze_form(
    request: Request,
    user: Annotated[CurrentUser, Depends(require_role("viewer"))],
    text: Annotated[str, Form(max_length=20_000)] = "",
) -> HTMLResponse:
    """Analyse the text typed into the page; answers with a fragment."""
    result = analyze_texts(request, [text])[0] if text.strip() else None
    return render(request, "text/_analysis.html", result=result, text=text)
