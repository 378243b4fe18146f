"""JSON API of text analytics: analyse texts, read the report."""

from __future__ import annotations

import threading
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field, model_validator

from veedel.api.ascii_errors import AsciiErrorRoute
from veedel.api.security import CurrentUser, require_role
from veedel.errors import ConfigError, InputError

__all__ = ["analyze_texts", "router", "shared_analyzer"]

router = APIRouter(prefix="/api/v1", tags=["text"], route_class=AsciiErrorRoute)

MAX_BATCH = 1000
MAX_TEXT_CHARS = 100_000

_build_lock = threading.Lock()
_run_lock = threading.Lock()


class AnalyzeIn(BaseModel):
    """One text (``text``) or a batch (``texts``), not both."""

    text: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)
    texts: list[Annotated[str, Field(max_length=MAX_TEXT_CHARS)]] | None = Field(
        default=None, max_length=MAX_BATCH
    )

    @model_validator(mode="after")
    def _one_of(self) -> AnalyzeIn:
        if (self.text is None) == (self.texts is None):
            raise ValueError("send either 'text' or 'texts', exactly one of them")
        return self


class NounOut(BaseModel):
    """A common noun as written and as lemma."""

    text: str
    lemma: str


class EntityOut(BaseModel):
    """An entity: PER, LOC, ORG, OTH (German) or PROPN (English, untyped)."""

    text: str
    label: str


class AnalysisOut(BaseModel):
    """What veedel finds in one text."""

    language: str
    language_confidence: float
    nouns: list[NounOut]
    entities: list[EntityOut]
    label: str | None
    label_confidence: float
    truncated: bool


class AnalyzeOut(BaseModel):
    """One result per text, in the order sent."""

    results: list[AnalysisOut]
    language_detector: str
    label_mode: Literal["trained", "examples", "descriptions"]


def shared_analyzer(request: Request) -> Any:
    """The app's one TextAnalyzer, built on first use (models load once)."""
    with _build_lock:
        analyzer = getattr(request.app.state, "text_analyzer", None)
        if analyzer is None:
            from veedel.text import TextAnalyzer

            analyzer = TextAnalyzer()
            request.app.state.text_analyzer = analyzer
        return analyzer


def analyze_texts(request: Request, texts: list[str]) -> list[Any]:
    """Analyse texts with the app's analyzer, one batch at a time."""
    analyzer = shared_analyzer(request)
    # The taggers are not known to be thread-safe.
    with _run_lock:
        results: list[Any] = analyzer.analyze_many(texts)
    return results


@router.post("/text:analyze")
def analyze(
    body: AnalyzeIn,
    request: Request,
    user: Annotated[CurrentUser, Depends(require_role("viewer"))],
) -> AnalyzeOut:
    """Language, nouns, entities and content label of one text or a batch.

    Send ``{"text": "..."}`` or ``{"texts": ["...", "..."]}`` (at most 1,000).
    """
    texts = [body.text] if body.text is not None else list(body.texts or [])
    results = analyze_texts(request, texts)
    analyzer = shared_analyzer(request)
    return AnalyzeOut(
        results=[
            AnalysisOut.model_validate(
                {key: value for key, value in r.to_dict().items() if key != "text"}
            )
            for r in results
        ],
        language_detector=analyzer.detector.name,
        label_mode=analyzer.labeler.mode,
    )


@router.get("/text/report")
def report(
    request: Request,
    user: Annotated[CurrentUser, Depends(require_role("viewer"))],
    by: Literal["city", "channel_id", "week"] = "city",
    top: Annotated[int, Query(ge=1, le=100)] = 10,
    groups: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict[str, Any]:
    """Language mix, top nouns and entities per group, label mix per week."""
    from veedel.text import build_report
    from veedel.warehouse import connect

    try:
        con = connect(request.app.state.settings.resolved_warehouse_url())
    except ConfigError as exc:  # e.g. a DuckDB file held by `veedel text enrich`
        raise HTTPException(status_code=503, detail=str(exc)) from None
    try:
        result: dict[str, Any] = build_report(con, by, top, groups).to_dict()
    except InputError as exc:  # no posts or no features yet
        raise HTTPException(status_code=409, detail=str(exc)) from None
    return result
