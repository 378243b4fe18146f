"""Result types: frozen dataclasses that serialise to JSON and render in Rich.

Every numeric field is a numpy array with the shape of the comparison (0-d for a
single comparison). A value that cannot be computed is NaN inside the array and
``null`` in JSON, and the element's ``reason`` field says why in a stable code;
:meth:`Effect.messages` gives the plain sentence.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from veedel.experiments.stats.reasons import explain

__all__ = [
    "CupedResult",
    "Effect",
    "Plan",
    "SrmResult",
    "WinsorizedValues",
    "format_number",
    "format_p_value",
    "to_jsonable",
]

FloatArray = npt.NDArray[np.float64]
ReasonArray = npt.NDArray[np.str_]

# Rows shown in a terminal table before the rest is summarised.
_MAX_ROWS = 40


def to_jsonable(value: Any) -> Any:
    """Convert arrays, numpy scalars and dataclasses to plain JSON values.

    NaN and infinities become ``None``: a number the engine cannot stand behind
    is never written as a number.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: to_jsonable(getattr(value, field.name))
            for field in dataclasses.fields(value)
        }
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    return value


def format_number(value: float, *, percent: bool = False) -> str:
    """Format a number for people: four significant digits, a dash for NaN."""
    if not math.isfinite(value):
        return "—" if math.isnan(value) else ("∞" if value > 0 else "-∞")
    if percent:
        return f"{value * 100:+.2f} %"
    return f"{value:.4g}"


def format_p_value(value: float) -> str:
    """Format a p-value: three decimals, ``<0.001`` below that, a dash for NaN."""
    if not math.isfinite(value):
        return "—"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


class _Serialisable:
    """Mixin: ``to_dict`` and ``to_json`` for frozen result dataclasses."""

    def to_dict(self) -> dict[str, Any]:
        """Return the result as plain JSON-ready values (NaN becomes None)."""
        converted = to_jsonable(self)
        assert isinstance(converted, dict)
        return converted

    def to_json(self, **kwargs: Any) -> str:
        """Return the result as a JSON string; keyword arguments go to json.dumps."""
        return json.dumps(self.to_dict(), allow_nan=False, **kwargs)


