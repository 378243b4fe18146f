"""JSON API of the experimentation platform under ``/api/v1``.

Viewers read experiments, stored results and the metric library and use the
power calculator; editors also create experiments. Results are read as stored
by ``veedel experiments analyze``; nothing is recomputed on a request.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from veedel.api.ascii_errors import echo_value
from veedel.api.experiment_data import (
    ExperimentEntry,
    create_experiment,
    get_entry,
    list_entries,
    metric_library,
    metric_summaries,
    plan_for_metric,
)
from veedel.api.experiment_input import ExperimentIn, definition_from_input
from veedel.api.security import CurrentUser, require_role
from veedel.errors import InputError, NotFoundError
from veedel.web.experiment_views import STATUSES, experiment_status
from veedel.web.metric_words import metric_in_words

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["experiments"])


class ExperimentSummary(BaseModel):
    """One experiment as the list shows it."""

    key: str
    name: str
    owner: str
    start: dt.date
    end: dt.date | None
    status: str
    decision: str | None
    as_of: str | None
    primary_metric: str
    primary_relative_effect: float | None
    primary_outcome: str | None


class PlanIn(BaseModel):
    """The power calculator's question."""

    # NaN is refused here by name; echoed back in an error it is not JSON.
    model_config = ConfigDict(allow_inf_nan=False)

    metric: str = Field(min_length=1, max_length=64)
    mde: float = Field(gt=0.0, lt=10.0, description="Relative MDE: 0.05 is 5 %.")
    alpha: float = Field(default=0.05, gt=0.0, lt=0.5)
    power: float = Field(default=0.8, gt=0.5, lt=1.0)
    weights: list[float] = Field(
        default_factory=lambda: [0.5, 0.5], min_length=2, max_length=10
    )


class PlanOut(BaseModel):
    """The answer: users per variant and days at current traffic (None: no plan)."""

    metric: str
    name: str
    kind: str
    mde: float
    relative: bool
    alpha: float
    power: float
    weights: list[float]
    baseline_mean: float | None
    baseline_sd: float | None
    history_users: int
    daily_users: float | None
    n_per_variant: int | None
    days: int | None
    sentence: str


def _unprocessable(exc: InputError) -> HTTPException:
    return HTTPException(
        status_code=422,
        detail={
            "field": exc.field,
            "rule": exc.rule,
            "value": echo_value(exc.value),
            "message": str(exc),
        },
    )


def _summary(entry: ExperimentEntry, today: dt.date) -> ExperimentSummary:
    definition, result = entry.definition, entry.result
    primary = definition.metrics.primary[0]
    item = result.headline_metric() if result is not None else None
    if item is not None:
        primary = item.metric
    return ExperimentSummary(
        key=definition.key,
        name=definition.name,
        owner=definition.owner,
        start=definition.start,
        end=definition.end,
        status=experiment_status(result, definition.end, today).text,
        decision=result.verdict.decision if result else None,
        as_of=result.as_of if result else None,
        primary_metric=primary,
        primary_relative_effect=item.relative_effect if item else None,
        primary_outcome=item.outcome if item else None,
    )


def _search_text(entry: ExperimentEntry) -> str:
    definition = entry.definition
    words = [definition.key, definition.name, definition.owner, definition.hypothesis]
    return " ".join(words).lower()


@router.get("/experiments")
def experiments(
    request: Request,
    q: Annotated[str, Query(max_length=200)] = "",
    status: Annotated[str, Query(max_length=40)] = "",
) -> list[ExperimentSummary]:
    """Every experiment with its status and primary effect.

    ``q`` searches the key, name, owner and hypothesis, as the page does;
    ``status`` is one of the badges (an unknown one is a 422, not an empty list).
    """
    if status and status not in STATUSES:
        raise _unprocessable(
            InputError(
                "status",
                f"must be one of {', '.join(STATUSES)}",
                status,
                fix="Leave it out to list every experiment.",
            )
        )
    today = dt.date.today()
    entries = list_entries(request.app)
    summaries = [_summary(entry, today) for entry in entries]
    words = q.lower().split()
    if words:
        texts = [_search_text(entry) for entry in entries]
        summaries = [
            s
            for s, text in zip(summaries, texts, strict=True)
            if all(w in text for w in words)
        ]
    if status:
        summaries = [s for s in summaries if s.status == status]
    return summaries


def _entry(request: Request, key: str) -> ExperimentEntry:
    try:
        return get_entry(request.app, key)
    except NotFoundError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None


@router.get("/experiments/{key}")
def experiment(request: Request, key: str) -> dict[str, Any]:
    """One experiment: its definition, status and latest stored result (or null)."""
    entry = _entry(request, key)
    result = entry.result
    return {
        "definition": entry.definition.model_dump(mode="json"),
        "status": experiment_status(result, entry.definition.end, dt.date.today()).text,
        "result": result.to_dict() if result else None,
    }


@router.get("/experiments/{key}/result")
def experiment_result(request: Request, key: str) -> dict[str, Any]:
    """The latest stored result of one experiment, exactly as it was stored."""
    entry = _entry(request, key)
    if entry.result is None:
        raise HTTPException(
            status_code=404, detail=f"Experiment {key!r} has no stored result yet."
        )
    return entry.result.to_dict()


@router.post("/experiments", status_code=201)
def new_experiment(
    body: ExperimentIn,
    request: Request,
    user: Annotated[CurrentUser, Depends(require_role("editor"))],
) -> dict[str, Any]:
    """Create an experiment (editors). Weights must sum to 1; metrics must exist.

    Without an owner, the signed-in user owns the experiment.
    """
    if not body.owner:
        body = body.model_copy(update={"owner": user.username})
    try:
        definition = definition_from_input(body, metric_library(request.app))
        create_experiment(request.app, definition, user.username)
    except InputError as exc:
        raise _unprocessable(exc) from None
    return definition.model_dump(mode="json")


@router.post("/experiments/plan")
def plan(body: PlanIn, request: Request) -> PlanOut:
    """Users per variant and days needed, from the warehouse's recent history."""
    try:
        answer = plan_for_metric(
            request.app, body.metric, body.mde, body.alpha, body.power, body.weights
        )
    except InputError as exc:
        raise _unprocessable(exc) from None
    return PlanOut.model_validate(answer.to_dict())


@router.get("/metrics")
def metrics(request: Request, recent: bool = False) -> list[dict[str, Any]]:
    """The metric library in words; ``recent=true`` adds recent warehouse values."""
    library = metric_library(request.app)
    if not recent:
        return [
            {
                "key": metric.key,
                "name": metric.name,
                "in_words": metric_in_words(metric),
                "definition": metric.model_dump(mode="json"),
            }
            for metric in library
        ]
    return [
        {
            "key": summary.key,
            "name": summary.name,
            "in_words": summary.in_words,
            "definition": library[summary.key].model_dump(mode="json"),
            "recent": None
            if summary.plan is None
            else {
                "mean": summary.plan.baseline_mean,
                "sd": summary.plan.baseline_sd,
                "users": summary.plan.history_users,
                "daily_users": summary.plan.daily_users,
            },
        }
        for summary in metric_summaries(request.app)
    ]
