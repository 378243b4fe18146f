"""A simulated location-based community with planted ground truth.

``simulate(con, users=..., days=..., seed=...)`` writes users, channels,
posts, votes, events, experiment assignments and exposures in the canonical
schema (``source = 'simulator'``), plus ``truth_*`` tables with what was
planted. ``docs/simulator.md`` describes the world and how to check each truth.
"""

from veedel.warehouse.simulator.config import (
    Channel,
    City,
    EngagementType,
    ExperimentSpec,
    PlantedEffect,
    RetentionDriver,
    SimulationConfig,
)
from veedel.warehouse.simulator.experiments import METRIC_WINDOWS
from veedel.warehouse.simulator.simulation import (
    DEFAULT_START,
    SimulationSummary,
    simulate,
)
from veedel.warehouse.simulator.truth import TRUTH_TABLES

__all__ = [
    "DEFAULT_START",
    "METRIC_WINDOWS",
    "TRUTH_TABLES",
    "Channel",
    "City",
    "EngagementType",
    "ExperimentSpec",
    "PlantedEffect",
    "RetentionDriver",
    "SimulationConfig",
    "SimulationSummary",
    "simulate",
]
