"""Bayesian read-outs: chance to beat control and expected loss.

Two models:

* A Gaussian model on any frequentist effect (absolute or relative lift): the
  estimate and its standard error form a normal likelihood; with a flat prior
  the posterior is ``N(estimate, se**2)``, with an informative prior
  ``N(m0, v0)`` it is the precision-weighted combination. Works for means,
  proportions, ratios and CUPED alike.
* The exact beta-binomial model for proportions: ``Beta(a0 + x, b0 + n - x)``
  per arm, with the probability that treatment's rate is higher computed by a
  closed-form sum rather than by simulation.

References
----------
Kamalbasha, S. and Eugster, M. J. A. (2021). Bayesian A/B testing for business
decisions. arXiv:2003.02769 (Gaussian model, expected loss).

Miller, E. (2015). Formulas for Bayesian A/B testing (exact beta-binomial
probability), and Stucchio, C. (2015). Bayesian A/B testing at VWO (expected
loss).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import numpy.typing as npt
from scipy import integrate, special, stats

from veedel.errors import InputError
from veedel.experiments.stats._inference import check_alpha, interval, mask_effect
from veedel.experiments.stats._quiet import quiet_numpy
from veedel.experiments.stats.frequentist import compare_proportions
from veedel.experiments.stats.inputs import FloatArray, SampleStats, as_float_array
from veedel.experiments.stats.results import Effect

__all__ = [
    "bayes_beta_binomial",
    "bayes_gaussian",
    "probability_beta_greater",
]


def _loss_and_chance(
    mean: FloatArray, sd: FloatArray, higher_is_better: bool
) -> tuple[FloatArray, FloatArray]:
    """Chance that the effect helps, and E[harm] if treatment ships."""
    sign = 1.0 if higher_is_better else -1.0
    with np.errstate(all="ignore"):
        z = sign * mean / sd
        chance = special.ndtr(z)
        # E[max(0, -sign * effect)] for a normal posterior.
        loss = sd * np.exp(-0.5 * z * z) / np.sqrt(
            2 * np.pi
        ) - sign * mean * special.ndtr(-z)
    return np.asarray(chance, np.float64), np.asarray(loss, np.float64)


@quiet_numpy
def bayes_gaussian(
    effect: Effect,
    *,
    prior_mean: npt.ArrayLike = 0.0,
    prior_variance: npt.ArrayLike | None = None,
    higher_is_better: bool = True,
) -> Effect:
    """Posterior of an effect under a Gaussian model, with chance to win and loss.

    Parameters
    ----------
    effect
        A frequentist effect (any metric kind, absolute or relative scale); its
        ``point_estimate`` and ``standard_error`` form the likelihood.
    prior_mean, prior_variance
        Normal prior on the effect, on the effect's scale (for a relative
        effect, a prior variance of 0.1**2 says "lifts beyond +-20 % are
        rare"). ``prior_variance=None`` is the flat prior.
    higher_is_better
        Whether an increase of the metric is good (False for e.g. reports).

    Returns
    -------
    Effect
        ``method="bayes_gaussian"``; ``point_estimate`` and ``standard_error``
        are the posterior mean and sd, ``ci_lower``/``ci_upper`` the
        equal-tailed ``1 - alpha`` credible interval, ``chance_to_win`` the
        posterior probability that treatment is better and ``expected_loss``
        the expected harm of shipping treatment, in the effect's units.

    Notes
    -----
    Posterior precision ``1/se**2 + 1/v0``, mean ``(d/se**2 + m0/v0) /
    precision``. With posterior ``N(m, s**2)`` and better meaning larger:
    chance to win ``Phi(m/s)``, expected loss
    ``E[max(0, -effect)] = s phi(m/s) - m Phi(-m/s)``.
    """
    if effect.adjustment != "none" or effect.method == "confidence_sequence":
        raise InputError(
            "effect", "must be a fixed-horizon, unadjusted effect", effect.method
        )
    d, se = effect.point_estimate, effect.standard_error
    prior_m = as_float_array("prior_mean", prior_mean)
    with np.errstate(all="ignore"):
        if prior_variance is None:
            mean, sd = d, se
        else:
            v0 = as_float_array("prior_variance", prior_variance)
            if np.any(~(v0 > 0)):
                raise InputError("prior_variance", "must be positive", v0.tolist())
            precision = 1 / se**2 + 1 / v0
            mean = (d / se**2 + prior_m / v0) / precision
            sd = np.sqrt(1 / precision)
    mean = np.broadcast_to(mean, effect.shape).astype(np.float64)
    sd = np.broadcast_to(sd, effect.shape).astype(np.float64)

    chance, loss = _loss_and_chance(mean, sd, higher_is_better)
    lower, upper = interval(
        mean, sd, np.full(effect.shape, np.inf), effect.alpha, "two-sided"
    )
    result = replace(
        effect,
        method="bayes_gaussian",
        alternative="two-sided",
        point_estimate=mean,
        standard_error=sd,
        ci_lower=lower,
        ci_upper=upper,
        statistic=None,
        df=None,
        p_value=None,
        chance_to_win=chance,
        expected_loss=loss,
    )
    return mask_effect(result)


# Above this many terms both posteriors are so close to normal that the normal
# approximation is off by about 1e-7 at most, and the sum would be slow.
_NORMAL_LIMIT = 200_000


def _normal_probability(a: float, b: float, c: float, d: float) -> float:
    """P(Beta(c, d) > Beta(a, b)) from normal approximations of both Betas."""
    mean = c / (c + d) - a / (a + b)
    variance = a * b / ((a + b) ** 2 * (a + b + 1)) + c * d / (
        (c + d) ** 2 * (c + d + 1)
    )
    return float(special.ndtr(mean / np.sqrt(variance)))


def _h_sum(a: float, b: float, c: float, d: float) -> float:
    """P(Beta(c, d) > Beta(a, b)) by the finite sum over integer ``c``."""
    i = np.arange(round(c), dtype=np.float64)
    log_terms = (
        special.betaln(a + i, b + d)
        - np.log(d + i)
        - special.betaln(1 + i, d)
        - special.betaln(a, b)
    )
    return float(np.exp(special.logsumexp(log_terms)))


def probability_beta_greater(a: float, b: float, c: float, d: float) -> float:
    """Exact ``P(Y > X)`` for ``X ~ Beta(a, b)`` and ``Y ~ Beta(c, d)``.

    Notes
    -----
    For integer ``c`` (Miller, 2015)::

        P = sum_{i=0}^{c-1} B(a + i, b + d) / ((d + i) B(1 + i, d) B(a, b))

    The same sum over whichever of ``a, b, c, d`` is the smallest integer is
    used via the symmetries ``P(Y > X) = 1 - P(X > Y)`` and
    ``P(Y > X) = P(1 - X > 1 - Y)``. When none is an integer the probability
    is integrated numerically, ``integral f_Y(t) F_X(t) dt``. When every
    parameter exceeds 200,000 the normal approximation of both Betas is used
    (error about 1e-7 there, shrinking with the counts).
    """
    for name, value in (("a", a), ("b", b), ("c", c), ("d", d)):
        if not (math.isfinite(value) and value > 0):
            raise InputError(
                name,
                "must be a positive, finite Beta parameter",
                value,
                fix="Pass successes + prior alpha and failures + prior beta.",
            )
    forms: list[tuple[float, Callable[[], float]]] = [
        (c, lambda: _h_sum(a, b, c, d)),
        (b, lambda: _h_sum(d, c, b, a)),
        (a, lambda: 1.0 - _h_sum(c, d, a, b)),
        (d, lambda: 1.0 - _h_sum(b, a, d, c)),
    ]
    integer = [(size, form) for size, form in forms if float(size).is_integer()]
    if min(a, b, c, d) > _NORMAL_LIMIT:
        return _normal_probability(a, b, c, d)
    if integer and min(size for size, _ in integer) <= _NORMAL_LIMIT:
        _, form = min(integer, key=lambda pair: pair[0])
        return float(np.clip(form(), 0.0, 1.0))
    value, _ = integrate.quad(
        lambda t: stats.beta.pdf(t, c, d) * stats.beta.cdf(t, a, b), 0.0, 1.0, limit=200
    )
    return float(np.clip(value, 0.0, 1.0))


@quiet_numpy
def bayes_beta_binomial(
    control: SampleStats,
    treatment: SampleStats,
    *,
    prior_alpha: float = 1.0,
    prior_beta: float = 1.0,
    alpha: float = 0.05,
    higher_is_better: bool = True,
) -> Effect:
    """Exact beta-binomial comparison of two conversion rates.

    Parameters
    ----------
    control, treatment
        Successes (``sum``) out of ``n`` per arm, as for
        :func:`compare_proportions`.
    prior_alpha, prior_beta
        The Beta prior shared by both arms (1, 1 is uniform).
    alpha
        1 - level of the credible interval.
    higher_is_better
        Whether a higher rate is good.

    Returns
    -------
    Effect
        ``method="beta_binomial"``; ``point_estimate`` is the posterior mean
        difference ``E[p_t - p_c]``, ``standard_error`` its posterior sd,
        ``chance_to_win`` the exact ``P(p_t > p_c)`` (or ``<``) and
        ``expected_loss`` the exact ``E[max(0, p_c - p_t)]`` (or the reverse).
        The credible interval is the normal approximation to the posterior of
        the difference (accurate once each arm has a few dozen successes and
        failures).

    Notes
    -----
    With ``X ~ Beta(a, b)`` (control) and ``Y ~ Beta(c, d)`` (treatment), the
    expected loss of shipping treatment is (Stucchio, 2015)::

        E[max(0, X - Y)] = a/(a+b) P(Beta(a+1, b) > Y) - c/(c+d) P(X > Beta(c+1, d))
    """
    alpha = check_alpha(alpha)
    for name, value in (("prior_alpha", prior_alpha), ("prior_beta", prior_beta)):
        if not float(value) > 0:
            raise InputError(name, "must be positive", value)
    base = compare_proportions(control, treatment, alpha=alpha)
    shape = base.shape
    n_c, x_c = np.broadcast_to(control.n, shape), np.broadcast_to(control.sum, shape)
    n_t, x_t = (
        np.broadcast_to(treatment.n, shape),
        np.broadcast_to(treatment.sum, shape),
    )
    # The posterior exists for any valid counts, even constant or tiny arms.
    ok = np.isin(base.reason, ["", "too_few_units", "zero_variance"])

    chance = np.full(shape, np.nan)
    loss = np.full(shape, np.nan)
    mean = np.full(shape, np.nan)
    sd = np.full(shape, np.nan)
    for index in np.ndindex(shape):
        if not ok[index]:
            continue
        a = float(prior_alpha + x_c[index])
        b = float(prior_beta + n_c[index] - x_c[index])
        c = float(prior_alpha + x_t[index])
        d = float(prior_beta + n_t[index] - x_t[index])
        p_better = probability_beta_greater(a, b, c, d)
        loss_ship = a / (a + b) * probability_beta_greater(c, d, a + 1, b) - c / (
            c + d
        ) * probability_beta_greater(c + 1, d, a, b)
        loss_keep = loss_ship + (c / (c + d) - a / (a + b))
        chance[index] = p_better if higher_is_better else 1.0 - p_better
        loss[index] = max(loss_ship if higher_is_better else loss_keep, 0.0)
        mean[index] = c / (c + d) - a / (a + b)
        sd[index] = np.sqrt(
            a * b / ((a + b) ** 2 * (a + b + 1)) + c * d / ((c + d) ** 2 * (c + d + 1))
        )

    lower, upper = interval(mean, sd, np.full(shape, np.inf), alpha, "two-sided")
    reason = np.where(ok, "", base.reason).astype(base.reason.dtype)
    result = replace(
        base,
        method="beta_binomial",
        point_estimate=mean,
        standard_error=sd,
        ci_lower=lower,
        ci_upper=upper,
        statistic=None,
        df=None,
        p_value=None,
        chance_to_win=chance,
        expected_loss=loss,
        reason=reason,
    )
    return mask_effect(result)
