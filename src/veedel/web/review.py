"""The reviewer page: work the image review queue in the browser.

The page claims one item at a time through the JSON API
(:mod:`veedel.api.images`), shows its image blurred until the reviewer
reveals it, and records approve or reject with a reason. Keyboard: ``V``
reveals, ``A`` approves, ``R`` rejects. An item left alone returns to the
queue when its lease ends.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from veedel.api.security import CurrentUser, current_user
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
