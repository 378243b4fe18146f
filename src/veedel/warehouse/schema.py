"""The canonical data model of the warehouse, declared once.

Every product reads these tables, whatever the source. Column meanings are
documented in ``docs/data-model.md``; ``truth_*`` tables written by the
simulator are described there too.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt
from ibis.expr.schema import Schema

__all__ = [
    "CANONICAL_TABLES",
    "KEYS",
    "TABLES",
    "TableSpec",
]


@dataclass(frozen=True)
class TableSpec:
    """A canonical table: its schema, key columns and a one-line purpose."""

    name: str
    schema: Schema
    key: tuple[str, ...]
    doc: str


_TS = dt.Timestamp(nullable=True)

TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in [
        TableSpec(
            "users",
            ibis.schema(
                {
                    "user_id": "!string",
                    "created_at": "timestamp",
                    "city": "string",
                    "latitude": "float64",
                    "longitude": "float64",
                    "language": "string",
                    "location_text": "string",
                    "source": "string",
                }
            ),
            ("user_id",),
            "One row per user: sign-up time, home city and coordinates where known.",
        ),
        TableSpec(
            "channels",
            ibis.schema(
                {
                    "channel_id": "!string",
                    "name": "string",
                    "created_at": "timestamp",
                    "source": "string",
                }
            ),
            ("channel_id",),
            "Topic channels (Stack Exchange tags, subreddits, app channels).",
        ),
        TableSpec(
            "posts",
            ibis.schema(
                {
                    "post_id": "!string",
                    "user_id": "string",
                    "channel_id": "string",
                    "parent_id": "string",
                    "created_at": "!timestamp",
                    "latitude": "float64",
                    "longitude": "float64",
                    "city": "string",
                    "text": "string",
                    "image_ref": "string",
                    "score": "int64",
                    "source": "string",
                }
            ),
            ("post_id",),
            "Posts and replies (parent_id set on replies) with place and text.",
        ),
        TableSpec(
            "votes",
            ibis.schema(
                {
                    "vote_id": "!string",
                    "post_id": "!string",
                    "user_id": "string",
                    "value": "!int8",
                    "created_at": "!timestamp",
                    "source": "string",
                }
            ),
            ("vote_id",),
            "Up (+1) and down (-1) votes on posts; user_id where the source has it.",
        ),
        TableSpec(
            "events",
            ibis.schema(
                {
                    "event_id": "!string",
                    "user_id": "!string",
                    "name": "!string",
                    "timestamp": "!timestamp",
                    "properties": "string",
                    "source": "string",
                }
            ),
            ("event_id",),
            "App events: app_open, feed_view, channel_join, share, report, ...;"
            " properties is a JSON object as text.",
        ),
        TableSpec(
            "assignments",
            ibis.schema(
                {
                    "experiment_id": "!string",
                    "user_id": "!string",
                    "variant": "!string",
                    "assigned_at": "!timestamp",
                }
            ),
            ("experiment_id", "user_id", "variant"),
            "Which variant of which experiment a user was assigned to, and when.",
        ),
        TableSpec(
            "exposures",
            ibis.schema(
                {
                    "experiment_id": "!string",
                    "user_id": "!string",
                    "variant": "!string",
                    "exposed_at": "!timestamp",
                }
            ),
            ("experiment_id", "user_id", "variant", "exposed_at"),
            "When a user actually saw the experiment's surface.",
        ),
    ]
}

CANONICAL_TABLES: tuple[str, ...] = tuple(TABLES)
KEYS: dict[str, tuple[str, ...]] = {name: spec.key for name, spec in TABLES.items()}
