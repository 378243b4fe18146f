"""Sufficient statistics per variant: the engine's inputs.

Every container holds numpy arrays that broadcast to one shape, so a single
object can carry many metrics x variants x slices at once. Put the control in
one container and the treatments in another; numpy broadcasting pairs them,
e.g. a control of shape ``(metrics, 1, slices)`` against treatments of shape
``(metrics, variants, slices)``.

The containers only check what would make the arrays unusable (text instead of
numbers, shapes that do not broadcast) and raise :class:`~veedel.errors.InputError`
for that. Bad *values* (NaN, negative counts, n < 2, ...) are not errors: each
comparison reports them in its ``reason`` field, so one bad slice never stops a
batch.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from veedel.errors import InputError
from veedel.experiments.stats._quiet import quiet_numpy
from veedel.experiments.stats.reasons import (
    Reason,
    code_of,
    first_reason,
    merge_reasons,
    no_reason,
)

__all__ = [
    "CupedRatioStats",
    "CupedStats",
    "RatioStats",
    "SampleStats",
]

FloatArray = npt.NDArray[np.float64]
CodeArray = npt.NDArray[np.int8]

# Relative size below which a negative variance from the sums is rounding noise.
_CANCELLATION_TOLERANCE = 1e-9


def as_float_array(name: str, value: Any) -> FloatArray:
    """Convert ``value`` to a float64 array or raise an InputError naming ``name``."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InputError(
            name,
            "must be numbers (a scalar or an array of numbers)",
            value,
            fix="Pass ints or floats; a missing value may be NaN.",
        ) from error
    return array


def broadcast_values(field: str | None = None, /, **named: Any) -> list[FloatArray]:
    """Float arrays of one shape from ``named`` inputs, or an InputError naming
    ``field`` (default: the inputs' names) and each input's shape."""
    arrays = [as_float_array(name, value) for name, value in named.items()]
    try:
        return list(np.broadcast_arrays(*arrays))
    except ValueError:
        shapes = {name: a.shape for name, a in zip(named, arrays, strict=True)}
        raise InputError(
            field or ", ".join(named),
            "must have shapes that broadcast to one shape",
            shapes,
        ) from None


def check_arms(control: Any, treatment: Any) -> None:
    """Raise an InputError unless the two arms' arrays broadcast together."""
    try:
        np.broadcast_shapes(control.n.shape, treatment.n.shape)
    except ValueError:
        raise InputError(
            "control, treatment",
            "must have shapes that broadcast against each other",
            {"control": control.n.shape, "treatment": treatment.n.shape},
            fix="Give both arms the same metrics x slices layout.",
        ) from None


def _broadcast_fields(obj: Any) -> None:
    """Convert every field of a frozen container to float arrays of one shape."""
    names = [field.name for field in fields(obj)]
    values = {name: getattr(obj, name) for name in names}
    arrays = broadcast_values(f"{type(obj).__name__} fields", **values)
    for name, array in zip(names, arrays, strict=True):
        object.__setattr__(obj, name, np.array(array, dtype=np.float64))


def sample_variance(
    n: FloatArray, total: FloatArray, total_sq: FloatArray
) -> FloatArray:
    """Unbiased variance (divisor n - 1) from n, sum and sum of squares.

    Negative results that are rounding noise are clipped to zero; larger
    negative results stay negative so that validation can flag them.
    """
    with np.errstate(all="ignore"):
        centred = total_sq - total * total / n
        scale = np.abs(total_sq) * _CANCELLATION_TOLERANCE
        centred = np.where((centred < 0) & (centred >= -scale), 0.0, centred)
        return np.asarray(centred / (n - 1), dtype=np.float64)


def sample_covariance(
    n: FloatArray, sum_x: FloatArray, sum_y: FloatArray, cross: FloatArray
) -> FloatArray:
    """Unbiased covariance (divisor n - 1) from n, the two sums and sum of x*y."""
    with np.errstate(all="ignore"):
        return np.asarray((cross - sum_x * sum_y / n) / (n - 1), dtype=np.float64)


