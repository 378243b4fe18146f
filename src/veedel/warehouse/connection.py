"""Connecting to the warehouse from a URL, whatever the engine."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import ibis

from veedel.errors import ConfigError
from veedel.settings import get_settings

__all__ = ["connect", "redact"]

log = logging.getLogger(__name__)

_SECRET_PARAM = re.compile(r"((?:^|&)(?:password|passwd|pwd)=)[^&]*", re.IGNORECASE)


def redact(url: str) -> str:
    """The URL with any password replaced by ``***``, for logs and messages."""
    parts = urlsplit(url)
    if not parts.password and not _SECRET_PARAM.search(parts.query):
        return url
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        parts = parts._replace(netloc=netloc)
    if parts.query:
        # libpq also takes the password as a query parameter.
        query = _SECRET_PARAM.sub(r"\1***", parts.query)
        parts = parts._replace(query=query)
    return parts.geturl()


def _open_duckdb(path: str) -> Any:
    """Open a DuckDB file; a lock or a foreign file is a ConfigError."""
    import duckdb

    try:
        return ibis.duckdb.connect(path)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            # DuckDB admits one process per file while any of them may write.
            holder = re.search(r"\(PID (\d+)\)", text)
            who = f" (process {holder.group(1)})" if holder else ""
            raise ConfigError(
                "warehouse_url",
                "must not be open in another process: DuckDB lets one process"
                f" use a file at a time, and another one{who} has it open",
                path,
                fix="Wait for the other veedel command (or close the notebook"
                " holding the file) and run this one again; nothing was written.",
            ) from None
        raise ConfigError(
            "warehouse_url",
            f"must name a DuckDB database file ({text.removeprefix('IO Error: ')})",
            path,
        ) from None
    except duckdb.Error as exc:
        raise ConfigError(
            "warehouse_url",
            f"must name a DuckDB database file DuckDB can open ({exc})",
            path,
        ) from None


def connect(url: str | None = None) -> Any:
    """Open the warehouse named by ``url`` (default: the settings' warehouse).

    ``duckdb://PATH`` opens (and creates) a DuckDB file, creating its folder;
    ``duckdb://`` alone is an in-memory database. Any other URL goes to
    ``ibis.connect`` (``postgres://user:pw@host:port/db``, ``pyspark://``, ...).

    Examples
    --------
    >>> con = connect("duckdb://")
    >>> con.list_tables()
    []
    """
    url = url or get_settings().resolved_warehouse_url()
    scheme = urlsplit(url).scheme
    if not scheme:
        raise ConfigError(
            "warehouse_url",
            "must be a URL such as duckdb://veedel-data/warehouse.duckdb",
            url,
        )
    if scheme == "duckdb":
        path = url[len("duckdb://") :]
        if path and path != ":memory:":
            path = str(Path(path).expanduser())
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            log.info("Opening DuckDB warehouse %s", path)
            return _open_duckdb(path)
        return ibis.duckdb.connect()
    log.info("Connecting to warehouse %s", redact(url))
    try:
        return ibis.connect(url)
    except Exception as exc:  # driver errors vary by engine
        raise ConfigError(
            "warehouse_url",
            f"must name a reachable warehouse ({type(exc).__name__}: {exc})",
            redact(url),
        ) from None
