"""The Rich consoles every command writes to."""

from __future__ import annotations

from rich.console import Console

__all__ = ["console", "err_console"]

# Ids such as se:coffee:post:1 hold colon-delimited words; Rich would turn
# ":coffee:" into an emoji in every table cell and message.
console = Console(emoji=False)
err_console = Console(stderr=True, emoji=False)
