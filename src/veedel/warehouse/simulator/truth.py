"""The planted truth, written to ``truth_*`` tables next to the simulated data.

``truth_users``
    each user's hidden engagement type;
``truth_channel_affinity``
    each user's interest in each channel (a row sums to 1 over channels);
``truth_retention_driver``
    the one early behaviour that causes 4-week retention, its threshold and
    its average causal effect;
``truth_experiments``
    each experiment's planted effect per variant and metric.
"""

from __future__ import annotations

import ibis
import numpy as np
import pyarrow as pa
from ibis.expr.schema import Schema

from veedel.warehouse.simulator.activity import BlockActivity
from veedel.warehouse.simulator.config import SimulationConfig
from veedel.warehouse.simulator.experiments import METRIC_WINDOWS

__all__ = ["TRUTH_TABLES", "TruthCollector", "block_truth"]

TRUTH_TABLES: dict[str, Schema] = {
    "truth_users": ibis.schema({"user_id": "!string", "engagement_type": "!string"}),
    "truth_channel_affinity": ibis.schema(
        {"user_id": "!string", "channel_id": "!string", "affinity": "!float64"}
    ),
    "truth_retention_driver": ibis.schema(
        {
            "behaviour": "!string",
            "threshold": "!int64",
            "window_days": "!int64",
            "outcome": "!string",
            "effect": "!float64",
            "activity_multiplier": "!float64",
            "description": "!string",
        }
    ),
    "truth_experiments": ibis.schema(
        {
            "experiment_id": "!string",
            "variant": "!string",
            "control": "!string",
            "metric": "!string",
            "window_first_day": "!int64",
            "window_last_day": "!int64",
            "planted": "!string",
            "effect_absolute": "float64",
            "effect_relative": "float64",
            "control_mean": "float64",
            "description": "!string",
        }
    ),
}


def _table(name: str, columns: dict[str, pa.Array]) -> pa.Table:
    schema = TRUTH_TABLES[name].to_pyarrow()
    return pa.Table.from_arrays([columns[f.name] for f in schema], schema=schema)


def block_truth(
    activity: BlockActivity, config: SimulationConfig
) -> dict[str, pa.Table]:
    """Per-user truth rows of one block."""
    population = activity.population
    kinds = pa.array([t.name for t in config.engagement_types], type=pa.string())
    user_ids = pa.array(population.user_ids, type=pa.string())
    users = _table(
        "truth_users",
        {"user_id": user_ids, "engagement_type": kinds.take(pa.array(population.kind))},
    )

    n_channels = len(config.channels)
    channel_ids = pa.array([c.channel_id for c in config.channels], type=pa.string())
    user_of_row = np.repeat(np.arange(population.n), n_channels)
    channel_of_row = np.tile(np.arange(n_channels), population.n)
    affinity = _table(
        "truth_channel_affinity",
        {
            "user_id": user_ids.take(pa.array(user_of_row)),
            "channel_id": channel_ids.take(pa.array(channel_of_row)),
            "affinity": pa.array(population.affinity.reshape(-1)),
        },
    )
    return {"truth_users": users, "truth_channel_affinity": affinity}


class TruthCollector:
    """Sums over blocks what the run-level truth tables need."""

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        self.driver_effect_sum = 0.0
        self.users = 0
        self.expected_sum: dict[tuple[str, str], float] = {}
        self.expected_n: dict[tuple[str, str], int] = {}

    def add(self, activity: BlockActivity) -> None:
        """Take in one block."""
        self.driver_effect_sum += float(activity.driver_effect.sum())
        self.users += activity.population.n
        for spec, effect, total, n in activity.experiments.planted():
            key = (spec.experiment_id, effect.metric)
            self.expected_sum[key] = self.expected_sum.get(key, 0.0) + total
            self.expected_n[key] = self.expected_n.get(key, 0) + n

    def tables(self) -> dict[str, pa.Table]:
        """The run-level truth tables."""
        return {
            "truth_retention_driver": self._driver(),
            "truth_experiments": self._experiments(),
        }

    def _driver(self) -> pa.Table:
        driver = self.config.retention_driver
        effect = self.driver_effect_sum / self.users if self.users else 0.0
        description = (
            f"Users with at least {driver.threshold} {driver.behaviour} events in "
            f"days 0-{driver.window_days - 1} after sign-up keep their daily "
            f"activity; the others are active {driver.unmet_multiplier:g} times as "
            f"often from day {driver.window_days} on. effect is the average gain "
            f"in the chance of the outcome, over all simulated users."
        )
        return _table(
            "truth_retention_driver",
            {
                "behaviour": pa.array([driver.behaviour]),
                "threshold": pa.array([driver.threshold], type=pa.int64()),
                "window_days": pa.array([driver.window_days], type=pa.int64()),
                "outcome": pa.array([driver.outcome]),
                "effect": pa.array([effect]),
                "activity_multiplier": pa.array([driver.unmet_multiplier]),
                "description": pa.array([description]),
            },
        )

    def _experiments(self) -> pa.Table:
        rows: dict[str, list[object]] = {
            name: [] for name in TRUTH_TABLES["truth_experiments"].names
        }
        for spec in self.config.experiments:
            for effect in spec.effects:
                key = (spec.experiment_id, effect.metric)
                n = self.expected_n.get(key, 0)
                mean = self.expected_sum.get(key, 0.0) / n if n else None
                absolute: float | None = effect.size
                relative: float | None = effect.size
                if effect.kind == "relative":
                    absolute = effect.size * mean if mean is not None else None
                else:
                    relative = effect.size / mean if mean else None
                first, last = METRIC_WINDOWS[effect.metric]
                values: dict[str, object] = {
                    "experiment_id": spec.experiment_id,
                    "variant": effect.variant,
                    "control": spec.control,
                    "metric": effect.metric,
                    "window_first_day": first,
                    "window_last_day": last,
                    "planted": effect.kind,
                    "effect_absolute": absolute,
                    "effect_relative": relative,
                    "control_mean": mean,
                    "description": effect.description,
                }
                for name, value in values.items():
                    rows[name].append(value)
        schema = TRUTH_TABLES["truth_experiments"].to_pyarrow()
        return pa.Table.from_pydict(rows, schema=schema)
