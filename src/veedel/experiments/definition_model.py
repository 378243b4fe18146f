"""The base of every model read from an experiment or metric definition.

YAML and JSON both have real booleans, so a definition gets no guesswork: a
field that is true or false takes only ``true`` or ``false`` (pydantic alone
reads the text ``"yes"`` as true and ``"off"`` as false), and a number field
takes no boolean (pydantic alone reads ``true`` as 1).
"""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

__all__ = ["DefinitionModel", "StrictBooleans", "check_boolean_kind"]

_NUMBERS = (int, float)


def _kinds(annotation: Any) -> tuple[Any, ...]:
    """The types an annotation allows, ``None`` left out (``float | None``)."""
    if get_origin(annotation) in (Union, types.UnionType):
        return tuple(arg for arg in get_args(annotation) if arg is not type(None))
    return (annotation,)


def check_boolean_kind(annotation: Any, value: Any) -> Any:
    """``value`` unchanged when it fits ``annotation``'s kind of value, else a
    ``ValueError`` whose message is the rule (it starts with "must").

    A boolean field takes only a boolean; a number field takes no boolean.
    """
    kinds = _kinds(annotation)
    if bool in kinds and not isinstance(value, bool):
        raise ValueError("must be true or false (a boolean, not text or a number)")
    numeric = any(kind in _NUMBERS for kind in kinds)
    if isinstance(value, bool) and numeric and bool not in kinds:
        raise ValueError("must be a number, not true or false")
    return value


class StrictBooleans(BaseModel):
    """A model whose fields take booleans only where a boolean is asked for."""

    @field_validator("*", mode="before")
    @classmethod
    def _booleans_only_where_boolean(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name is None:
            return value
        return check_boolean_kind(cls.model_fields[info.field_name].annotation, value)


class DefinitionModel(StrictBooleans):
    """Frozen, no unknown fields, booleans only where a boolean is asked for."""

    model_config = ConfigDict(extra="forbid", frozen=True)
