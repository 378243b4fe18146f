"""Sign-in for every request: session cookies, API tokens, CSRF tokens.

Everything but the health endpoint, the sign-in page and the static assets
needs a signed-in user. Pages use a signed session cookie (HttpOnly, Secure,
SameSite=Lax) and a CSRF token in every form; the JSON API also takes a bearer
token (``Authorization: Bearer vdl_...``), which needs no CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Engine

from veedel.accounts import EndedSession, role_allows, user_for_token
from veedel.accounts.models import User
from veedel.store import session_scope

__all__ = [
    "LOGIN_COOKIE",
    "SESSION_COOKIE",
    "CurrentUser",
    "SessionSigner",
    "csrf_token",
    "require_role",
]

SESSION_COOKIE = "veedel_session"
SESSION_MAX_AGE = 12 * 3600
# The sign-in form's own CSRF token (double submit: cookie and hidden field).
LOGIN_COOKIE = "veedel_login"
LOGIN_MAX_AGE = 2 * 3600
PUBLIC_PATHS = frozenset({"/health", "/login", "/favicon.ico"})
PUBLIC_PREFIXES = ("/static/",)
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class CurrentUser:
    """The signed-in user as the request handlers see it."""

    id: int
    username: str
    role: str
    via_token: bool = False

    def can(self, needed: str) -> bool:
        """Whether this user has at least the rights of role ``needed``."""
        return role_allows(self.role, needed)


class SessionSigner:
    """Signs and reads the session cookie's content."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="veedel-session")
        self._login = URLSafeTimedSerializer(secret, salt="veedel-login")

    def dumps(self, data: dict[str, Any]) -> str:
        """The signed cookie value for ``data``."""
        return self._serializer.dumps(data)

    def loads(self, value: str) -> dict[str, Any] | None:
        """The data of a valid, unexpired cookie, else None."""
        try:
            data = self._serializer.loads(value, max_age=SESSION_MAX_AGE)
        except BadSignature:
            return None
        return data if isinstance(data, dict) else None

    def login_cookie(self, token: str) -> str:
        """The signed sign-in cookie that carries the form's token ``token``."""
        return self._login.dumps(token)

    def login_token(self, value: str) -> str | None:
        """The token in a valid sign-in cookie younger than two hours, else None."""
        try:
            token = self._login.loads(value, max_age=LOGIN_MAX_AGE)
        except BadSignature:
            return None
        return token if isinstance(token, str) and token else None

    def login_token_matches(self, cookie: str | None, sent: str) -> bool:
        """Whether the form's token ``sent`` is the one the sign-in cookie holds.

        This is the double-submit check of the anonymous sign-in form: another
        site can post the form but can neither read nor forge the cookie.
        """
        expected = self.login_token(cookie) if cookie else None
        if expected is None or not sent:
            return False
        # Compare bytes: compare_digest refuses non-ASCII str outright.
        return hmac.compare_digest(sent.encode(), expected.encode())


def new_session(user: User) -> dict[str, Any]:
    """Session content for a user who has just signed in.

    It carries a fingerprint of the password hash, so a new password ends
    every session that was opened with the old one, and a random session id,
    so signing out ends this one on the server too.
    """
    return {
        "uid": user.id,
        "sid": secrets.token_urlsafe(24),
        "csrf": secrets.token_urlsafe(24),
        "pwd": _password_fingerprint(user),
    }


def _password_fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:32]


def csrf_token(request: Request) -> str:
    """The CSRF token of the request's session ('' without a session)."""
    session = getattr(request.state, "session", None) or {}
    return str(session.get("csrf", ""))


def _user_from_session(engine: Engine, session: dict[str, Any]) -> CurrentUser | None:
    with session_scope(engine) as db:
        uid = session.get("uid")
        user = db.get(User, uid) if isinstance(uid, int) else None
        if user is None or not user.active:
            return None
        sent = str(session.get("pwd", ""))
        if not hmac.compare_digest(sent.encode(), _password_fingerprint(user).encode()):
            return None
        # A cookie without a session id predates sign-out on the server.
        sid = session.get("sid")
        if not isinstance(sid, str) or db.get(EndedSession, sid) is not None:
            return None
        return CurrentUser(user.id, user.username, user.role)


def _user_from_bearer(engine: Engine, header: str) -> CurrentUser | None:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    user = user_for_token(engine, token.strip())
    if user is None:
        return None
    return CurrentUser(user.id, user.username, user.role, via_token=True)


async def _form_csrf(request: Request) -> str:
    content_type = request.headers.get("content-type", "")
    if "form" not in content_type:
        return ""
    # Read the body first: the middleware then hands it on to the endpoint,
    # which would otherwise receive an empty form.
    await request.body()
    form = await request.form()
    value = form.get("csrf_token", "")
    return value if isinstance(value, str) else ""


def make_auth_middleware(
    engine: Engine, signer: SessionSigner
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    """The middleware that resolves the user and guards every private path."""

    async def middleware(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        path = request.url.path
        cookie = request.cookies.get(SESSION_COOKIE)
        session = signer.loads(cookie) if cookie else None
        request.state.session = session
        user = None
        # Only a Bearer header replaces the session: a proxy's Basic auth
        # header, sent with every request, must not sign the browser out.
        bearer = request.headers.get("authorization", "")
        if bearer.split(" ", 1)[0].lower() == "bearer":
            user = _user_from_bearer(engine, bearer)
        elif session:
            user = _user_from_session(engine, session)
        request.state.user = user
        # Exact paths, so a later route such as /health-report is not public.
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            return await call_next(request)
        if user is None:
            if path.startswith("/api/"):
                return JSONResponse(
                    {"detail": "Sign in first: send 'Authorization: Bearer <token>'."},
                    status_code=401,
                )
            wanted = f"{path}?{request.url.query}" if request.url.query else path
            return RedirectResponse(
                f"/login?next={quote(wanted, safe='/')}", status_code=303
            )
        if request.method in UNSAFE_METHODS and not user.via_token:
            sent = request.headers.get("x-csrf-token") or await _form_csrf(request)
            expected = str((session or {}).get("csrf", ""))
            # Compare bytes: compare_digest refuses non-ASCII str outright.
            if not expected or not hmac.compare_digest(
                sent.encode(), expected.encode()
            ):
                return JSONResponse(
                    {"detail": "The CSRF token is missing or wrong; reload the page."},
                    status_code=403,
                )
        return await call_next(request)

    return middleware


def current_user(request: Request) -> CurrentUser:
    """The signed-in user (the middleware has made sure there is one)."""
    user = getattr(request.state, "user", None)
    if user is None:
        raise HTTPException(status_code=401, detail="Sign in first.")
    return user  # type: ignore[no-any-return]


def require_role(needed: str) -> Callable[[Request], CurrentUser]:
    """A dependency that lets through users with at least role ``needed``."""

    def dependency(request: Request) -> CurrentUser:
        user = current_user(request)
        if not user.can(needed):
            raise HTTPException(
                status_code=403,
                detail=f"This needs the {needed} role; you are {user.role}.",
            )
        return user

    return dependency
