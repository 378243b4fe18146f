"""A/A experiments peeked every day through the production code paths.

The engine's calibration tests (``stats/test_stats_calibration.py``) call
``sequential_effect`` directly; these go through what ``analyze`` and the ASOS
analysis call, so a production path that re-tuned the mixing variance at each
look (and lost the guarantee) would show up here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from veedel.experiments.comparison import compare_rows
from veedel.experiments.definitions import ExperimentDefinition
from veedel.experiments.metrics import starter_metrics
from veedel.experiments.pipeline import metric_columns
from veedel.experiments.real_data import analyze_asos

ALPHA = 0.05


def _upper_band(trials: int) -> float:
    """Upper end of the two-sided 99.9 % binomial interval around alpha."""
    return float(scipy_stats.binom.interval(0.999, trials, ALPHA)[1]) / trials


def _daily_sums(
    rng: np.random.Generator, experiments: int, days: int, daily: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative n, sum and sum of squares of skewed counts, arms x runs x days."""
    values = rng.negative_binomial(2, 0.4, size=(2, experiments, days, daily))
    n = np.cumsum(np.full((experiments, days), float(daily)), axis=1)
    sums = np.cumsum(values.sum(axis=3), axis=2).astype(float)
    squares = np.cumsum((values.astype(float) ** 2).sum(axis=3), axis=2)
    return n, sums, squares


def test_aa_peeked_daily_through_compare_rows_stays_within_alpha(
    rng: np.random.Generator, tiny_definition: ExperimentDefinition
) -> None:
    """A/A, 21 daily looks through ``compare_rows(looks=True)``: FPR <= alpha.

    The definition is the tiny experiment's with sequential testing on, so the
    confidence sequence is tuned by its planned size (5 % MDE, 80 % power)
    exactly as in ``analyze``; an experiment counts as a false positive when
    the running always-valid p-value drops below alpha on any day.
    """
    settings = tiny_definition.analysis.model_copy(update={"sequential": True})
    definition = tiny_definition.model_copy(update={"analysis": settings})
    metric = starter_metrics()["sessions_per_user"]
    names = metric_columns("sessions_per_user", metric, False)
    experiments, days = 600, 21
    n, sums, squares = _daily_sums(rng, experiments, days, 60)

    hits = np.zeros(experiments, dtype=bool)
    fixed_hits = np.zeros(experiments, dtype=bool)
    for run in range(experiments):
        rows = [
            pd.DataFrame(
                {
                    "n": n[run],
                    names["sum"]: sums[arm, run],
                    names["sum_sq"]: squares[arm, run],
                }
            )
            for arm in (0, 1)
        ]
        relative = compare_rows(
            metric, names, rows[0], rows[1], definition, looks=True
        ).relative
        assert relative.p_value is not None
        hits[run] = np.nanmin(relative.p_value) < ALPHA
        plain = compare_rows(metric, names, rows[0], rows[1], tiny_definition)
        assert plain.relative.p_value is not None
        fixed_hits[run] = np.nanmin(plain.relative.p_value) < ALPHA

    assert hits.mean() <= _upper_band(experiments)
    # The same looks with the fixed-horizon test are far above alpha.
    assert fixed_hits.mean() > 2 * ALPHA


def test_aa_series_in_the_asos_format_stay_within_alpha(
    rng: np.random.Generator,
) -> None:
    """A/A series in the ASOS layout: the sequential call is rare, the naive one not.

    ``analyze_asos`` stops a series at the first look whose always-valid
    p-value is below alpha; on series with no effect that must happen in at
    most alpha of them (within simulation error).
    """
    experiments, days = 800, 20
    n, sums, squares = _daily_sums(rng, experiments, days, 80)
    mean = sums / n
    variance = (squares - n * mean**2) / (n - 1)
    frame = pd.DataFrame(
        {
            "experiment_id": np.repeat([f"e{i:04d}" for i in range(experiments)], days),
            "variant_id": 1,
            "metric_id": 1,
            "time_since_start": np.tile(np.arange(1.0, days + 1), experiments),
            "count_c": n.ravel(),
            "count_t": n.ravel(),
            "mean_c": mean[0].ravel(),
            "mean_t": mean[1].ravel(),
            "variance_c": variance[0].ravel(),
            "variance_t": variance[1].ravel(),
        }
    )
    summary = analyze_asos(frame, alpha=ALPHA)
    assert summary.not_computable == 0
    called = summary.sequential["up"] + summary.sequential["down"]
    assert called / experiments <= _upper_band(experiments)
    naive = summary.naive_peeking["up"] + summary.naive_peeking["down"]
    assert naive / experiments > 2 * ALPHA
    fixed = summary.fixed["up"] + summary.fixed["down"]
    assert fixed / experiments == pytest.approx(ALPHA, abs=0.04)