@dataclass(frozen=True, eq=False)
class Effect(_Serialisable):
    """The estimated effect of treatment against control, one per element.

    Attributes
    ----------
    kind
        The metric kind: ``"mean"``, ``"proportion"``, ``"ratio"``,
        ``"quantile"``, ``"cuped_mean"`` or ``"cuped_ratio"``.
    scale
        ``"absolute"`` (treatment - control) or ``"relative"``
        ((treatment - control) / control).
    method
        How the interval and p-value were computed, e.g. ``"welch_t"``,
        ``"z"``, ``"confidence_sequence"``, ``"bayes_gaussian"``.
    alternative
        ``"two-sided"``, ``"greater"`` or ``"less"``.
    alpha
        Significance level; intervals have coverage 1 - alpha.
    control_mean, treatment_mean, control_n, treatment_n
        The arm estimates the effect was computed from (adjusted for CUPED).
    point_estimate, standard_error, ci_lower, ci_upper
        The effect, its standard error and its interval (a credible interval
        for Bayesian methods, a confidence sequence for sequential ones). A
        one-sided interval has an infinite end (``null`` in JSON).
    statistic, df, p_value
        Test statistic, degrees of freedom (infinite for a z statistic) and
        p-value; ``None`` for Bayesian methods.
    reason
        Stable reason code per element; empty where everything was computed.
    chance_to_win, expected_loss
        Bayesian: posterior probability that treatment is better, and the
        expected loss (in the effect's units) of shipping treatment.
    mixing_variance
        Sequential: the mixing variance of the mSPRT / confidence sequence.
    winsor_cap
        The pooled upper cap applied to the metric before comparing, if any.
    adjustment
        Multiple-testing correction applied: ``"none"``, ``"bonferroni"``,
        ``"holm"`` or ``"bh"``.
    """

    kind: str
    scale: str
    method: str
    alternative: str
    alpha: float
    control_mean: FloatArray
    treatment_mean: FloatArray
    control_n: FloatArray
    treatment_n: FloatArray
    point_estimate: FloatArray
    standard_error: FloatArray
    ci_lower: FloatArray
    ci_upper: FloatArray
    statistic: FloatArray | None
    df: FloatArray | None
    p_value: FloatArray | None
    reason: ReasonArray
    chance_to_win: FloatArray | None = None
    expected_loss: FloatArray | None = None
    mixing_variance: FloatArray | None = None
    winsor_cap: FloatArray | None = None
    adjustment: str = "none"

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the comparison arrays."""
        return self.point_estimate.shape

    @property
    def ok(self) -> npt.NDArray[np.bool_]:
        """True where the element was computed (no reason set)."""
        return np.asarray(self.reason == "", dtype=bool)

    @property
    def significant(self) -> npt.NDArray[np.bool_]:
        """True where the p-value is below alpha (False where not computed)."""
        if self.p_value is None:
            return np.zeros(self.shape, dtype=bool)
        with np.errstate(invalid="ignore"):
            return np.asarray((self.p_value < self.alpha) & self.ok, dtype=bool)

    def messages(self) -> npt.NDArray[np.str_]:
        """The plain sentence for each element's reason ("" where computed)."""
        return np.asarray(np.vectorize(explain, otypes=[str])(self.reason), np.str_)

    def __getitem__(self, index: Any) -> Effect:
        """Select elements with numpy indexing, keeping the other fields."""
        changes: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, np.ndarray):
                changes[field.name] = np.asarray(value[index])
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready values, with a ``message`` per element."""
        converted = super().to_dict()
        converted["message"] = to_jsonable(self.messages())
        return converted

    def to_records(self) -> list[dict[str, Any]]:
        """One flat dict per element (with its ``index``), e.g. for a DataFrame."""
        return [dict(record) for record in self._records()]

    def _records(self) -> Iterator[dict[str, Any]]:
        values = {
            field.name: getattr(self, field.name) for field in dataclasses.fields(self)
        }
        messages = self.messages()
        for index in np.ndindex(self.shape):
            record: dict[str, Any] = {"index": list(index)}
            for name, value in values.items():
                element = value[index] if isinstance(value, np.ndarray) else value
                record[name] = to_jsonable(element)
            record["message"] = str(messages[index])
            yield record

    def __rich__(self) -> RenderableType:
        percent = self.scale == "relative"
        title = f"{self.kind} · {self.scale} effect · {self.method}"
        if self.adjustment != "none":
            title += f" · {self.adjustment}-adjusted"
        table = Table(title=title, title_justify="left")
        indexed = self.point_estimate.ndim > 0
        if indexed:
            table.add_column("element")
        for name in (
            "control",
            "treatment",
            "effect",
            f"{1 - self.alpha:.0%} interval",
        ):
            table.add_column(name, justify="right")
        bayes = self.chance_to_win is not None
        table.add_column("chance to win" if bayes else "p-value", justify="right")
        table.add_column("note")

        messages = self.messages()
        for count, index in enumerate(np.ndindex(self.shape)):
            if count == _MAX_ROWS:
                table.add_row("…", *[""] * (len(table.columns) - 1))
                break
            table.add_row(*self._row(index, percent, bayes, str(self.reason[index])))
        notes = sorted({str(m) for m in np.unique(messages) if m})
        if notes:
            table.caption = "\n".join(notes)
            table.caption_justify = "left"
        return table

    def _row(
        self, index: tuple[int, ...], percent: bool, bayes: bool, code: str
    ) -> list[RenderableType]:
        lower = format_number(float(self.ci_lower[index]), percent=percent)
        upper = format_number(float(self.ci_upper[index]), percent=percent)
        interval = "—" if lower == "—" else f"[{lower}, {upper}]"
        if bayes:
            assert self.chance_to_win is not None
            last = format_number(float(self.chance_to_win[index]), percent=False)
        elif self.p_value is not None:
            last = format_p_value(float(self.p_value[index]))
        else:
            last = "—"
        cells: list[RenderableType] = []
        if self.point_estimate.ndim > 0:
            cells.append(",".join(str(i) for i in index))
        cells += [
            format_number(float(self.control_mean[index])),
            format_number(float(self.treatment_mean[index])),
            format_number(float(self.point_estimate[index]), percent=percent),
            interval,
            last,
            Text(code, style="yellow"),
        ]
        return cells


@dataclass(frozen=True, eq=False)
class CupedResult(_Serialisable):
    """A CUPED-adjusted effect with the unadjusted effect beside it.

    Attributes
    ----------
    adjusted, unadjusted
        The effect with and without the covariate adjustment.
    theta
        The pooled regression coefficient of the metric on the covariate.
    variance_reduction
        1 - Var(adjusted) / Var(unadjusted) of the absolute difference: the
        share of variance removed (0.5 means the same precision with half the
        users).
    """

    adjusted: Effect
    unadjusted: Effect
    theta: FloatArray
    variance_reduction: FloatArray

    def __rich__(self) -> RenderableType:
        reduction = np.atleast_1d(self.variance_reduction)
        finite = reduction[np.isfinite(reduction)]
        summary = (
            f"variance reduction {np.median(finite):.1%} (median)"
            if finite.size
            else "variance reduction not available"
        )
        return Group(self.adjusted, Text(summary), self.unadjusted)


@dataclass(frozen=True, eq=False)
class SrmResult(_Serialisable):
    """Sample ratio mismatch: chi-square test of observed counts against weights.

    Attributes
    ----------
    observed, expected
        Units per variant and the counts the weights call for.
    statistic, df, p_value
        Pearson chi-square statistic, its degrees of freedom and p-value.
    threshold
        The alarm level; an alarm is raised where p_value < threshold.
    alarm
        True where the split is so far from the weights that the experiment's
        results should not be trusted until the cause is found.
    reason
        Stable reason code per test; empty where computed.
    """

    observed: FloatArray
    expected: FloatArray
    statistic: FloatArray
    df: FloatArray
    p_value: FloatArray
    threshold: float
    alarm: npt.NDArray[np.bool_]
    reason: ReasonArray

    def messages(self) -> npt.NDArray[np.str_]:
        """The plain sentence for each test's reason ("" where computed)."""
        return np.asarray(np.vectorize(explain, otypes=[str])(self.reason), np.str_)

    def __rich__(self) -> RenderableType:
        table = Table(title="Sample ratio mismatch", title_justify="left")
        for name in ("observed", "expected", "chi-square", "p-value", "verdict"):
            table.add_column(name, justify="right")
        observed = self.observed.reshape(-1, self.observed.shape[-1])
        expected = self.expected.reshape(observed.shape)
        flat = zip(
            observed,
            expected,
            self.statistic.reshape(-1),
            self.p_value.reshape(-1),
            self.alarm.reshape(-1),
            self.messages().reshape(-1),
            strict=True,
        )
        for obs, exp, stat, p, alarm, message in flat:
            verdict = Text("ALARM", style="bold red") if alarm else Text("ok", "green")
            if message:
                verdict = Text(message, style="yellow")
            table.add_row(
                " / ".join(f"{v:,.0f}" for v in obs),
                " / ".join(f"{v:,.1f}" for v in exp),
                format_number(float(stat)),
                format_p_value(float(p)),
                verdict,
            )
        return table