def count_reasons(n: FloatArray, *values: FloatArray) -> CodeArray:
    """Reasons common to every arm: non-finite input, negative or too few units."""
    reason = no_reason(n.shape)
    finite = np.isfinite(n)
    for value in values:
        finite = finite & np.isfinite(value)
    reason = merge_reasons(reason, ~finite, Reason.NON_FINITE_INPUT)
    reason = merge_reasons(reason, n < 0, Reason.NEGATIVE_COUNT)
    reason = merge_reasons(reason, n == 0, Reason.MISSING_VARIANT)
    return merge_reasons(reason, n < 2, Reason.TOO_FEW_UNITS)


@dataclass(frozen=True, eq=False)
class SampleStats:
    """Sufficient statistics of one metric in one arm: n, sum and sum of squares.

    Parameters
    ----------
    n
        Number of units (users) in the arm.
    sum
        Sum of the metric over the units. For a proportion (a 0/1 metric) this
        is the number of successes.
    sum_sq
        Sum of the squared metric. For a 0/1 metric it equals ``sum``.
    """

    n: FloatArray
    sum: FloatArray
    sum_sq: FloatArray

    def __post_init__(self) -> None:
        _broadcast_fields(self)

    @classmethod
    def from_values(
        cls,
        values: npt.ArrayLike,
        *,
        axis: int = -1,
        weights: npt.ArrayLike | None = None,
    ) -> SampleStats:
        """Summarise unit-level values along ``axis``.

        ``weights`` are frequency weights: a unit of weight 3 counts as three
        identical units.
        """
        data = as_float_array("values", values)
        w = (
            np.ones_like(data)
            if weights is None
            else as_float_array("weights", weights)
        )
        w = np.broadcast_to(w, data.shape)
        return cls(
            n=w.sum(axis=axis),
            sum=(w * data).sum(axis=axis),
            sum_sq=(w * data * data).sum(axis=axis),
        )

    @classmethod
    def from_counts(cls, successes: npt.ArrayLike, n: npt.ArrayLike) -> SampleStats:
        """Summarise a proportion: ``successes`` out of ``n`` units."""
        count = as_float_array("successes", successes)
        return cls(n=as_float_array("n", n), sum=count, sum_sq=count)

    @property
    def shape(self) -> tuple[int, ...]:
        """Common shape of the arrays."""
        return self.n.shape

    @property
    def mean(self) -> FloatArray:
        """Mean per unit (NaN where n is 0)."""
        with np.errstate(all="ignore"):
            return np.asarray(self.sum / self.n, dtype=np.float64)

    @property
    def variance(self) -> FloatArray:
        """Unbiased variance of the metric per unit (divisor n - 1)."""
        return sample_variance(self.n, self.sum, self.sum_sq)

    @quiet_numpy
    def reason_codes(self) -> CodeArray:
        """Integer reason codes (0 = usable) per element; see ``reasons.CODES``."""
        reason = count_reasons(self.n, self.sum, self.sum_sq)
        scale = np.abs(self.sum_sq) * _CANCELLATION_TOLERANCE + 1e-300
        bad = (self.n >= 2) & (self.variance * (self.n - 1) < -scale)
        return merge_reasons(reason, bad, Reason.INCONSISTENT_SUMS)


