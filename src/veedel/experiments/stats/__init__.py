"""The statistics engine of the experimentation platform.

Pure, vectorised functions from per-variant sufficient statistics to effects,
intervals, p-values, probabilities and plans. See ``docs/statistics.md`` for the
methods in words and formulas.
"""

from veedel.experiments.stats.bayes import (
    bayes_beta_binomial,
    bayes_gaussian,
    probability_beta_greater,
)
from veedel.experiments.stats.cuped import cuped_adjust, cuped_adjust_ratio
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
from veedel.experiments.stats.quantile import compare_quantiles
from veedel.experiments.stats.ratio import compare_ratios, ratio_unit_variance
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
from veedel.experiments.stats.winsor import (
    compare_winsorized_means,
    compare_winsorized_ratios,
    pooled_cap,
    winsorize,
)

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
    "bayes_beta_binomial",
    "bayes_gaussian",
    "compare_means",
    "compare_proportions",
    "compare_quantiles",
    "compare_ratios",
    "compare_winsorized_means",
    "compare_winsorized_ratios",
    "confidence_sequence",
    "cuped_adjust",
    "cuped_adjust_ratio",
    "days_left",
    "days_needed",
    "explain",
    "minimum_detectable_effect",
    "msprt_likelihood_ratio",
    "msprt_pvalue",
    "plan_experiment",
    "pooled_cap",
    "probability_beta_greater",
    "ratio_unit_variance",
    "sample_size_per_arm",
    "sequential_effect",
    "srm_test",
    "tuned_mixing_variance",
    "winsorize",
]
