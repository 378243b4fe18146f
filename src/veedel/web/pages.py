"""Sign-in, sign-out and the home page."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from veedel.accounts import authenticate, end_session
from veedel.api.security import (
    LOGIN_COOKIE,
    LOGIN_MAX_AGE,
    SESSION_COOKIE,
    SESSION_MAX_AGE,
    new_session,
)
from veedel.web.templating import NAV, render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _safe_next(target: str) -> str:
    # Only local paths, so the sign-in form cannot redirect elsewhere. Browsers
    # read a backslash as a slash (/\host is //host) and drop control
    # characters, so neither may appear.
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/"):
        return "/"
    if "\\" in target or any(ord(char) < 0x20 or char == "\x7f" for char in target):
        return "/"
    return target


def _login_page(
    request: Request, next_path: str, error: str | None, status_code: int = 200
) -> HTMLResponse:
    # The form's CSRF token: kept while the sign-in cookie is valid (so two open
    # sign-in tabs both work), else a new one; the cookie is set afresh each time.
    signer = request.app.state.signer
    cookie = request.cookies.get(LOGIN_COOKIE)
    kept = signer.login_token(cookie) if cookie else None
    token = kept or secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        status_code=status_code,
        next=_safe_next(next_path),
        error=error,
        login_token=token,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        signer.login_cookie(token),
        max_age=LOGIN_MAX_AGE,
        path="/login",
        httponly=True,
        secure=True,
        samesite="strict",
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    """The sign-in form, with its CSRF token in a cookie and a hidden field."""
    return _login_page(request, next, error=None)


@router.post("/login", response_model=None)
def login(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Check the form's CSRF token and the password; set the session cookie."""
    # The token first: a forged form never reaches the password check.
    cookie = request.cookies.get(LOGIN_COOKIE)
    if not request.app.state.signer.login_token_matches(cookie, csrf_token):
        return _login_page(
            request,
            next,
            status_code=403,
            error=(
                "The sign-in form had expired or did not come from this site, "
                "so it was not checked. Sign in again with this form."
            ),
        )

    # A missing or over-long field is a failed sign-in, shown on the form.
    user = None
    if 0 < len(username) <= 64 and 0 < len(password) <= 256:
        user = authenticate(request.app.state.store, username, password)
    if user is None:
        return _login_page(
            request, next, status_code=401, error="Wrong user name or password."
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        request.app.state.signer.dumps(new_session(user)),
        max_age=SESSION_MAX_AGE,
        httponly=True,
        secure=True,
        samesite="lax",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request) -> RedirectResponse:
    """End the session: on the server, so a copied cookie stops working too."""
    session = getattr(request.state, "session", None) or {}
    user = getattr(request.state, "user", None)
    sid = session.get("sid")
    if user is not None and not user.via_token and isinstance(sid, str):
        end_session(
            request.app.state.store,
            sid,
            user.id,
            dt.timedelta(seconds=SESSION_MAX_AGE),
        )
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    """Links to every product's pages."""
    return render(request, "home.html", sections=NAV[1:])
