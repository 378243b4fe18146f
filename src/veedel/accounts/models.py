"""Tables of the accounts: users and their API tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from veedel.store import Base

__all__ = ["ROLES", "ApiToken", "EndedSession", "Role", "User"]

Role = Literal["viewer", "editor", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "editor", "admin")


def _now() -> datetime:
    return datetime.now(UTC)


class User(Base):
    """A person who signs in to the web app or calls the API."""

    __tablename__ = "accounts_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=_now)


class ApiToken(Base):
    """A bearer token for the JSON API; only its SHA-256 digest is stored."""

    __tablename__ = "accounts_api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("accounts_users.id"))
    name: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=_now)


class EndedSession(Base):
    """A signed-in session ended by signing out; its cookie no longer works.

    The cookie itself is signed, not stored, so signing out records its id
    until the cookie would have expired anyway.
    """

    __tablename__ = "accounts_ended_sessions"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("accounts_users.id"))
    ended_at: Mapped[datetime] = mapped_column(default=_now)