@dataclass(frozen=True, eq=False)
class RatioStats:
    """Sufficient statistics of a ratio metric (sum of Y over sum of D) in one arm.

    The unit of randomisation is the user; the metric is, for example, votes per
    post, with ``numerator`` = a user's votes and ``denominator`` = the user's
    posts.

    Parameters
    ----------
    n
        Number of units in the arm.
    numerator_sum, numerator_sum_sq
        Sum and sum of squares of the per-unit numerator.
    denominator_sum, denominator_sum_sq
        Sum and sum of squares of the per-unit denominator.
    cross_sum
        Sum over units of numerator x denominator.
    """

    n: FloatArray
    numerator_sum: FloatArray
    numerator_sum_sq: FloatArray
    denominator_sum: FloatArray
    denominator_sum_sq: FloatArray
    cross_sum: FloatArray

    def __post_init__(self) -> None:
        _broadcast_fields(self)

    @classmethod
    def from_values(
        cls,
        numerators: npt.ArrayLike,
        denominators: npt.ArrayLike,
        *,
        axis: int = -1,
        weights: npt.ArrayLike | None = None,
    ) -> RatioStats:
        """Summarise unit-level numerators and denominators along ``axis``."""
        y, d = broadcast_values(numerators=numerators, denominators=denominators)
        w = np.ones_like(y) if weights is None else as_float_array("weights", weights)
        w = np.broadcast_to(w, y.shape)
        return cls(
            n=w.sum(axis=axis),
            numerator_sum=(w * y).sum(axis=axis),
            numerator_sum_sq=(w * y * y).sum(axis=axis),
            denominator_sum=(w * d).sum(axis=axis),
            denominator_sum_sq=(w * d * d).sum(axis=axis),
            cross_sum=(w * y * d).sum(axis=axis),
        )

    @property
    def shape(self) -> tuple[int, ...]:
        """Common shape of the arrays."""
        return self.n.shape

    @property
    def numerator(self) -> SampleStats:
        """The numerator as a per-unit metric."""
        return SampleStats(self.n, self.numerator_sum, self.numerator_sum_sq)

    @property
    def denominator(self) -> SampleStats:
        """The denominator as a per-unit metric."""
        return SampleStats(self.n, self.denominator_sum, self.denominator_sum_sq)

    @property
    def ratio(self) -> FloatArray:
        """The ratio of sums (NaN where the denominator sum is zero)."""
        with np.errstate(all="ignore"):
            return np.asarray(self.numerator_sum / self.denominator_sum, np.float64)

    @property
    def covariance(self) -> FloatArray:
        """Unbiased covariance of numerator and denominator per unit."""
        return sample_covariance(
            self.n, self.numerator_sum, self.denominator_sum, self.cross_sum
        )

    @quiet_numpy
    def reason_codes(self) -> CodeArray:
        """Integer reason codes (0 = usable) per element; see ``reasons.CODES``."""
        reason = count_reasons(
            self.n,
            self.numerator_sum,
            self.numerator_sum_sq,
            self.denominator_sum,
            self.denominator_sum_sq,
            self.cross_sum,
        )
        for part in (self.numerator, self.denominator):
            reason = merge_reasons(
                reason,
                part.reason_codes() == code_of(Reason.INCONSISTENT_SUMS),
                Reason.INCONSISTENT_SUMS,
            )
        return merge_reasons(reason, self.denominator_sum == 0, Reason.ZERO_DENOMINATOR)


@dataclass(frozen=True, eq=False)
class CupedStats:
    """Sufficient statistics of a metric and its pre-period covariate in one arm.

    Parameters
    ----------
    n
        Number of units in the arm.
    sum, sum_sq
        Sum and sum of squares of the metric during the experiment.
    covariate_sum, covariate_sum_sq
        Sum and sum of squares of the covariate, usually the same metric
        measured over a period before the experiment (0 for new users).
    cross_sum
        Sum over units of metric x covariate.
    """

    n: FloatArray
    sum: FloatArray
    sum_sq: FloatArray
    covariate_sum: FloatArray
    covariate_sum_sq: FloatArray
    cross_sum: FloatArray

    def __post_init__(self) -> None:
        _broadcast_fields(self)

    @classmethod
    def from_values(
        cls,
        values: npt.ArrayLike,
        covariates: npt.ArrayLike,
        *,
        axis: int = -1,
    ) -> CupedStats:
        """Summarise unit-level metric values and covariates along ``axis``."""
        y, x = broadcast_values(values=values, covariates=covariates)
        return cls(
            n=np.sum(np.ones_like(y), axis=axis),
            sum=y.sum(axis=axis),
            sum_sq=(y * y).sum(axis=axis),
            covariate_sum=x.sum(axis=axis),
            covariate_sum_sq=(x * x).sum(axis=axis),
            cross_sum=(x * y).sum(axis=axis),
        )

    @property
    def metric(self) -> SampleStats:
        """The metric without its covariate."""
        return SampleStats(self.n, self.sum, self.sum_sq)

    @property
    def covariate(self) -> SampleStats:
        """The covariate as a per-unit metric."""
        return SampleStats(self.n, self.covariate_sum, self.covariate_sum_sq)

    @quiet_numpy
    def reason_codes(self) -> CodeArray:
        """Integer reason codes (0 = usable) per element; see ``reasons.CODES``."""
        reason = first_reason(self.metric.reason_codes(), self.covariate.reason_codes())
        return merge_reasons(
            reason, ~np.isfinite(self.cross_sum), Reason.NON_FINITE_INPUT
        )


