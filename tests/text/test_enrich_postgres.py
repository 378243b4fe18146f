"""Enrichment and reports on a real PostgreSQL warehouse: same code, other engine."""

from __future__ import annotations

import pandas as pd
import pytest

from veedel.text import TextAnalyzer, build_report, enrich_posts
from veedel.text.enrich import FEATURES_TABLE
from veedel.warehouse import connect

pytestmark = pytest.mark.postgres


def test_enrich_and_report_on_postgres(
    postgres_url: str, analyzer: TextAnalyzer
) -> None:
    """Arrays, the anti-join, unnest and week truncation work on PostgreSQL."""
    con = connect(postgres_url)
    posts = pd.DataFrame(
        {
            "post_id": ["1", "2", "3"],
            "text": [
                "Ich verkaufe mein Fahrrad in Köln für 80 Euro",
                "Lost my keys near Central Park yesterday",
                "Hallo",
            ],
            "city": ["Köln", "New York", "Köln"],
            "channel_id": ["a", "b", "a"],
            "created_at": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-09"]),
        }
    )
    con.create_table("posts", posts)

    assert enrich_posts(con, analyzer=analyzer).n_enriched == 3
    assert enrich_posts(con, analyzer=analyzer).n_enriched == 0
    features = con.table(FEATURES_TABLE).order_by("post_id").execute()
    assert list(features.nouns[0]) == ["Fahrrad", "Euro"]
    assert list(features.entities[1]) == ["PROPN:Central Park"]

    report = build_report(con, by="week")
    assert report.n_posts == 3
    koeln = report.nouns[report.nouns.group == "2024-01-01"]
    assert set(koeln.term) == {"Fahrrad", "Euro", "key"}
    con.disconnect()
