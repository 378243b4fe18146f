"""Shared machinery: from per-arm estimates to an :class:`Effect`.

Every metric kind reduces its inputs to an :class:`ArmEstimate` per arm (the
arm's estimate, the variance of that estimate, n and a reason). The functions
here turn two of them into an absolute or relative effect with its standard
error, interval and p-value. They trust their inputs: validation happens at
the public functions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import special

from veedel.errors import InputError
from veedel.experiments.stats.reasons import (
    Reason,
    code_of,
    first_reason,
    merge_reasons,
    reason_codes,
    reason_names,
)
from veedel.experiments.stats.results import Effect

FloatArray = npt.NDArray[np.float64]
CodeArray = npt.NDArray[np.int8]
Alternative = Literal["two-sided", "greater", "less"]
Scale = Literal["absolute", "relative"]

ALTERNATIVES = ("two-sided", "greater", "less")
SCALES = ("absolute", "relative")

# Reasons under which the point estimate is still a fact worth showing.
SOFT_CODES = (code_of(Reason.TOO_FEW_UNITS), code_of(Reason.ZERO_VARIANCE))


@dataclass(frozen=True)
class ArmEstimate:
    """One arm reduced to an estimate, the estimate's variance, n and a reason."""

    mean: FloatArray
    variance: FloatArray
    n: FloatArray
    reason: CodeArray


def check_alpha(alpha: float, name: str = "alpha") -> float:
    """Validate a probability strictly between 0 and 1."""
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0.0 < value < 1.0:
        raise InputError(name, "must be a number strictly between 0 and 1", alpha)
    return value


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    """Validate that ``value`` is one of ``choices``."""
    if value not in choices:
        raise InputError(name, f"must be one of {', '.join(choices)}", value)
    return value


def critical_value(
    df: FloatArray, alpha: FloatArray | float, alternative: str
) -> FloatArray:
    """Quantile of Student's t (normal where df is infinite) for an interval."""
    tail = np.asarray(alpha) / 2 if alternative == "two-sided" else np.asarray(alpha)
    with np.errstate(all="ignore"):
        return np.asarray(special.stdtrit(df, 1.0 - tail), dtype=np.float64)


def p_value(statistic: FloatArray, df: FloatArray, alternative: str) -> FloatArray:
    """P-value of a t (or z, df = inf) statistic for the given alternative."""
    with np.errstate(all="ignore"):
        if alternative == "greater":
            result = special.stdtr(df, -statistic)
        elif alternative == "less":
            result = special.stdtr(df, statistic)
        else:
            result = 2.0 * special.stdtr(df, -np.abs(statistic))
    return np.asarray(np.minimum(result, 1.0), dtype=np.float64)


def interval(
    point: FloatArray,
    standard_error: FloatArray,
    df: FloatArray,
    alpha: FloatArray | float,
    alternative: str,
) -> tuple[FloatArray, FloatArray]:
    """Confidence interval point -/+ q * standard_error (one end open if one-sided)."""
    with np.errstate(all="ignore"):
        half = critical_value(df, alpha, alternative) * standard_error
        lower = point - half if alternative != "less" else np.full_like(point, -np.inf)
        upper = (
            point + half if alternative != "greater" else np.full_like(point, np.inf)
        )
    return np.asarray(lower, np.float64), np.asarray(upper, np.float64)


def welch_df(control: ArmEstimate, treatment: ArmEstimate) -> FloatArray:
    """Welch-Satterthwaite degrees of freedom from the variances of the means."""
    with np.errstate(all="ignore"):
        total = control.variance + treatment.variance
        parts = control.variance**2 / (control.n - 1) + treatment.variance**2 / (
            treatment.n - 1
        )
        return np.asarray(total * total / parts, dtype=np.float64)


def difference(
    control: ArmEstimate, treatment: ArmEstimate, scale: str
) -> tuple[FloatArray, FloatArray, CodeArray]:
    """Point estimate, standard error and reasons of the effect on ``scale``.

    Notes
    -----
    Absolute: ``t - c`` with variance ``v_t + v_c`` (independent arms).
    Relative: ``(t - c) / |c|`` with the delta-method variance
    ``v_t / c**2 + t**2 * v_c / c**4``, which includes the uncertainty of the
    control mean (Deng, Knoblich and Lu, 2018).
    """
    reason = first_reason(control.reason, treatment.reason)
    c, t = control.mean, treatment.mean
    with np.errstate(all="ignore"):
        if scale == "relative":
            reason = merge_reasons(reason, ~(c > 0), Reason.CONTROL_MEAN_NOT_POSITIVE)
            point = (t - c) / np.abs(c)
            variance = treatment.variance / c**2 + t**2 * control.variance / c**4
        else:
            point = t - c
            variance = treatment.variance + control.variance
        standard_error = np.sqrt(variance)
    reason = merge_reasons(reason, ~(standard_error > 0), Reason.ZERO_VARIANCE)
    return np.asarray(point, np.float64), np.asarray(standard_error, np.float64), reason


