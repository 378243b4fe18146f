"""The new-experiment form's fields: read from the request, kept for re-display.

The form posts flat fields (``variant_key_0``, ``variant_weight_0``, a
``control`` radio, ``primary`` checkboxes, ...). :class:`FormValues` keeps what
was typed, so a form with a mistake comes back filled in, and turns it into
the nested document :class:`~veedel.api.experiment_input.ExperimentIn` checks.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from veedel.errors import InputError

__all__ = [
    "VARIANT_ROWS",
    "FormValues",
    "check_percents",
    "experiment_form_values",
    "plan_values",
]

VARIANT_ROWS = 4


def _text(form: FormData, name: str, default: str = "") -> str:
    value = form.get(name, default)
    return value if isinstance(value, str) else default


def _texts(form: FormData, name: str) -> list[str]:
    return [value for value in form.getlist(name) if isinstance(value, str)]


@dataclass
class FormValues:
    """What the user typed into the new-experiment form, as text."""

    key: str = ""
    name: str = ""
    hypothesis: str = ""
    owner: str = ""
    start: str = ""
    end: str = ""
    variant_keys: list[str] = field(default_factory=lambda: [""] * VARIANT_ROWS)
    variant_weights: list[str] = field(default_factory=lambda: [""] * VARIANT_ROWS)
    control: str = "0"
    primary: list[str] = field(default_factory=list)
    guardrails: list[str] = field(default_factory=list)
    margins: dict[str, str] = field(default_factory=dict)
    secondary: list[str] = field(default_factory=list)
    alpha: str = "0.05"
    power: str = "0.8"
    mde_percent: str = "5"
    correction: str = "none"
    sequential: bool = False
    cuped: bool = False
    plan_metric: str = ""
    action: str = "create"

    @classmethod
    def empty(cls, owner: str, today: dt.date) -> FormValues:
        """A blank form with sensible defaults: a 50/50 test starting today."""
        values = cls(owner=owner, start=today.isoformat())
        values.variant_keys[:2] = ["control", "treatment"]
        values.variant_weights[:2] = ["0.5", "0.5"]
        return values

    def as_input(self) -> dict[str, Any]:
        """The nested document for ``ExperimentIn`` (values still unchecked)."""
        variants = []
        for index, (key, weight) in enumerate(
            zip(self.variant_keys, self.variant_weights, strict=True)
        ):
            if not key.strip() and not weight.strip():
                continue
            variants.append(
                {
                    "key": key,
                    "weight": weight or None,
                    "control": str(index) == self.control,
                }
            )
        document: dict[str, Any] = {
            "key": self.key,
            "name": self.name,
            "hypothesis": self.hypothesis,
            "owner": self.owner,
            "start": self.start or None,
            "end": self.end or None,
            "variants": variants,
            "primary": self.primary,
            "guardrails": [
                {"metric": key, "margin": _percent(self.margins.get(key, "0"))}
                for key in self.guardrails
            ],
            "secondary": self.secondary,
            "alpha": self.alpha,
            "power": self.power,
            "mde": _percent(self.mde_percent),
            "correction": self.correction,
            "sequential": self.sequential,
            "cuped": self.cuped,
        }
        return document


def _percent(text: str) -> Any:
    # "5" (percent) -> 0.05; anything unreadable goes on as text to be refused.
    try:
        return float(text) / 100 if text.strip() else 0.0
    except ValueError:
        return text


def experiment_form_values(form: FormData) -> FormValues:
    """Read the posted form into :class:`FormValues` (nothing checked yet).

    Free-text fields are kept whole, so that a huge one is refused by the
    length rules rather than silently cut; number fields are cut short.
    """
    values = FormValues(
        key=_text(form, "key"),
        name=_text(form, "name"),
        # A textarea's line breaks arrive as CR LF; store them as LF.
        hypothesis=_text(form, "hypothesis").replace("\r\n", "\n"),
        owner=_text(form, "owner"),
        start=_text(form, "start")[:40],
        end=_text(form, "end")[:40],
        variant_keys=[
            _text(form, f"variant_key_{i}")[:200] for i in range(VARIANT_ROWS)
        ],
        variant_weights=[
            _text(form, f"variant_weight_{i}")[:40] for i in range(VARIANT_ROWS)
        ],
        control=_text(form, "control", "0")[:4],
        primary=_texts(form, "primary")[:50],
        guardrails=_texts(form, "guardrail")[:50],
        secondary=_texts(form, "secondary")[:50],
        alpha=_text(form, "alpha", "0.05")[:40],
        power=_text(form, "power", "0.8")[:40],
        mde_percent=_text(form, "mde_percent", "5")[:40],
        correction=_text(form, "correction", "none")[:40],
        sequential=_text(form, "sequential") == "on",
        cuped=_text(form, "cuped") == "on",
        plan_metric=_text(form, "plan_metric")[:200],
        action=_text(form, "action", "create")[:20],
    )
    values.margins = {
        key: _text(form, f"margin_{key}", "0")[:40] for key in values.guardrails
    }
    return values


def _number(name: str, text: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(name, "must be a number", text[:40]) from None
    if not (math.isfinite(value) and low < value < high):
        raise InputError(name, f"must lie between {low:g} and {high:g}", value)
    return value


def check_percents(values: FormValues) -> None:
    """Check the fields typed in percent, in percent.

    The margins and the smallest change are typed as percent and checked as
    fractions later; a mistake must be reported in the unit that was typed
    ("150" is over 100 %, not "over 1").
    """
    for key in values.guardrails:
        text = values.margins.get(key, "0")
        if text.strip():
            _number_from(f"margin_{key}", text, 0.0, 100.0, "guardrail margin")
    if values.mde_percent.strip():
        _number_from("mde_percent", values.mde_percent, 0.0, 1000.0, "change")


def _number_from(name: str, text: str, low: float, high: float, what: str) -> None:
    try:
        value = float(text)
    except ValueError:
        raise InputError(
            name, f"must be a number of percent (the {what})", text[:40]
        ) from None
    inside = low <= value < high if name.startswith("margin_") else low < value < high
    if not (math.isfinite(value) and inside):
        raise InputError(
            name,
            f"must be a percentage from {low:g} to under {high:g} (the {what})",
            text[:40],
            fix="Type 5 for 5 %.",
        )


def plan_values(values: FormValues) -> tuple[str, float, float, float, list[float]]:
    """The power calculator's inputs: metric, relative MDE, power, alpha, weights.

    The metric is the calculator's choice, else the first primary metric.
    Weights are those typed for the variants, or an even split when they are
    not all readable positive numbers.
    """
    metric = values.plan_metric or (values.primary[0] if values.primary else "")
    if not metric:
        raise InputError(
            "plan_metric", "must name a metric", metric,
            fix="Pick the metric to plan for.",
        )  # fmt: skip
    mde = _number("mde_percent", values.mde_percent, 0.0, 1000.0) / 100
    power = _number("power", values.power, 0.5, 1.0)
    alpha = _number("alpha", values.alpha, 0.0, 0.5)
    weights: list[float] = []
    for key, text in zip(values.variant_keys, values.variant_weights, strict=True):
        if key.strip() or text.strip():
            try:
                weights.append(float(text))
            except ValueError:
                weights = []
                break
    if len(weights) < 2 or not all(w > 0 and math.isfinite(w) for w in weights):
        weights = [0.5, 0.5]
    return metric, mde, power, alpha, weights
