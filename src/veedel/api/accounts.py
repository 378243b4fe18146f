"""JSON API of the accounts: who am I, tokens, users (admins only)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from veedel.accounts import add_user, create_token, list_users
from veedel.api.security import CurrentUser, current_user, require_role
from veedel.errors import InputError

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["accounts"])


class UserOut(BaseModel):
    """A user as the API shows it (never the password hash)."""

    username: str
    role: str


class UserIn(BaseModel):
    """A new account."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=256)
    role: str = Field(pattern="^(viewer|editor|admin)$")


class TokenIn(BaseModel):
    """A name for a new API token."""

    name: str = Field(default="api", min_length=1, max_length=64)


class TokenOut(BaseModel):
    """A new API token; shown once."""

    token: str


@router.get("/me")
def me(user: Annotated[CurrentUser, Depends(current_user)]) -> UserOut:
    """The signed-in user."""
    return UserOut(username=user.username, role=user.role)


@router.post("/tokens", status_code=201)
def new_token(
    body: TokenIn, request: Request, user: Annotated[CurrentUser, Depends(current_user)]
) -> TokenOut:
    """A new API token for the signed-in user; store it, it is shown once."""
    return TokenOut(
        token=create_token(request.app.state.store, user.username, body.name)
    )


@router.get("/users", dependencies=[Depends(require_role("admin"))])
def users(request: Request) -> list[UserOut]:
    """Every account (admins only)."""
    return [
        UserOut(username=u.username, role=u.role)
        for u in list_users(request.app.state.store)
    ]


@router.post("/users", status_code=201)
def new_user(
    body: UserIn,
    request: Request,
    admin: Annotated[CurrentUser, Depends(require_role("admin"))],
) -> UserOut:
    """Create an account (admins only); a taken or malformed name is a 422."""
    try:
        user = add_user(
            request.app.state.store, body.username, body.password, body.role
        )
    except InputError as exc:
        # The value is a user name (or stars for a password): short and safe.
        raise HTTPException(
            status_code=422,
            detail={
                "field": exc.field,
                "rule": exc.rule,
                "value": exc.value,
                "message": str(exc),
            },
        ) from None
    log.info("%s added user %s with role %s", admin.username, user.username, user.role)
    return UserOut(username=user.username, role=user.role)
