"""``GET /api/v1/experiments/{key}/assignment/{user_id}``: bucket a user.

The app's backend asks which variant a user gets and shows that experience;
the analysis later expects exactly these buckets (the same salted hash as
``veedel experiments assign``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel

from veedel.api.experiment_data import get_entry
from veedel.errors import NotFoundError
from veedel.experiments.randomisation import HOLDOUT, assign

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["experiments"])


class AssignmentOut(BaseModel):
    """The variant of one user in one experiment."""

    experiment: str
    user_id: str
    variant: str
    held_out: bool


@router.get("/experiments/{key}/assignment/{user_id}")
def assignment(
    request: Request,
    key: str,
    user_id: Annotated[str, Path(min_length=1, max_length=200)],
) -> AssignmentOut:
    """The variant ``user_id`` gets in experiment ``key`` (or ``holdout``)."""
    try:
        definition = get_entry(request.app, key).definition
    except NotFoundError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    salt = definition.assignment.salt or definition.warehouse_id
    weights = {variant.key: variant.weight for variant in definition.variants}
    variant = assign(user_id, salt, weights, definition.assignment.holdout)
    return AssignmentOut(
        experiment=definition.key,
        user_id=user_id,
        variant=variant,
        held_out=variant == HOLDOUT,
    )
