"""Simulated experiments: salted-hash assignment, exposure and planted effects.

Assignment uses the same rule as ``veedel.experiments.randomisation`` (which
this core module may not import): a user's position is the first eight bytes
of ``sha256(f"{salt}:{user_id}")`` read as a big-endian integer over
``2**64``, and the variant is the one whose cumulative weight interval holds
it. The salt is the experiment id.

How an effect is planted, per metric (every metric counts from the day of
first exposure, day 0):

``posts_per_user``, ``channel_joins_per_user``, ``reports_per_user``
    the Poisson rate of the action is multiplied by ``1 + size``;
``sessions_per_user``
    the expected sessions of an active day are multiplied by ``1 + size``
    while every action except reports is divided by the same factor, so
    only sessions (and reports, if planted) move;
``day7_retention``
    ``size`` is added to the chance of being active on every day after the
    day of exposure; actions are scaled down so that only app opens move.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from veedel.warehouse.simulator.config import ExperimentSpec, PlantedEffect

__all__ = [
    "METRIC_KINDS",
    "METRIC_WINDOWS",
    "ExperimentBlock",
    "Levers",
    "bucket_positions",
    "variant_indices",
]

#: Days counted by each metric, from the day of first exposure (day 0).
METRIC_WINDOWS: dict[str, tuple[int, int]] = {
    "posts_per_user": (0, 13),
    "sessions_per_user": (0, 13),
    "reports_per_user": (0, 13),
    "channel_joins_per_user": (0, 6),
    "day7_retention": (7, 7),
}

#: The kind of effect each metric's mechanism plants.
METRIC_KINDS: dict[str, str] = {
    "posts_per_user": "relative",
    "sessions_per_user": "relative",
    "reports_per_user": "relative",
    "channel_joins_per_user": "relative",
    "day7_retention": "absolute",
}

_SCALE = float(2**64)


def bucket_positions(user_ids: Sequence[str], salt: str) -> NDArray[np.float64]:
    """Each user's uniform position in ``[0, 1)`` for ``salt``."""
    values = [
        int.from_bytes(hashlib.sha256(f"{salt}:{user}".encode()).digest()[:8], "big")
        / _SCALE
        for user in user_ids
    ]
    return np.asarray(values, dtype=np.float64)


def variant_indices(
    positions: NDArray[np.float64], weights: Sequence[float]
) -> NDArray[np.int64]:
    """Index of the variant whose cumulative weight interval holds a position."""
    bounds = np.cumsum(np.asarray(weights, dtype=np.float64))
    bounds /= bounds[-1]
    index = np.searchsorted(bounds, positions, side="right")
    return np.minimum(index, len(bounds) - 1).astype(np.int64)


@dataclass
class Levers:
    """Per-user multipliers of one day that carry the planted effects.

    ``extra_active`` is added to the chance to be active; the others multiply
    the expected sessions of an active day, the Poisson rates per session of
    posts (and replies), of reports, of other actions, and of channel joins.
    """

    extra_active: NDArray[np.float64]
    sessions: NDArray[np.float64]
    posts: NDArray[np.float64]
    reports: NDArray[np.float64]
    actions: NDArray[np.float64]
    joins: NDArray[np.float64]

    @classmethod
    def neutral(cls, n: int) -> Levers:
        """Levers that change nothing."""
        ones = [np.ones(n) for _ in range(5)]
        return cls(np.zeros(n), *ones)


@dataclass
class _ExperimentState:
    """One experiment's assignment and exposure in one block."""

    spec: ExperimentSpec
    variant: NDArray[np.int64]
    assigned_day: NDArray[np.int64]
    assigned_second: NDArray[np.int64]
    exposed_day: NDArray[np.int64]
    exposed_second: NDArray[np.int64]
    expected_sum: dict[str, float] = field(default_factory=dict)
    expected_n: dict[str, int] = field(default_factory=dict)

    def effects_of(self, metric: str) -> NDArray[np.float64]:
        """Planted size of ``metric`` for each user's variant (0 if none)."""
        sizes = np.zeros(len(self.spec.variants))
        names = [name for name, _ in self.spec.variants]
        for effect in self.spec.effects:
            if effect.metric == metric:
                sizes[names.index(effect.variant)] = effect.size
        return sizes[np.maximum(self.variant, 0)] * (self.variant >= 0)


