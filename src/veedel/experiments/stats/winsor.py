"""Winsorisation: cap extreme values with one pooled cap for every arm.

A handful of extremely active users can swamp a mean. Capping each value at a
high percentile trades a little bias for much less variance. The cap is taken
from all arms pooled and applied to every arm alike: a cap per arm would
depend on the treatment and bias the comparison. For a ratio metric the
numerator and the denominator are each capped at their own pooled cap, over
the same units.

The pipeline can do the same in SQL: compute the pooled percentile once, clip
every unit's value at it before summing, and keep the cap with the result
(``Effect.winsor_cap``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from veedel.errors import InputError
from veedel.experiments.stats._inference import Alternative, Scale
from veedel.experiments.stats.frequentist import compare_means
from veedel.experiments.stats.inputs import RatioStats, SampleStats, as_float_array
from veedel.experiments.stats.ratio import compare_ratios
from veedel.experiments.stats.results import Effect, WinsorizedValues

__all__ = [
    "compare_winsorized_means",
    "compare_winsorized_ratios",
    "pooled_cap",
    "winsorize",
]


def _check_quantile(name: str, value: float) -> float:
    if not 0.0 < float(value) <= 1.0:
        raise InputError(name, "must lie in (0, 1]", value)
    return float(value)


def _arms(name: str, arms: Sequence[npt.ArrayLike]) -> list[npt.NDArray[np.float64]]:
    converted = [as_float_array(name, arm).reshape(-1) for arm in arms]
    if len(converted) < 1 or sum(arm.size for arm in converted) == 0:
        raise InputError(
            name, "must hold at least one value", [a.size for a in converted]
        )
    if not all(np.all(np.isfinite(arm)) for arm in converted):
        raise InputError(name, "must be finite numbers", "NaN or infinity")
    return converted


def pooled_cap(arms: Sequence[npt.ArrayLike], quantile: float = 0.99) -> float:
    """The ``quantile`` of all arms' values pooled (numpy's linear method)."""
    values = np.concatenate(_arms("arms", arms))
    return float(np.quantile(values, _check_quantile("quantile", quantile)))


def winsorize(
    arms: Sequence[npt.ArrayLike],
    *,
    upper_quantile: float = 0.99,
    lower_quantile: float | None = None,
) -> WinsorizedValues:
    """Cap every arm's values at pooled percentiles.

    Parameters
    ----------
    arms
        Unit-level values, one array per arm.
    upper_quantile
        Values above the pooled ``upper_quantile`` are set to it.
    lower_quantile
        If given, values below the pooled ``lower_quantile`` are raised to it.

    Returns
    -------
    WinsorizedValues
        The capped arms, the caps and how many values each arm had changed.
    """
    converted = _arms("arms", arms)
    pooled = np.concatenate(converted)
    upper = float(
        np.quantile(pooled, _check_quantile("upper_quantile", upper_quantile))
    )
    lower = float("nan")
    if lower_quantile is not None:
        lower = float(
            np.quantile(pooled, _check_quantile("lower_quantile", lower_quantile))
        )
    low = -np.inf if np.isnan(lower) else lower
    capped = tuple(np.clip(arm, low, upper) for arm in converted)
    changed = tuple(
        int(np.sum(arm != new)) for arm, new in zip(converted, capped, strict=True)
    )
    return WinsorizedValues(
        arms=capped,
        upper_cap=upper,
        lower_cap=lower,
        quantile=float(upper_quantile),
        n_capped=changed,
    )


def compare_winsorized_means(
    control_values: npt.ArrayLike,
    treatment_values: npt.ArrayLike,
    *,
    upper_quantile: float = 0.99,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    scale: Scale = "absolute",
) -> Effect:
    """Winsorise both arms at one pooled cap, then compare means (Welch).

    The returned effect carries the cap in ``winsor_cap``.
    """
    capped = winsorize(
        [control_values, treatment_values], upper_quantile=upper_quantile
    )
    effect = compare_means(
        SampleStats.from_values(capped.arms[0]),
        SampleStats.from_values(capped.arms[1]),
        alpha=alpha,
        alternative=alternative,
        scale=scale,
    )
    return replace(effect, winsor_cap=np.asarray(capped.upper_cap))


def compare_winsorized_ratios(
    control_numerators: npt.ArrayLike,
    control_denominators: npt.ArrayLike,
    treatment_numerators: npt.ArrayLike,
    treatment_denominators: npt.ArrayLike,
    *,
    upper_quantile: float = 0.99,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    scale: Scale = "absolute",
) -> tuple[Effect, WinsorizedValues, WinsorizedValues]:
    """Winsorise numerator and denominator at their pooled caps, then compare.

    Returns the effect (``winsor_cap`` holds the numerator's cap) and the
    capped numerators and denominators with their caps.
    """
    numerators = winsorize(
        [control_numerators, treatment_numerators], upper_quantile=upper_quantile
    )
    denominators = winsorize(
        [control_denominators, treatment_denominators], upper_quantile=upper_quantile
    )
    effect = compare_ratios(
        RatioStats.from_values(numerators.arms[0], denominators.arms[0]),
        RatioStats.from_values(numerators.arms[1], denominators.arms[1]),
        alpha=alpha,
        alternative=alternative,
        scale=scale,
    )
    return (
        replace(effect, winsor_cap=np.asarray(numerators.upper_cap)),
        numerators,
        denominators,
    )
