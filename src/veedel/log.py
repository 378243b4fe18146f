"""Logging set-up for the command line and the server (libraries never call it)."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.logging import RichHandler

__all__ = ["configure_logging"]


def configure_logging(
    verbose: bool = False, console: Console | None = None, level: str = "INFO"
) -> None:
    """Send veedel's log records to a Rich handler at ``level``; DEBUG when
    ``verbose``, whatever ``level`` says."""
    threshold = logging.DEBUG if verbose else logging.getLevelNamesMapping()[level]
    handler = RichHandler(
        console=console, show_path=verbose, rich_tracebacks=verbose, markup=False
    )
    handler.setFormatter(logging.Formatter("%(message)s", datefmt="[%X]"))
    root = logging.getLogger("veedel")
    root.handlers[:] = [handler]
    root.setLevel(threshold)
    root.propagate = False
