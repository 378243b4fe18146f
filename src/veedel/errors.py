"""The one exception root of veedel and its families."""

from __future__ import annotations

from typing import Any

__all__ = [
    "ConfigError",
    "DataError",
    "InputError",
    "NotFoundError",
    "VeedelError",
]


class VeedelError(Exception):
    """Base of every error veedel raises on purpose."""


class InputError(VeedelError, ValueError):
    """A value given to veedel breaks a rule.

    The message is a sentence naming the field, the rule and the value received,
    and, where one exists, the fix.
    """

    def __init__(
        self,
        field: str,
        rule: str,
        value: Any = None,
        *,
        fix: str | None = None,
        where: str | None = None,
    ) -> None:
        self.field = field
        self.rule = rule
        self.value = value
        self.fix = fix
        self.where = where
        super().__init__(self._compose())

    def _compose(self) -> str:
        place = f"{self.where}: " if self.where else ""
        text = f"{place}{self.field} {self.rule}; got {self.value!r}."
        if self.fix:
            text += f" {self.fix}"
        return text


class DataError(InputError):
    """Data read from a file or a warehouse breaks a rule of the data model."""


class ConfigError(InputError):
    """A setting or a definition file breaks a rule."""


class NotFoundError(VeedelError, LookupError):
    """Something asked for by name or id does not exist."""
