"""Benchmark: the vectorised statistics engine against a scalar scipy loop.

Run with ``uv run python benchmarks/stats_engine.py``. Reports, in one run:

* 10,000 metric x variant comparisons (Welch t with interval, and the
  two-proportion z test) through the engine and through a per-comparison loop
  over scipy, and the speed ratio; the numbers of both paths are checked to
  agree;
* the wall time of 1,000,000 comparisons through the engine (means,
  proportions, ratios, and Holm adjustment over all of them).

No assertion on time: this is a report, not a test.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats

from veedel.experiments.stats import (
    RatioStats,
    SampleStats,
    adjust_effects,
    compare_means,
    compare_proportions,
    compare_ratios,
)


def _timed(function: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """Best wall time of ``repeat`` runs and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def _mean_inputs(
    size: int, rng: np.random.Generator
) -> tuple[SampleStats, SampleStats]:
    n = rng.integers(1_000, 50_000, size=(2, size)).astype(float)
    mean = rng.normal(5.0, 0.2, size=(2, size))
    sd = rng.uniform(1.0, 3.0, size=(2, size))
    total = n * mean
    total_sq = (n - 1) * sd**2 + total**2 / n
    return SampleStats(n[0], total[0], total_sq[0]), SampleStats(
        n[1], total[1], total_sq[1]
    )


def _welch_loop(control: SampleStats, treatment: SampleStats) -> np.ndarray:
    """Per-comparison scipy: Welch test and t interval, one comparison at a time."""
    out = np.empty((control.n.size, 3))
    mean_c, mean_t = control.mean, treatment.mean
    sd_c, sd_t = np.sqrt(control.variance), np.sqrt(treatment.variance)
    for i in range(control.n.size):
        result = stats.ttest_ind_from_stats(
            mean_t[i],
            sd_t[i],
            treatment.n[i],
            mean_c[i],
            sd_c[i],
            control.n[i],
            equal_var=False,
        )
        v_t, v_c = sd_t[i] ** 2 / treatment.n[i], sd_c[i] ** 2 / control.n[i]
        df = (v_t + v_c) ** 2 / (
            v_t**2 / (treatment.n[i] - 1) + v_c**2 / (control.n[i] - 1)
        )
        half = stats.t.ppf(0.975, df) * np.sqrt(v_t + v_c)
        out[i] = (
            result.pvalue,
            mean_t[i] - mean_c[i] - half,
            mean_t[i] - mean_c[i] + half,
        )
    return out


def _proportion_loop(control: SampleStats, treatment: SampleStats) -> np.ndarray:
    """Per-comparison scipy: pooled two-proportion z test."""
    out = np.empty(control.n.size)
    for i in range(control.n.size):
        pooled = (control.sum[i] + treatment.sum[i]) / (control.n[i] + treatment.n[i])
        se = np.sqrt(pooled * (1 - pooled) * (1 / control.n[i] + 1 / treatment.n[i]))
        z = (treatment.sum[i] / treatment.n[i] - control.sum[i] / control.n[i]) / se
        out[i] = 2 * stats.norm.sf(abs(z))
    return out


def compare_ten_thousand(size: int, rng: np.random.Generator) -> None:
    control, treatment = _mean_inputs(size, rng)
    engine_time, effect = _timed(lambda: compare_means(control, treatment))
    loop_time, looped = _timed(lambda: _welch_loop(control, treatment), repeat=1)
    np.testing.assert_allclose(effect.p_value, looped[:, 0], rtol=1e-8)
    np.testing.assert_allclose(effect.ci_lower, looped[:, 1], rtol=1e-8)
    print(
        f"Welch, {size:,} comparisons: engine {engine_time * 1e3:8.1f} ms, "
        f"scipy loop {loop_time * 1e3:8.1f} ms, ratio {loop_time / engine_time:6.0f}x"
    )

    n = rng.integers(1_000, 50_000, size=(2, size)).astype(float)
    successes = rng.binomial(n.astype(int), 0.1).astype(float)
    c, t = (
        SampleStats.from_counts(successes[0], n[0]),
        SampleStats.from_counts(successes[1], n[1]),
    )
    engine_time, effect = _timed(lambda: compare_proportions(c, t))
    loop_time, looped = _timed(lambda: _proportion_loop(c, t), repeat=1)
    np.testing.assert_allclose(effect.p_value, looped, rtol=1e-8)
    print(
        f"Proportions, {size:,} comparisons: engine {engine_time * 1e3:8.1f} ms, "
        f"scipy loop {loop_time * 1e3:8.1f} ms, ratio {loop_time / engine_time:6.0f}x"
    )


def compare_a_million(size: int, rng: np.random.Generator) -> None:
    control, treatment = _mean_inputs(size, rng)
    elapsed, effect = _timed(lambda: compare_means(control, treatment), repeat=1)
    print(f"Welch, {size:,} comparisons: {elapsed:.2f} s")

    elapsed, _ = _timed(
        lambda: compare_proportions(
            SampleStats.from_counts(control.n * 0.1, control.n),
            SampleStats.from_counts(treatment.n * 0.11, treatment.n),
        ),
        repeat=1,
    )
    print(f"Proportions, {size:,} comparisons: {elapsed:.2f} s")

    ratio_c = RatioStats(
        control.n,
        control.sum,
        control.sum_sq,
        control.n * 2,
        control.n * 5,
        control.sum * 2.2,
    )
    ratio_t = RatioStats(
        treatment.n,
        treatment.sum,
        treatment.sum_sq,
        treatment.n * 2,
        treatment.n * 5,
        treatment.sum * 2.2,
    )
    elapsed, _ = _timed(lambda: compare_ratios(ratio_c, ratio_t), repeat=1)
    print(f"Ratios, {size:,} comparisons: {elapsed:.2f} s")

    elapsed, _ = _timed(lambda: adjust_effects(effect, "holm"), repeat=1)
    print(f"Holm adjustment of {size:,} comparisons with intervals: {elapsed:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    compare_ten_thousand(args.small, rng)
    compare_a_million(args.large, rng)


if __name__ == "__main__":
    main()