@dataclass(frozen=True, eq=False)
class CupedRatioStats:
    """Sufficient statistics of a ratio metric and a pre-period covariate.

    The covariate is one value per unit, usually the numerator measured before
    the experiment (e.g. a user's votes in the four weeks before).

    Parameters
    ----------
    n, numerator_sum, numerator_sum_sq, denominator_sum, denominator_sum_sq, \
cross_sum
        As in :class:`RatioStats`.
    covariate_sum, covariate_sum_sq
        Sum and sum of squares of the covariate.
    numerator_covariate_sum, denominator_covariate_sum
        Sums over units of numerator x covariate and denominator x covariate.
    """

    n: FloatArray
    numerator_sum: FloatArray
    numerator_sum_sq: FloatArray
    denominator_sum: FloatArray
    denominator_sum_sq: FloatArray
    cross_sum: FloatArray
    covariate_sum: FloatArray
    covariate_sum_sq: FloatArray
    numerator_covariate_sum: FloatArray
    denominator_covariate_sum: FloatArray

    def __post_init__(self) -> None:
        _broadcast_fields(self)

    @classmethod
    def from_values(
        cls,
        numerators: npt.ArrayLike,
        denominators: npt.ArrayLike,
        covariates: npt.ArrayLike,
        *,
        axis: int = -1,
    ) -> CupedRatioStats:
        """Summarise unit-level numerators, denominators and covariates."""
        y, d, x = broadcast_values(
            numerators=numerators, denominators=denominators, covariates=covariates
        )
        return cls(
            n=np.sum(np.ones_like(y), axis=axis),
            numerator_sum=y.sum(axis=axis),
            numerator_sum_sq=(y * y).sum(axis=axis),
            denominator_sum=d.sum(axis=axis),
            denominator_sum_sq=(d * d).sum(axis=axis),
            cross_sum=(y * d).sum(axis=axis),
            covariate_sum=x.sum(axis=axis),
            covariate_sum_sq=(x * x).sum(axis=axis),
            numerator_covariate_sum=(y * x).sum(axis=axis),
            denominator_covariate_sum=(d * x).sum(axis=axis),
        )

    @property
    def ratio(self) -> RatioStats:
        """The ratio metric without its covariate."""
        return RatioStats(
            self.n,
            self.numerator_sum,
            self.numerator_sum_sq,
            self.denominator_sum,
            self.denominator_sum_sq,
            self.cross_sum,
        )

    @property
    def covariate(self) -> SampleStats:
        """The covariate as a per-unit metric."""
        return SampleStats(self.n, self.covariate_sum, self.covariate_sum_sq)

    @quiet_numpy
    def reason_codes(self) -> CodeArray:
        """Integer reason codes (0 = usable) per element; see ``reasons.CODES``."""
        reason = first_reason(self.ratio.reason_codes(), self.covariate.reason_codes())
        cross_finite = np.isfinite(self.numerator_covariate_sum) & np.isfinite(
            self.denominator_covariate_sum
        )
        return merge_reasons(reason, ~cross_finite, Reason.NON_FINITE_INPUT)
