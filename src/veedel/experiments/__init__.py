"""The experimentation platform: metrics, experiments, analysis and verdicts.

Define metrics and experiments in YAML, bucket users with :func:`assign`, and
analyse an experiment in the warehouse with :func:`analyze`, which returns an
:class:`ExperimentResult` with health checks, a verdict and one plain sentence
per metric. The statistics engine lives in :mod:`veedel.experiments.stats`.
"""

from veedel.experiments.analysis import analyze, default_as_of
from veedel.experiments.definitions import (
    ExperimentDefinition,
    example_experiments,
    find_experiment,
    load_experiment_file,
    load_experiment_text,
    load_experiments,
)
from veedel.experiments.metrics import (
    Metric,
    MetricLibrary,
    load_metric_file,
    load_metric_text,
    load_metrics,
    starter_metrics,
)
from veedel.experiments.randomisation import HOLDOUT, assign, assign_many
from veedel.experiments.results import (
    DailyPoint,
    ExperimentResult,
    HealthCheck,
    MetricResult,
    Verdict,
)

__all__ = [
    "HOLDOUT",
    "DailyPoint",
    "ExperimentDefinition",
    "ExperimentResult",
    "HealthCheck",
    "Metric",
    "MetricLibrary",
    "MetricResult",
    "Verdict",
    "analyze",
    "assign",
    "assign_many",
    "default_as_of",
    "example_experiments",
    "find_experiment",
    "load_experiment_file",
    "load_experiment_text",
    "load_experiments",
    "load_metric_file",
    "load_metric_text",
    "load_metrics",
    "starter_metrics",
]
