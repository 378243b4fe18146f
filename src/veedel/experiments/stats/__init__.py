"""The statistics engine of the experimentation platform.

Pure, vectorised functions from per-variant sufficient statistics to effects,
intervals, p-values, probabilities and plans. See ``docs/statistics.md`` for the
methods in words and formulas.
"""

from veedel.experiments.stats.frequentist import compare_means, compare_proportions
from veedel.experiments.stats.inputs import (
    CupedRatioStats,
    CupedStats,
    RatioStats,
    SampleStats,
)
from veedel.experiments.stats.multiple import adjust_effects, adjust_pvalues
from veedel.experiments.stats.power import (
    Baseline,
    days_left,
    days_needed,
    minimum_detectable_effect,
    plan_experiment,
    sample_size_per_arm,
)
from veedel.experiments.stats.ratio import compare_ratios
from veedel.experiments.stats.reasons import REASON_SENTENCES, Reason, explain
from veedel.experiments.stats.results import (
    CupedResult,
    Effect,
    Plan,
    SrmResult,
    WinsorizedValues,
)
from veedel.experiments.stats.sequential import (
    confidence_sequence,
    msprt_likelihood_ratio,
    msprt_pvalue,
    sequential_effect,
    tuned_mixing_variance,
)
from veedel.experiments.stats.srm import DEFAULT_SRM_THRESHOLD, srm_test

__all__ = [
    "DEFAULT_SRM_THRESHOLD",
    "REASON_SENTENCES",
    "Baseline",
    "CupedRatioStats",
    "CupedResult",
    "CupedStats",
    "Effect",
    "Plan",
    "RatioStats",
    "Reason",
    "SampleStats",
    "SrmResult",
    "WinsorizedValues",
    "adjust_effects",
    "adjust_pvalues",
    "compare_means",
    "compare_proportions",
    "compare_ratios",
    "confidence_sequence",
    "days_left",
    "days_needed",
    "explain",
    "minimum_detectable_effect",
    "msprt_likelihood_ratio",
    "msprt_pvalue",
    "plan_experiment",
    "sample_size_per_arm",
    "sequential_effect",
    "srm_test",
    "tuned_mixing_variance",
]
