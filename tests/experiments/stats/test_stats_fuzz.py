"""Any numbers in, a result out: no exception, no warning, no NaN without a reason."""

from __future__ import annotations

import json
import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from veedel.experiments.stats import (
    CupedRatioStats,
    CupedStats,
    RatioStats,
    SampleStats,
    adjust_effects,
    bayes_gaussian,
    compare_means,
    compare_proportions,
    compare_ratios,
    cuped_adjust,
    cuped_adjust_ratio,
    sequential_effect,
    srm_test,
)
from veedel.experiments.stats.results import Effect

FUZZ = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

anything = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-3, 3).map(float),
    st.floats(-1e6, 1e6),
)
fields = arrays(np.float64, (4,), elements=anything)


def _check(effect: Effect) -> None:
    """Where no reason is given, every inferential number is a real number."""
    computed = effect.reason == ""
    for name in ("point_estimate", "standard_error", "ci_lower", "ci_upper"):
        values = getattr(effect, name)[computed]
        assert not np.isnan(values).any(), name
    if effect.p_value is not None:
        p = effect.p_value[computed]
        assert np.all((p >= 0) & (p <= 1))
    json.loads(effect.to_json())
    assert all(isinstance(m, str) for m in effect.messages().reshape(-1))


def _quietly(call: object) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return call()  # type: ignore[operator]


@FUZZ
@given(
    a=st.lists(fields, min_size=3, max_size=3),
    b=st.lists(fields, min_size=3, max_size=3),
)
def test_means_and_proportions_never_raise(
    a: list[np.ndarray], b: list[np.ndarray]
) -> None:
    """Welch and proportions on arbitrary sums return results with reasons."""
    control, treatment = SampleStats(*a), SampleStats(*b)
    for scale in ("absolute", "relative"):
        for compare in (compare_means, compare_proportions):
            effect = _quietly(lambda c=compare, s=scale: c(control, treatment, scale=s))
            assert isinstance(effect, Effect)
            _check(effect)
            _check(_quietly(lambda e=effect: adjust_effects(e, "bh")))  # type: ignore[arg-type]
            _check(_quietly(lambda e=effect: bayes_gaussian(e)))  # type: ignore[arg-type]
            _check(_quietly(lambda e=effect: sequential_effect(e, expected_n=1000)))  # type: ignore[arg-type]


@FUZZ
@given(
    a=st.lists(fields, min_size=6, max_size=6),
    b=st.lists(fields, min_size=6, max_size=6),
)
def test_ratios_and_cuped_never_raise(a: list[np.ndarray], b: list[np.ndarray]) -> None:
    """Ratio and CUPED comparisons on arbitrary sums return results with reasons."""
    effect = _quietly(lambda: compare_ratios(RatioStats(*a), RatioStats(*b)))
    assert isinstance(effect, Effect)
    _check(effect)
    cuped = _quietly(lambda: cuped_adjust(CupedStats(*a), CupedStats(*b)))
    _check(cuped.adjusted)  # type: ignore[attr-defined]
    json.loads(cuped.to_json())  # type: ignore[attr-defined]
    ratio = _quietly(
        lambda: cuped_adjust_ratio(
            CupedRatioStats(*a, *a[:4]), CupedRatioStats(*b, *b[:4])
        )
    )
    _check(ratio.adjusted)  # type: ignore[attr-defined]


@FUZZ
@given(observed=arrays(np.float64, (3, 2), elements=anything))
def test_srm_never_raises(observed: np.ndarray) -> None:
    """SRM on arbitrary counts gives p-values in [0, 1] or a reason."""
    result = _quietly(lambda: srm_test(observed))
    computed = result.reason == ""  # type: ignore[attr-defined]
    p = result.p_value[computed]  # type: ignore[attr-defined]
    assert np.all((p >= 0) & (p <= 1))
    json.loads(result.to_json())  # type: ignore[attr-defined]