def build_effect(
    control: ArmEstimate,
    treatment: ArmEstimate,
    *,
    kind: str,
    method: str,
    scale: str,
    alpha: float,
    alternative: str,
    df: FloatArray | None = None,
    null_standard_error: FloatArray | None = None,
) -> Effect:
    """Compare two arms and mask everything a reason forbids showing.

    ``df`` (Welch) applies to the absolute scale only; the relative scale is
    always a z statistic. ``null_standard_error`` replaces the standard error
    in the test statistic (the pooled proportions test) but not in the interval.
    """
    point, standard_error, reason = difference(control, treatment, scale)
    shape = point.shape
    if df is None or scale == "relative":
        df = np.full(shape, np.inf)
    df = np.broadcast_to(df, shape).astype(np.float64)
    test_se = standard_error
    if null_standard_error is not None and scale == "absolute":
        test_se = np.broadcast_to(null_standard_error, shape)

    with np.errstate(all="ignore"):
        statistic = point / test_se
    p = p_value(statistic, df, alternative)
    lower, upper = interval(point, standard_error, df, alpha, alternative)
    return mask_effect(
        Effect(
            kind=kind,
            scale=scale,
            method=method,
            alternative=alternative,
            alpha=alpha,
            control_mean=np.broadcast_to(control.mean, shape).astype(np.float64),
            treatment_mean=np.broadcast_to(treatment.mean, shape).astype(np.float64),
            control_n=np.broadcast_to(control.n, shape).astype(np.float64),
            treatment_n=np.broadcast_to(treatment.n, shape).astype(np.float64),
            point_estimate=point,
            standard_error=standard_error,
            ci_lower=lower,
            ci_upper=upper,
            statistic=np.asarray(statistic, np.float64),
            df=df,
            p_value=p,
            reason=reason_names(reason),
        ),
        reason,
        control.reason,
        treatment.reason,
    )


def _all_finite(effect: Effect) -> npt.NDArray[np.bool_]:
    """Where every number the effect should have came out finite (overflow check)."""
    needed = [effect.point_estimate, effect.standard_error]
    if effect.alternative != "less":
        needed.append(effect.ci_lower)
    if effect.alternative != "greater":
        needed.append(effect.ci_upper)
    finite = np.ones(effect.shape, dtype=bool)
    for array in needed:
        finite &= np.isfinite(array)
    for optional in (effect.p_value, effect.chance_to_win, effect.expected_loss):
        if optional is not None:
            finite &= ~np.isnan(optional)
    return finite


def _hard(codes: CodeArray) -> npt.NDArray[np.bool_]:
    """Reasons under which not even the point estimate can be shown."""
    return np.asarray(
        (codes != 0) & (codes != SOFT_CODES[0]) & (codes != SOFT_CODES[1]), dtype=bool
    )


def mask_effect(
    effect: Effect,
    codes: CodeArray | None = None,
    control_codes: CodeArray | None = None,
    treatment_codes: CodeArray | None = None,
) -> Effect:
    """Replace every number a reason forbids with NaN (None in JSON).

    ``codes`` are the effect's reason codes (derived from ``effect.reason`` when
    not given); the arm codes, when given, also blank the arm means.
    """
    if codes is None:
        codes = reason_codes(effect.reason)
    codes = merge_reasons(codes, ~_all_finite(effect), Reason.OUT_OF_RANGE)
    effect = replace(effect, reason=reason_names(codes))
    bad = codes != 0
    hard = _hard(codes)

    def blank(
        array: FloatArray | None, where: npt.NDArray[np.bool_]
    ) -> FloatArray | None:
        if array is None:
            return None
        return np.where(where, np.nan, array).astype(np.float64)

    def blank_arm(array: FloatArray, arm_codes: CodeArray | None) -> FloatArray:
        if arm_codes is None:
            return array
        return np.where(_hard(np.broadcast_to(arm_codes, bad.shape)), np.nan, array)

    inferential: dict[str, Any] = {
        name: blank(getattr(effect, name), bad)
        for name in (
            "standard_error",
            "ci_lower",
            "ci_upper",
            "statistic",
            "df",
            "p_value",
            "chance_to_win",
            "expected_loss",
        )
    }
    point = blank(effect.point_estimate, hard | ~np.isfinite(effect.point_estimate))
    assert point is not None
    return replace(
        effect,
        point_estimate=point,
        control_mean=blank_arm(effect.control_mean, control_codes),
        treatment_mean=blank_arm(effect.treatment_mean, treatment_codes),
        **inferential,
    )
