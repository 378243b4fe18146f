"""Logging set-up for the command line and the server (libraries never call it)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from rich.console import Console
from rich.logging import RichHandler

__all__ = ["configure_logging", "quiet_info"]

_LOGGER = "veedel"


def configure_logging(
    verbose: bool = False, console: Console | None = None, level: str = "INFO"
) -> Callable[[], None]:
    """Send veedel's log records to a Rich handler at ``level``; DEBUG when
    ``verbose``, whatever ``level`` says.

    Returns a function that puts back the set-up found before, so a process
    that runs commands in turn (a test session, a notebook) keeps its own.
    """
    root = logging.getLogger(_LOGGER)
    handlers, old_level, propagate = list(root.handlers), root.level, root.propagate

    def restore() -> None:
        root.handlers[:] = handlers
        root.setLevel(old_level)
        root.propagate = propagate

    threshold = logging.DEBUG if verbose else logging.getLevelNamesMapping()[level]
    handler = RichHandler(
        console=console, show_path=verbose, rich_tracebacks=verbose, markup=False
    )
    handler.setFormatter(logging.Formatter("%(message)s", datefmt="[%X]"))
    root.handlers[:] = [handler]
    root.setLevel(threshold)
    # Each record once, even when the host process logs from the root logger.
    root.propagate = False
    return restore


def quiet_info() -> None:
    """Show only veedel's warnings and errors from now on (for machine output).

    Only veedel's logger changes, and ``configure_logging``'s restore undoes it.
    """
    root = logging.getLogger(_LOGGER)
    root.setLevel(max(root.getEffectiveLevel(), logging.WARNING))
