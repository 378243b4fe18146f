"""The reviewer page: work the image review queue in the browser.

The page claims one item at a time through the JSON API
(:mod:`veedel.api.images`), shows its image blurred until the reviewer
reveals it, and records approve or reject with a reason. Keyboard: ``V``
reveals, ``A`` approves, ``R`` rejects. An item left alone returns to the
queue when its lease ends.

``/review/stats`` shows the figures of ``veedel images stats`` and the
threshold trade-off of ``veedel images tune`` for targets given in the URL.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from veedel.api.security import CurrentUser, current_user
from veedel.imagefilter import queue_stats, review_labels, tune_thresholds
from veedel.web.templating import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

#: Reasons offered on the page; the reviewer can type another.
REASONS = (
    "explicit nudity",
    "sexual act",
    "suggestive, not explicit",
    "nothing explicit",
    "art or medical context",
)


@router.get("/review", response_class=HTMLResponse)
def review_page(
    request: Request, user: Annotated[CurrentUser, Depends(current_user)]
) -> HTMLResponse:
    """The review queue, one image at a time."""
    if not user.can("editor"):
        return render(
            request,
            "images/review.html",
            status_code=403,
            allowed=False,
            reasons=REASONS,
        )
    return render(request, "images/review.html", allowed=True, reasons=REASONS)


@router.get("/review/stats", response_class=HTMLResponse)
def review_stats_page(
    request: Request,
    user: Annotated[CurrentUser, Depends(current_user)],
    target_precision: Annotated[float, Query(ge=0, le=1)] = 0.95,
    target_miss_rate: Annotated[float, Query(ge=0, le=1)] = 0.05,
) -> HTMLResponse:
    """Queue figures, agreement, audit error rates and the tuning trade-off."""
    engine = request.app.state.store
    stats = queue_stats(engine)
    scores, labels, weights = review_labels(engine)
    tuning: dict[str, Any] | None = None
    if len(scores):
        result = tune_thresholds(
            scores,
            labels,
            weights,
            target_block_precision=target_precision,
            target_allow_miss_rate=target_miss_rate,
        )
        tuning = {
            "result": result.to_dict(),
            "table": result.table(steps=10),
            "spec": json.dumps(result.vega_lite()),
        }
    return render(
        request,
        "images/stats.html",
        stats=stats,
        tuning=tuning,
        target_precision=target_precision,
        target_miss_rate=target_miss_rate,
    )
