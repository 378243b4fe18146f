"""Sample ratio mismatch: is the split of users what the experiment asked for?

A mismatch (say 50,000 against 51,000 users in a 50/50 test) almost always means
a bug in assignment or logging, and it biases every metric. The check is
Pearson's chi-square goodness-of-fit test of the observed counts against the
configured weights; the default alarm level is p < 0.001 because the test runs
on every experiment every day and false alarms are costly.

References
----------
Fabijan, A. et al. (2019). Diagnosing sample ratio mismatch in online controlled
experiments. KDD 2019.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import special

from veedel.errors import InputError
from veedel.experiments.stats._inference import check_alpha
from veedel.experiments.stats._quiet import quiet_numpy
from veedel.experiments.stats.inputs import as_float_array
from veedel.experiments.stats.reasons import (
    Reason,
    merge_reasons,
    no_reason,
    reason_names,
)
from veedel.experiments.stats.results import SrmResult

__all__ = ["DEFAULT_SRM_THRESHOLD", "srm_test"]

DEFAULT_SRM_THRESHOLD = 0.001


@quiet_numpy
def srm_test(
    observed: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
    *,
    threshold: float = DEFAULT_SRM_THRESHOLD,
) -> SrmResult:
    """Test observed units per variant against the configured weights.

    Parameters
    ----------
    observed
        Units per variant along the last axis; leading axes are independent
        tests (e.g. one per experiment or per day).
    weights
        Configured traffic weights along the last axis, any positive scale
        (``[1, 1]`` and ``[0.5, 0.5]`` are the same). Default: equal weights.
    threshold
        Alarm where the p-value is below this level.

    Returns
    -------
    SrmResult

    Notes
    -----
    ``chi2 = sum_i (o_i - e_i)**2 / e_i`` with ``e_i = N w_i / sum(w)`` and
    ``N = sum_i o_i``; under correct assignment it follows a chi-square
    distribution with k - 1 degrees of freedom (Pearson, 1900).
    """
    threshold = check_alpha(threshold, "threshold")
    counts = np.atleast_1d(as_float_array("observed", observed))
    k = counts.shape[-1]
    if k < 2:
        raise InputError(
            "observed", "must hold at least two variants on its last axis", counts.shape
        )
    w = np.ones(k) if weights is None else as_float_array("weights", weights)
    if w.shape[-1:] != (k,) or not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise InputError(
            "weights",
            f"must be {k} positive finite numbers, one per variant",
            w.tolist(),
            fix="Give the configured split, e.g. [0.5, 0.5] or [90, 10].",
        )

    reason = no_reason(counts.shape[:-1])
    reason = merge_reasons(
        reason, ~np.all(np.isfinite(counts), axis=-1), Reason.NON_FINITE_INPUT
    )
    reason = merge_reasons(reason, np.any(counts < 0, axis=-1), Reason.NEGATIVE_COUNT)
    total = counts.sum(axis=-1, keepdims=True)
    # Fewer than one unit in all (5e-324 users, say) is no units: e_i underflows.
    reason = merge_reasons(reason, ~(total[..., 0] >= 1), Reason.NO_UNITS)

    with np.errstate(all="ignore"):
        expected = total * w / w.sum(axis=-1, keepdims=True)
        statistic = np.sum((counts - expected) ** 2 / expected, axis=-1)
        p_value = special.chdtrc(k - 1, statistic)
    bad = reason != 0
    statistic = np.where(bad, np.nan, statistic)
    p_value = np.where(bad, np.nan, p_value)
    return SrmResult(
        observed=counts,
        expected=np.broadcast_to(expected, counts.shape).astype(np.float64),
        statistic=np.asarray(statistic, np.float64),
        df=np.full(reason.shape, float(k - 1)),
        p_value=np.asarray(p_value, np.float64),
        threshold=threshold,
        alarm=np.asarray(~bad & (p_value < threshold), dtype=bool),
        reason=reason_names(reason),
    )
