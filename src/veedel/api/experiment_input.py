"""A new experiment as the API and the form receive it, checked once.

Both the JSON API and the web form turn what they receive into
:class:`ExperimentIn` and then into the product's
:class:`~veedel.experiments.definitions.ExperimentDefinition` with
:func:`definition_from_input`. Every rule broken raises an
:class:`~veedel.errors.InputError` that names the field, the rule and the
value, so nothing half-checked is ever stored.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from veedel.errors import InputError
from veedel.experiments.definition_model import StrictBooleans
from veedel.experiments.definitions import ExperimentDefinition
from veedel.experiments.metrics import MetricLibrary

__all__ = [
    "ExperimentIn",
    "GuardrailIn",
    "VariantIn",
    "definition_from_input",
    "input_error_from_validation",
]

# Long enough for any honest text, short enough that nobody stores a novel.
MAX_NAME = 200
MAX_TEXT = 2000
WEIGHT_TOLERANCE = 1e-6
FIRST_DATE = dt.date(2000, 1, 1)
LAST_DATE = dt.date(2099, 12, 31)


# Control characters (NUL, escape, ...) are never honest text: NUL breaks a
# PostgreSQL store and escapes garble terminals. Tab and line breaks may stay
# in the longer texts (browsers send a textarea's line breaks as CR LF).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAK = re.compile(r"[\t\n\r]")


def _check_text(value: str, multiline: bool) -> str:
    found = _CONTROL.search(value) or (None if multiline else _LINE_BREAK.search(value))
    if found is not None:
        where = "" if multiline else " or line breaks"
        raise ValueError(
            f"must not hold control characters{where}; found "
            f"U+{ord(found.group()):04X} at character {found.start() + 1}"
        )
    return value


class _Input(StrictBooleans):
    # "control": "yes" is refused, as in a definition file. NaN and infinity
    # are no share, margin or rate: refuse them by name rather than by a
    # misleading range ("must be at most 1" for NaN).
    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, allow_inf_nan=False
    )


class VariantIn(_Input):
    """One variant: key, share of users (the shares sum to 1), control or not."""

    key: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_\-]*$")
    weight: float = Field(gt=0, le=1)
    control: bool = False
    description: str = Field(default="", max_length=MAX_TEXT)

    @field_validator("description")
    @classmethod
    def _plain_description(cls, value: str) -> str:
        return _check_text(value, multiline=True)


class GuardrailIn(_Input):
    """A guardrail metric and the relative worsening it may show (0 to 1)."""

    metric: str = Field(min_length=1, max_length=64)
    margin: float = Field(default=0.0, ge=0.0, lt=1.0)


class ExperimentIn(_Input):
    """A new experiment: what is tested, on whom, and how it is judged."""

    key: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_\-]*$")
    name: str = Field(min_length=1, max_length=MAX_NAME)
    hypothesis: str = Field(min_length=1, max_length=MAX_TEXT)
    owner: str = Field(default="", max_length=MAX_NAME)
    start: dt.date
    end: dt.date | None = None
    variants: list[VariantIn] = Field(min_length=2, max_length=10)
    primary: list[str] = Field(min_length=1, max_length=10)
    guardrails: list[GuardrailIn] = Field(default_factory=list, max_length=20)
    secondary: list[str] = Field(default_factory=list, max_length=30)
    alpha: float = Field(default=0.05, gt=0.0, lt=0.5)
    power: float = Field(default=0.8, gt=0.5, lt=1.0)
    mde: float = Field(default=0.05, gt=0.0, lt=10.0)
    correction: Literal["none", "bonferroni", "holm", "bh"] = "none"
    sequential: bool = False
    cuped: bool = False

    @field_validator("name", "owner")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return _check_text(value, multiline=False)

    @field_validator("hypothesis")
    @classmethod
    def _plain_text(cls, value: str) -> str:
        return _check_text(value, multiline=True)

    @field_validator("start", "end")
    @classmethod
    def _this_century(cls, value: dt.date | None) -> dt.date | None:
        # Year 1 or 9999 is a typo, and would sit first or last in every list.
        if value is not None and not FIRST_DATE <= value <= LAST_DATE:
            raise ValueError(
                f"must lie between {FIRST_DATE.isoformat()} and {LAST_DATE.isoformat()}"
            )
        return value


def input_error_from_validation(exc: ValidationError) -> InputError:
    """The first problem of a pydantic ``ValidationError`` as an InputError."""
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "experiment"
    message = str(first["msg"]).removeprefix("Value error, ")
    value = first.get("input")
    if isinstance(value, str) and len(value) > 80:
        value = f"{value[:40]}… ({len(value)} characters)"
    if isinstance(value, dict | list):
        value = "…"
    if isinstance(value, float) and not math.isfinite(value):
        value = str(value)
    return InputError(field, f"is not valid: {message}", value)


def _check_weights(variants: list[VariantIn]) -> None:
    total = math.fsum(variant.weight for variant in variants)
    if abs(total - 1.0) > WEIGHT_TOLERANCE:
        raise InputError(
            "variants.weight",
            "must sum to 1",
            round(total, 9),
            fix=(
                "Give each variant its share of users, e.g. 0.5 and 0.5; "
                "for three variants 0.34, 0.33 and 0.33 (thirds rounded to "
                "0.3333 add up to 0.9999)."
            ),
        )
    controls = [variant.key for variant in variants if variant.control]
    if len(controls) != 1:
        raise InputError(
            "variants.control",
            "must mark exactly one variant as the control",
            controls,
            fix="Mark the variant with today's experience as the control.",
        )
    keys = [variant.key for variant in variants]
    if len(set(keys)) != len(keys):
        raise InputError("variants.key", "must be unique", keys)


def _check_metrics(body: ExperimentIn, library: MetricLibrary) -> None:
    named = [
        ("primary", body.primary),
        ("guardrails", [g.metric for g in body.guardrails]),
        ("secondary", body.secondary),
    ]
    for field, keys in named:
        for key in keys:
            if key not in library:
                raise InputError(
                    field,
                    "must name metrics of the metric library",
                    key,
                    fix=f"Known metrics: {', '.join(library.keys())}.",
                )
    # A metric has one role: listed twice, or as primary and guardrail, it
    # would be tested twice and its verdicts could disagree.
    seen: dict[str, str] = {}
    for field, keys in named:
        for key in keys:
            if key in seen and not (field == "secondary" and seen[key] == "primary"):
                raise InputError(
                    field,
                    f"must not repeat a metric already listed in {seen[key]}",
                    key,
                    fix="Give each metric one role: primary, guardrail or secondary.",
                )
            seen.setdefault(key, field)


def definition_from_input(
    body: ExperimentIn, library: MetricLibrary
) -> ExperimentDefinition:
    """Check ``body`` against every rule and return the experiment definition.

    Raises
    ------
    InputError
        Weights that do not sum to 1, not exactly one control, unknown metrics,
        an end before the start, or anything the definition itself refuses.
    """
    _check_weights(body.variants)
    _check_metrics(body, library)
    if body.end is not None and body.end < body.start:
        raise InputError(
            "end", "must not be before the start", body.end.isoformat(),
            fix=f"The experiment starts on {body.start.isoformat()}.",
        )  # fmt: skip

    document: dict[str, Any] = {
        "key": body.key,
        "name": body.name,
        "hypothesis": body.hypothesis,
        "owner": body.owner,
        "variants": [variant.model_dump() for variant in body.variants],
        "start": body.start,
        "end": body.end,
        "metrics": {
            "primary": body.primary,
            "guardrails": [guardrail.model_dump() for guardrail in body.guardrails],
            "secondary": [key for key in body.secondary if key not in body.primary],
        },
        "analysis": {
            "alpha": body.alpha,
            "power": body.power,
            "mde": body.mde,
            "correction": body.correction,
            "sequential": body.sequential,
            "cuped": {"enabled": body.cuped},
        },
    }
    try:
        return ExperimentDefinition.model_validate(document)
    except ValidationError as exc:
        raise input_error_from_validation(exc) from None
