"""A tiny hand-made community for the experiment tests (seeded, fast).

Users are assigned with veedel's own salted hash; the treatment raises app
opens by a known factor, so tests know the truth. The same frames load into
DuckDB, PostgreSQL and Spark, for the cross-engine checks.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from veedel.experiments.randomisation import assign_many

START = dt.date(2026, 3, 2)
AS_OF = dt.date(2026, 3, 22)
DAYS = 21

EXPERIMENT_YAML = """
key: tiny_test
name: Tiny test
hypothesis: More nudges, more sessions.
owner: tests@example.org
variants:
  - {key: control, weight: 1, control: true}
  - {key: treatment, weight: 1}
assignment: {source: exposures, experiment_id: tiny_test}
start: 2026-03-02
end: 2026-03-15
metrics:
  primary: [sessions_per_user]
  guardrails: [{metric: reports_per_user, margin: 0.1}]
  secondary: [day1_retention, votes_per_post, posting_rate]
slices: [city]
analysis:
  alpha: 0.05
  cuped: {enabled: true, pre_period_days: 7}
"""


def community_frames(
    users: int = 400, seed: int = 7, lift: float = 0.3, doubles: int = 5
) -> dict[str, pd.DataFrame]:
    """Canonical tables of a small community with one experiment, ``tiny_test``.

    Treatment users open the app ``1 + lift`` times as often after exposure.
    ``doubles`` users also appear in both variants (they must be excluded).
    """
    rng = np.random.default_rng(seed)
    ids = [f"u{i:05d}" for i in range(users)]
    cities = rng.choice(["Berlin", "Hamburg", "Köln"], size=users)
    user_frame = pd.DataFrame(
        {
            "user_id": ids,
            "created_at": pd.Timestamp("2026-01-01"),
            "city": cities,
            "latitude": 52.5,
            "longitude": 13.4,
            "language": "de",
            "location_text": None,
            "source": "test",
        }
    )
    variants = assign_many(ids, "tiny_test", {"control": 1, "treatment": 1})
    start = pd.Timestamp(START)
    exposure_offsets = rng.uniform(0, 14 * 86400, size=users).astype(int)
    exposed = start + pd.to_timedelta(exposure_offsets, unit="s")
    exposures = pd.DataFrame(
        {
            "experiment_id": "tiny_test",
            "user_id": ids,
            "variant": variants,
            "exposed_at": exposed,
        }
    )
    twice = exposures.iloc[:doubles].copy()
    twice["variant"] = np.where(twice["variant"] == "control", "treatment", "control")
    twice["exposed_at"] = twice["exposed_at"] + pd.Timedelta(hours=1)
    exposures = pd.concat([exposures, twice], ignore_index=True)
    assignments = exposures.rename(columns={"exposed_at": "assigned_at"})

    events, posts, votes = _activity(rng, ids, variants, exposed, lift)
    return {
        "users": user_frame,
        "channels": pd.DataFrame(
            {
                "channel_id": ["c1"],
                "name": ["general"],
                "created_at": [start],
                "source": ["test"],
            }
        ),
        "posts": posts,
        "votes": votes,
        "events": events,
        "assignments": assignments,
        "exposures": exposures,
    }


def _activity(
    rng: np.random.Generator,
    ids: list[str],
    variants: list[str],
    exposed: pd.DatetimeIndex,
    lift: float,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    event_rows: list[tuple[str, str, pd.Timestamp]] = []
    post_rows: list[tuple[str, str, pd.Timestamp]] = []
    start = pd.Timestamp(START) - pd.Timedelta(days=7)
    for user, variant, first in zip(ids, variants, exposed, strict=True):
        activity = rng.gamma(2.0, 0.5)
        for day in range(DAYS + 7):
            moment = start + pd.Timedelta(days=day)
            rate = activity * (
                1 + lift if variant == "treatment" and moment >= first else 1
            )
            for _ in range(rng.poisson(rate)):
                when = moment + pd.Timedelta(seconds=int(rng.integers(0, 86400)))
                event_rows.append((user, "app_open", when))
                if rng.random() < 0.05:
                    event_rows.append((user, "report", when))
                if rng.random() < 0.2:
                    post_rows.append((user, f"p{len(post_rows)}", when))
    events = pd.DataFrame(event_rows, columns=["user_id", "name", "timestamp"])
    events.insert(0, "event_id", [f"e{i}" for i in range(len(events))])
    events["properties"] = None
    events["source"] = "test"
    posts = pd.DataFrame(post_rows, columns=["user_id", "post_id", "created_at"])
    posts = posts[["post_id", "user_id", "created_at"]].assign(
        channel_id="c1",
        parent_id=None,
        latitude=52.5,
        longitude=13.4,
        city="Berlin",
        text="hallo",
        image_ref=None,
        score=0,
        source="test",
    )
    n_votes = len(posts) * 2
    voted = posts.sample(n=n_votes, replace=True, random_state=int(rng.integers(1e9)))
    votes = pd.DataFrame(
        {
            "vote_id": [f"v{i}" for i in range(n_votes)],
            "post_id": voted["post_id"].to_numpy(),
            "user_id": rng.choice(ids, size=n_votes),
            "value": rng.choice([1, -1], size=n_votes).astype("int8"),
            "created_at": voted["created_at"].to_numpy() + np.timedelta64(3600, "s"),
            "source": "test",
        }
    )
    return events, posts, votes


def load_into(con: Any, frames: dict[str, pd.DataFrame]) -> None:
    """Create (or replace) the canonical tables in ``con`` from ``frames``."""
    import ibis

    from veedel.warehouse.schema import TABLES

    for name, frame in frames.items():
        schema = TABLES[name].schema
        rows = ibis.memtable(frame[list(schema.names)], schema=schema)
        con.create_table(name, rows, overwrite=True)
