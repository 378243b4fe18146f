"""Arrow tables in the canonical schema from one simulated block.

Private to the simulator. Ids are prefixed ``sim-`` and numbered per block,
so they are unique and do not clash with ingested data.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from veedel.warehouse.schema import TABLES
from veedel.warehouse.simulator.activity import EVENT_NAMES, BlockActivity
from veedel.warehouse.simulator.config import SimulationConfig
from veedel.warehouse.simulator.population import SECONDS_PER_DAY

__all__ = ["SOURCE", "block_records"]

SOURCE = "simulator"
_MICROS = 1_000_000


def _ids(prefix: str, numbers: NDArray[np.int64]) -> pa.Array:
    """``prefix`` followed by each number; null where the number is negative."""
    values = pa.array(numbers, mask=numbers < 0, type=pa.int64())
    return pc.binary_join_element_wise(prefix, pc.cast(values, pa.string()), "")


def _timestamps(start_us: int, micros: NDArray[np.int64]) -> pa.Array:
    return pa.array(start_us + micros, type=pa.timestamp("us"))


def _constant(value: str, n: int) -> pa.Array:
    return pa.array([value], type=pa.string()).take(pa.array(np.zeros(n, np.int64)))


def _lookup(names: list[str], index: NDArray[np.int64]) -> pa.Array:
    """Strings picked by index; null where the index is negative."""
    picked = pa.array(names, type=pa.string()).take(pa.array(np.maximum(index, 0)))
    if (index < 0).any():
        picked = pc.if_else(pa.array(index < 0), pa.scalar(None, pa.string()), picked)
    return picked


def _table(name: str, columns: dict[str, pa.Array]) -> pa.Table:
    schema = TABLES[name].schema.to_pyarrow()
    return pa.Table.from_arrays([columns[f.name] for f in schema], schema=schema)


def block_records(
    activity: BlockActivity, config: SimulationConfig, start_us: int
) -> dict[str, pa.Table]:
    """The canonical tables' rows of one block."""
    population = activity.population
    block = activity.block
    user_ids = population.user_ids
    city_names = [city.name for city in config.cities]
    channel_ids = [channel.channel_id for channel in config.channels]
    n_users = population.n

    signup = (
        population.signup_day * SECONDS_PER_DAY + population.signup_second
    ) * _MICROS
    users = _table(
        "users",
        {
            "user_id": pa.array(user_ids, type=pa.string()),
            "created_at": _timestamps(start_us, signup),
            "city": _lookup(city_names, population.city),
            "latitude": pa.array(population.latitude),
            "longitude": pa.array(population.longitude),
            "language": _lookup(list(population.languages), population.language),
            "location_text": _lookup(city_names, population.city),
            "source": _constant(SOURCE, n_users),
        },
    )

    n_posts = len(activity.post_author)
    post_prefix = f"sim-p{block}-"
    posts = _table(
        "posts",
        {
            "post_id": _ids(post_prefix, np.arange(n_posts, dtype=np.int64)),
            "user_id": _lookup(user_ids, activity.post_author),
            "channel_id": _lookup(channel_ids, activity.post_channel),
            "parent_id": _ids(post_prefix, activity.post_parent),
            "created_at": _timestamps(start_us, activity.post_time),
            "latitude": pa.array(activity.post_latitude),
            "longitude": pa.array(activity.post_longitude),
            "city": _lookup(city_names, population.city[activity.post_author]),
            "text": pa.array(activity.post_text, type=pa.string()),
            "image_ref": pa.nulls(n_posts, pa.string()),
            "score": pa.array(activity.post_score, type=pa.int64()),
            "source": _constant(SOURCE, n_posts),
        },
    )

    n_votes = len(activity.vote_post)
    votes = _table(
        "votes",
        {
            "vote_id": _ids(f"sim-v{block}-", np.arange(n_votes, dtype=np.int64)),
            "post_id": _ids(post_prefix, activity.vote_post),
            "user_id": _lookup(user_ids, activity.vote_user),
            "value": pa.array(activity.vote_value.astype(np.int8), type=pa.int8()),
            "created_at": _timestamps(start_us, activity.vote_time),
            "source": _constant(SOURCE, n_votes),
        },
    )

    n_events = len(activity.event_user)
    channel_json = [f'{{"channel_id": "{c}"}}' for c in channel_ids]
    properties = pc.coalesce(
        _lookup(channel_json, activity.event_channel),
        pc.binary_join_element_wise(
            '{"post_id": "', _ids(post_prefix, activity.event_post), '"}', ""
        ),
    )
    events = _table(
        "events",
        {
            "event_id": _ids(f"sim-e{block}-", np.arange(n_events, dtype=np.int64)),
            "user_id": _lookup(user_ids, activity.event_user),
            "name": _lookup(list(EVENT_NAMES), activity.event_name),
            "timestamp": _timestamps(start_us, activity.event_time),
            "properties": properties,
            "source": _constant(SOURCE, n_events),
        },
    )

    assignments, exposures = _experiment_records(activity, start_us)
    return {
        "users": users,
        "posts": posts,
        "votes": votes,
        "events": events,
        "assignments": assignments,
        "exposures": exposures,
    }


def _experiment_records(
    activity: BlockActivity, start_us: int
) -> tuple[pa.Table, pa.Table]:
    """Assignment and first-exposure rows of every experiment of a block."""
    user_ids = activity.population.user_ids
    assigned_parts, exposed_parts = [], []
    for state in activity.experiments.states:
        variants = [name for name, _ in state.spec.variants]
        who = np.flatnonzero(state.variant >= 0)
        at = state.assigned_day[who] * SECONDS_PER_DAY + state.assigned_second[who]
        assigned_parts.append(
            _table(
                "assignments",
                {
                    "experiment_id": _constant(state.spec.experiment_id, len(who)),
                    "user_id": _lookup(user_ids, who),
                    "variant": _lookup(variants, state.variant[who]),
                    "assigned_at": _timestamps(start_us, at * _MICROS),
                },
            )
        )
        seen = np.flatnonzero(state.exposed_day >= 0)
        at = state.exposed_day[seen] * SECONDS_PER_DAY + state.exposed_second[seen]
        exposed_parts.append(
            _table(
                "exposures",
                {
                    "experiment_id": _constant(state.spec.experiment_id, len(seen)),
                    "user_id": _lookup(user_ids, seen),
                    "variant": _lookup(variants, state.variant[seen]),
                    "exposed_at": _timestamps(start_us, at * _MICROS),
                },
            )
        )
    empty_assigned = TABLES["assignments"].schema.to_pyarrow().empty_table()
    empty_exposed = TABLES["exposures"].schema.to_pyarrow().empty_table()
    return (
        pa.concat_tables(assigned_parts) if assigned_parts else empty_assigned,
        pa.concat_tables(exposed_parts) if exposed_parts else empty_exposed,
    )