@dataclass(frozen=True, eq=False)
class Plan(_Serialisable):
    """A sample-size plan for one metric (arrays broadcast over inputs).

    Attributes
    ----------
    kind
        ``"proportion"``, ``"mean"`` or ``"ratio"``.
    baseline_mean, baseline_variance
        Control mean and per-unit variance the plan assumes.
    mde, relative
        The minimum detectable effect, absolute or relative to the baseline.
    alpha, power, alternative
        Error rates and the alternative the plan is for.
    n_per_arm
        Units needed in each arm (not rounded).
    days_needed
        Whole days to reach ``n_per_arm`` in every arm at the daily traffic
        given (None where no traffic was given).
    """

    kind: str
    baseline_mean: FloatArray
    baseline_variance: FloatArray
    mde: FloatArray
    relative: bool
    alpha: float
    power: float
    alternative: str
    n_per_arm: FloatArray
    days_needed: FloatArray | None

    def __rich__(self) -> RenderableType:
        table = Table(title=f"Sample size plan · {self.kind}", title_justify="left")
        for name in ("baseline", "MDE", "users per arm", "days"):
            table.add_column(name, justify="right")
        days = (
            self.days_needed
            if self.days_needed is not None
            else np.full(self.n_per_arm.shape, np.nan)
        )
        arrays = np.broadcast_arrays(self.baseline_mean, self.mde, self.n_per_arm, days)
        for base, mde, n, d in zip(*(a.reshape(-1) for a in arrays), strict=True):
            table.add_row(
                format_number(float(base)),
                format_number(float(mde), percent=self.relative),
                "—" if not math.isfinite(n) else f"{math.ceil(n):,}",
                "—" if not math.isfinite(d) else f"{d:,.0f}",
            )
        return table


@dataclass(frozen=True, eq=False)
class WinsorizedValues(_Serialisable):
    """Unit-level values with one pooled cap applied to every arm alike.

    Attributes
    ----------
    arms
        The capped values, one array per arm, in the order given.
    upper_cap, lower_cap
        The caps applied (NaN where no cap was applied on that side).
    quantile
        The pooled quantile the upper cap was taken at.
    n_capped
        Number of values changed in each arm.
    """

    arms: tuple[FloatArray, ...]
    upper_cap: float
    lower_cap: float
    quantile: float
    n_capped: tuple[int, ...]
