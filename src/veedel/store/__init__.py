"""Application state: SQLAlchemy 2 over SQLite by default, PostgreSQL tested."""

from veedel.store.engine import Base, get_engine, init_store, session_scope

__all__ = ["Base", "get_engine", "init_store", "session_scope"]
