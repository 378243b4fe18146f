"""The users of one block: where they live, what they speak, what they like.

Private to the simulator: callers pass validated parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from veedel.warehouse.simulator.config import SimulationConfig

__all__ = ["KM_PER_DEGREE", "Population", "draw_population", "draw_seconds"]

KM_PER_DEGREE = 111.32
SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class Population:
    """Users of one block, one array element per user.

    ``kind`` indexes ``config.engagement_types``, ``city`` indexes
    ``config.cities`` and ``language`` indexes :attr:`languages`.
    ``join_order`` lists each user's channels in the order they will join them.
    """

    index: NDArray[np.int64]
    user_ids: list[str]
    signup_day: NDArray[np.int64]
    signup_second: NDArray[np.int64]
    kind: NDArray[np.int64]
    city: NDArray[np.int64]
    latitude: NDArray[np.float64]
    longitude: NDArray[np.float64]
    language: NDArray[np.int64]
    languages: tuple[str, ...]
    join_propensity: NDArray[np.float64]
    affinity: NDArray[np.float64]
    affinity_cdf: NDArray[np.float64]
    join_order: NDArray[np.int64]

    @property
    def n(self) -> int:
        """Number of users in the block."""
        return len(self.index)


def user_id_of(index: int) -> str:
    """The id of the simulated user with global index ``index``."""
    return f"sim-u{index:07d}"


def draw_seconds(
    rng: np.random.Generator, hourly: NDArray[np.float64], size: int
) -> NDArray[np.int64]:
    """Seconds into the day, drawn from an hourly weight profile."""
    hour = rng.choice(24, size=size, p=hourly)
    return hour * 3_600 + rng.integers(0, 3_600, size=size)


def jitter(
    rng: np.random.Generator,
    latitude: NDArray[np.float64],
    longitude: NDArray[np.float64],
    km: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Coordinates moved by a Gaussian step of ``km`` per axis."""
    size = len(latitude)
    lat = latitude + rng.normal(0.0, km / KM_PER_DEGREE, size)
    lon_scale = KM_PER_DEGREE * np.cos(np.radians(latitude))
    lon = longitude + rng.normal(0.0, 1.0, size) * km / lon_scale
    return np.clip(lat, -90.0, 90.0), (lon + 180.0) % 360.0 - 180.0


def draw_population(
    rng: np.random.Generator,
    config: SimulationConfig,
    first_index: int,
    n: int,
    days: int,
) -> Population:
    """Draw ``n`` users with global indices from ``first_index`` on."""
    index = np.arange(first_index, first_index + n, dtype=np.int64)
    hourly = np.asarray(config.hourly_weights, dtype=np.float64)
    hourly = hourly / hourly.sum()

    # A launch cohort signs up in the first days; the others over the period.
    launch = rng.random(n) < config.launch_share
    launch_days = min(config.launch_days, days)
    signup_day = np.where(
        launch,
        rng.integers(0, launch_days, size=n),
        rng.integers(0, days, size=n),
    ).astype(np.int64)
    signup_second = draw_seconds(rng, hourly, n)

    kind_share = np.array([t.share for t in config.engagement_types])
    kind = rng.choice(len(kind_share), size=n, p=kind_share / kind_share.sum())
    city_share = np.array([c.share for c in config.cities])
    city = rng.choice(len(city_share), size=n, p=city_share / city_share.sum())

    centre_lat = np.array([c.latitude for c in config.cities])[city]
    centre_lon = np.array([c.longitude for c in config.cities])[city]
    latitude, longitude = jitter(rng, centre_lat, centre_lon, config.home_jitter_km)

    languages = tuple(sorted({c.language for c in config.cities}))
    city_language = np.array([languages.index(c.language) for c in config.cities])
    language = city_language[city]
    if len(languages) > 1:
        switch = rng.random(n) < config.second_language_share
        shift = rng.integers(1, len(languages), size=n)
        language = np.where(switch, (language + shift) % len(languages), language)

    popularity = np.array([c.popularity for c in config.channels])
    alpha = config.affinity_concentration * popularity / popularity.sum()
    affinity = rng.dirichlet(alpha, size=n)
    affinity = np.maximum(affinity, 1e-12)
    affinity /= affinity.sum(axis=1, keepdims=True)

    # Gumbel top-k: sorting log-affinity plus Gumbel noise draws channels
    # without replacement with chances proportional to affinity.
    keys = np.log(affinity) + rng.gumbel(size=affinity.shape)
    join_order = np.argsort(-keys, axis=1).astype(np.int64)

    propensity = rng.lognormal(0.0, config.join_propensity_sigma, size=n)
    return Population(
        index=index,
        user_ids=[user_id_of(int(i)) for i in index],
        signup_day=signup_day,
        signup_second=signup_second.astype(np.int64),
        kind=kind.astype(np.int64),
        city=city.astype(np.int64),
        latitude=latitude,
        longitude=longitude,
        language=language.astype(np.int64),
        languages=languages,
        join_propensity=propensity,
        affinity=affinity,
        affinity_cdf=np.cumsum(affinity, axis=1),
        join_order=join_order,
    )
