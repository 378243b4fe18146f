"""The application store's engine, sessions and declarative base."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from veedel.settings import get_settings

__all__ = ["Base", "get_engine", "init_store", "session_scope"]

log = logging.getLogger(__name__)


class Base(DeclarativeBase):
    """Declarative base of every table in the application store."""


def _normalise(url: str) -> str:
    # SQLAlchemy wants a driver name for PostgreSQL; accept the short forms too.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers work while one writer commits; the busy timeout makes
    # concurrent writers wait instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def get_engine(url: str | None = None) -> Engine:
    """An engine for the store at ``url`` (default: the settings' store URL)."""
    url = _normalise(url or get_settings().resolved_store_url())
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    log.debug("Store engine for %s", engine.url.render_as_string(hide_password=True))
    return engine


def init_store(engine: Engine) -> None:
    """Create every table declared on :class:`Base` that does not exist yet.

    Tables are declared in the products' modules; the caller imports those
    modules first (the interfaces do, through ``veedel.api.state``).
    """
    Base.metadata.create_all(engine)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    factory = sessionmaker(engine, expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
