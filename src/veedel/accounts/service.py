"""Creating accounts, checking passwords and tokens."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, select

from veedel.accounts.models import ROLES, ApiToken, EndedSession, User
from veedel.errors import InputError, NotFoundError
from veedel.store import session_scope

__all__ = [
    "add_user",
    "authenticate",
    "create_token",
    "end_session",
    "list_users",
    "role_allows",
    "set_active",
    "set_password",
    "user_for_token",
]

log = logging.getLogger(__name__)

_hasher = PasswordHasher()
_USERNAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
_USERNAME_RULE = (
    "must be 1 to 64 ASCII letters, digits or _ . @ - "
    "(a-z, A-Z, 0-9: no accents or spaces)"
)
MIN_PASSWORD = 8


def _validate(username: str, password: str, role: str) -> None:
    # fullmatch: with match and $, a name ending in a newline would pass.
    if not _USERNAME.fullmatch(username):
        raise InputError("username", _USERNAME_RULE, username)
    if len(password) < MIN_PASSWORD:
        raise InputError(
            "password",
            f"must have at least {MIN_PASSWORD} characters",
            "*" * len(password),
        )
    if role not in ROLES:
        raise InputError("role", f"must be one of {', '.join(ROLES)}", role)


def add_user(engine: Engine, username: str, password: str, role: str) -> User:
    """Create an account; the password is stored as an Argon2id hash.

    Raises InputError when the name is taken or a value breaks a rule.
    """
    _validate(username, password, role)
    with session_scope(engine) as session:
        if session.scalar(select(User).where(User.username == username)):
            raise InputError(
                "username",
                "must be unique",
                username,
                fix="Pick another name, or use 'veedel users passwd'.",
            )
        user = User(username=username, password_hash=_hasher.hash(password), role=role)
        session.add(user)
    # DEBUG: the caller says it (the CLI to the person, the API with the admin).
    log.debug("Added user %s with role %s", username, role)
    return user


def set_password(
    engine: Engine, username: str, password: str, role: str | None = None
) -> None:
    """Replace a user's password (and role, when given)."""
    _validate(username, password, role or "viewer")
    with session_scope(engine) as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFoundError(f"No user named {username!r}.")
        user.password_hash = _hasher.hash(password)
        if role:
            user.role = role


def set_active(engine: Engine, username: str, active: bool) -> None:
    """Enable or disable an account; a disabled one cannot sign in or use tokens."""
    with session_scope(engine) as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFoundError(f"No user named {username!r}.")
        user.active = active
    log.debug("%s user %s", "Enabled" if active else "Disabled", username)


def list_users(engine: Engine) -> list[User]:
    """Every account, by name."""
    with session_scope(engine) as session:
        return list(session.scalars(select(User).order_by(User.username)))


def authenticate(engine: Engine, username: str, password: str) -> User | None:
    """The active user with this name and password, or None."""
    if not _USERNAME.fullmatch(username):
        # No account has such a name; PostgreSQL would refuse a NUL in the query.
        _hasher.hash(password)
        return None
    with session_scope(engine) as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None or not user.active:
            # Hash anyway so a wrong name takes as long as a wrong password.
            _hasher.hash(password)
            return None
        try:
            _hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        return user


def create_token(engine: Engine, username: str, name: str = "api") -> str:
    """A new API token for the user; only its digest is stored."""
    if not 1 <= len(name) <= 64:
        raise InputError("name", "must be 1 to 64 characters", name[:80])
    token = "vdl_" + secrets.token_urlsafe(32)
    with session_scope(engine) as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFoundError(f"No user named {username!r}.")
        session.add(ApiToken(user_id=user.id, name=name, digest=_digest(token)))
    return token


def user_for_token(engine: Engine, token: str) -> User | None:
    """The active user a bearer token belongs to, or None."""
    with session_scope(engine) as session:
        row = session.scalar(select(ApiToken).where(ApiToken.digest == _digest(token)))
        if row is None:
            return None
        user = session.get(User, row.user_id)
        return user if user is not None and user.active else None


def end_session(
    engine: Engine, session_id: str, user_id: int, max_age: timedelta
) -> None:
    """Record that session ``session_id`` was signed out; its cookie stops working.

    Records older than ``max_age`` (the cookie's own lifetime) are dropped,
    since those cookies have expired anyway.
    """
    now = datetime.now(UTC)
    with session_scope(engine) as db:
        db.execute(delete(EndedSession).where(EndedSession.ended_at < now - max_age))
        if db.get(EndedSession, session_id) is None:
            db.add(EndedSession(session_id=session_id, user_id=user_id, ended_at=now))
    log.info("Ended a session of user id %s", user_id)


def role_allows(role: str, needed: str) -> bool:
    """Whether ``role`` has the rights of ``needed``: viewer < editor < admin."""
    ranks: dict[str, int] = {name: rank for rank, name in enumerate(ROLES)}
    return ranks[role] >= ranks[needed]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
