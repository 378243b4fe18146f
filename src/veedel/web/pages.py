"""Sign-in, sign-out and the home page."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from veedel.accounts import authenticate
from veedel.api.security import SESSION_COOKIE, SESSION_MAX_AGE, new_session
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


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    """The sign-in form."""
    return render(request, "login.html", next=_safe_next(next), error=None)


@router.post("/login", response_model=None)
def login(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the password and set the session cookie."""
    # A missing or over-long field is a failed sign-in, shown on the form.
    user = None
    if 0 < len(username) <= 64 and 0 < len(password) <= 256:
        user = authenticate(request.app.state.store, username, password)
    if user is None:
        return render(
            request,
            "login.html",
            status_code=401,
            next=_safe_next(next),
            error="Wrong user name or password.",
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
    return response


@router.post("/logout")
def logout() -> RedirectResponse:
    """End the session."""
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    """Links to every product's pages."""
    return render(request, "home.html", sections=NAV[1:])