class ExperimentBlock:
    """The experiments as seen by the users of one block.

    Parameters
    ----------
    specs
        The experiments to run.
    user_ids, signup_day, signup_second
        The block's users.
    days
        Length of the simulation; users assigned on or after it are left out.
    """

    def __init__(
        self,
        specs: Sequence[ExperimentSpec],
        user_ids: Sequence[str],
        signup_day: NDArray[np.int64],
        signup_second: NDArray[np.int64],
        days: int,
    ) -> None:
        self.states: list[_ExperimentState] = []
        n = len(user_ids)
        for spec in specs:
            weights = [weight for _, weight in spec.variants]
            variant = variant_indices(
                bucket_positions(user_ids, spec.experiment_id), weights
            )
            assigned_day = np.maximum(signup_day, spec.start_day)
            late = signup_day >= spec.start_day
            eligible = assigned_day < days
            if spec.new_users_only:
                eligible &= late
            self.states.append(
                _ExperimentState(
                    spec=spec,
                    variant=np.where(eligible, variant, -1),
                    assigned_day=assigned_day,
                    assigned_second=np.where(late, signup_second, 0),
                    exposed_day=np.full(n, -1, dtype=np.int64),
                    exposed_second=np.zeros(n, dtype=np.int64),
                )
            )

    def expose(
        self, day: int, active: NDArray[np.bool_], first_second: NDArray[np.int64]
    ) -> None:
        """Record first exposures: assigned users at their first session today."""
        for state in self.states:
            new = (
                active
                & (state.variant >= 0)
                & (state.exposed_day < 0)
                & (state.assigned_day <= day)
            )
            state.exposed_day[new] = day
            same_day = state.assigned_day[new] == day
            state.exposed_second[new] = np.where(
                same_day,
                np.maximum(first_second[new], state.assigned_second[new]),
                first_second[new],
            )

    def levers(self, day: int, active_chance: NDArray[np.float64]) -> Levers:
        """Today's multipliers that plant every experiment's effects."""
        levers = Levers.neutral(len(active_chance))
        for state in self.states:
            exposed = (state.exposed_day >= 0) & (state.exposed_day <= day)
            if not exposed.any():
                continue
            after = exposed & (state.exposed_day < day)
            levers.extra_active += state.effects_of("day7_retention") * after
            levers.posts *= 1.0 + state.effects_of("posts_per_user") * exposed
            levers.reports *= 1.0 + state.effects_of("reports_per_user") * exposed
            levers.joins *= 1.0 + state.effects_of("channel_joins_per_user") * exposed
            levers.sessions *= 1.0 + state.effects_of("sessions_per_user") * exposed

        # Extra active days and extra sessions leave actions per day unchanged.
        total = np.minimum(active_chance + levers.extra_active, 1.0)
        levers.extra_active = total - active_chance
        dilution = np.divide(
            active_chance,
            total,
            out=np.ones_like(total),
            where=total > 0,
        )
        neutral = dilution / levers.sessions
        levers.actions = neutral
        levers.posts = levers.posts * neutral
        levers.reports = levers.reports * neutral
        return levers

    def observe(
        self,
        day: int,
        active_chance: NDArray[np.float64],
        per_active_day: dict[str, NDArray[np.float64]],
    ) -> None:
        """Add today's expected control outcomes of exposed users in a window.

        ``per_active_day`` maps a metric to each user's expected value on an
        active day without any experiment; a user is active on the day of
        exposure and with ``active_chance`` on later days.
        """
        for state in self.states:
            since = day - state.exposed_day
            exposed = state.exposed_day >= 0
            chance = np.where(since == 0, 1.0, active_chance)
            for metric in {effect.metric for effect in state.spec.effects}:
                first, last = METRIC_WINDOWS[metric]
                inside = exposed & (since >= first) & (since <= last)
                value = per_active_day[metric][inside] * chance[inside]
                total = state.expected_sum.get(metric, 0.0) + float(value.sum())
                state.expected_sum[metric] = total
                counted = int((exposed & (since == first)).sum())
                state.expected_n[metric] = state.expected_n.get(metric, 0) + counted

    def planted(self) -> list[tuple[ExperimentSpec, PlantedEffect, float, int]]:
        """Each effect with the summed expected control outcome and its users."""
        rows = []
        for state in self.states:
            for effect in state.spec.effects:
                rows.append(
                    (
                        state.spec,
                        effect,
                        state.expected_sum.get(effect.metric, 0.0),
                        state.expected_n.get(effect.metric, 0),
                    )
                )
        return rows
