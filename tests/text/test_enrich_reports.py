"""Enrichment writes features for new posts only; reports count them exactly."""

from __future__ import annotations

from typing import Any

import ibis
import pandas as pd
import pytest

from veedel.errors import DataError, InputError
from veedel.text import TextAnalyzer
from veedel.text.enrich import FEATURES_TABLE, enrich_posts
from veedel.text.reports import build_report, label_mix, language_mix, top_terms

POSTS = [
    ("p1", "Ich verkaufe mein Fahrrad in Köln für 80 Euro", "Köln", "c1", "2024-01-01"),
    ("p2", "Wo gibt es in Köln einen guten Bäcker?", "Köln", "c2", "2024-01-02"),
    ("p3", "Lost my keys near Central Park yesterday", "New York", "c1", "2024-01-03"),
    ("p4", "Hallo", "Köln", "c1", "2024-01-09"),
    ("p5", "", None, None, "2024-01-10"),
    ("p6", "😂😂😂", "New York", "c2", "2024-01-11"),
]


@pytest.fixture
def warehouse() -> Any:
    """An in-memory DuckDB warehouse with six posts."""
    con = ibis.duckdb.connect()
    frame = pd.DataFrame(
        POSTS, columns=["post_id", "text", "city", "channel_id", "created_at"]
    )
    frame["created_at"] = pd.to_datetime(frame["created_at"])
    con.create_table("posts", frame)
    return con


def _features(con: Any) -> pd.DataFrame:
    return con.table(FEATURES_TABLE).order_by("post_id").execute()


def test_enrich_writes_one_row_per_post(warehouse: Any, analyzer: TextAnalyzer) -> None:
    """Every post gets a row; progress reaches the total; values are the analyzer's."""
    calls: list[tuple[int, int]] = []
    result = enrich_posts(
        warehouse,
        analyzer=analyzer,
        batch_size=4,
        progress=lambda d, t: calls.append((d, t)),
    )
    assert (result.n_enriched, result.n_failed, result.n_already) == (6, 0, 0)
    assert calls == [(4, 6), (6, 6)]

    features = _features(warehouse)
    assert features.post_id.tolist() == ["p1", "p2", "p3", "p4", "p5", "p6"]
    assert features.language.tolist() == [
        "de",
        "de",
        "en",
        "unknown",
        "unknown",
        "unknown",
    ]
    assert list(features.nouns[0]) == ["Fahrrad", "Euro"]
    assert "LOC:Köln" in list(features.entities[0])
    assert list(features.entities[2]) == ["PROPN:Central Park"]
    assert features.label[0] == "buy_sell_lost_found"
    # Too short to tell the language: no label.
    assert features.label[3:].isna().all()
    assert (features.label_confidence[3:] == 0.0).all()


def test_enrich_twice_only_touches_new_posts(
    warehouse: Any, analyzer: TextAnalyzer
) -> None:
    """A second run finds nothing; a new post is the only one enriched next."""
    enrich_posts(warehouse, analyzer=analyzer)
    assert enrich_posts(warehouse, analyzer=analyzer).n_enriched == 0

    new = pd.DataFrame(
        [
            (
                "p7",
                "Morgen Klausur in Statistik",
                "Köln",
                "c1",
                pd.Timestamp("2024-01-12"),
            )
        ],
        columns=["post_id", "text", "city", "channel_id", "created_at"],
    )
    warehouse.insert("posts", new)
    result = enrich_posts(warehouse, analyzer=analyzer)
    assert (result.n_enriched, result.n_already) == (1, 6)
    assert len(_features(warehouse)) == 7


def test_enrich_limit(warehouse: Any, analyzer: TextAnalyzer) -> None:
    """limit caps one run; the rest waits for the next."""
    assert enrich_posts(warehouse, analyzer=analyzer, limit=2).n_enriched == 2
    assert enrich_posts(warehouse, analyzer=analyzer).n_enriched == 4


def test_invalid_utf8_and_long_posts_from_the_source(analyzer: TextAnalyzer) -> None:
    """A BLOB text column with invalid UTF-8 and a 10,000-character post enrich."""
    con = ibis.duckdb.connect()
    raw = con.raw_sql  # DuckDB keeps invalid bytes only in a BLOB column
    raw("CREATE TABLE posts (post_id VARCHAR, text BLOB)")
    long_post = ("Der Markt am Rathaus ist heute voll. " * 280)[:10_000]
    raw(
        "INSERT INTO posts VALUES "
        "('b1', '\\x43\\x61\\x66\\xE9 am Markt ist heute sehr voll'::BLOB), "
        f"('b2', encode('{long_post}'))"
    )
    result = enrich_posts(con, analyzer=analyzer)
    assert (result.n_enriched, result.n_failed) == (2, 0)
    features = _features(con)
    assert features.language.tolist() == ["de", "de"]
    assert "Markt" in list(features.nouns[1])


def test_enrich_without_posts_is_a_data_error(analyzer: TextAnalyzer) -> None:
    """An empty warehouse: a DataError that says what to do."""
    with pytest.raises(DataError, match="posts"):
        enrich_posts(ibis.duckdb.connect(), analyzer=analyzer)


@pytest.fixture
def features_only() -> Any:
    """Posts with hand-written features: the reports' numbers are countable."""
    con = ibis.duckdb.connect()
    posts = pd.DataFrame(
        {
            "post_id": ["a", "b", "c", "d"],
            "text": ["", "", "", ""],
            "city": ["Köln", "Köln", "Berlin", None],
            "channel_id": ["x", "y", "x", "x"],
            "created_at": pd.to_datetime(
                ["2024-01-01", "2024-01-03", "2024-01-08", "2024-01-09"]
            ),
        }
    )
    con.create_table("posts", posts)
    from veedel.text.enrich import FEATURES_SCHEMA

    features = pd.DataFrame(
        {
            "post_id": ["a", "b", "c", "d"],
            "language": ["de", "de", "en", "unknown"],
            "language_confidence": [0.9, 0.8, 0.7, 0.0],
            "nouns": [["Rad", "Markt"], ["Rad"], ["park"], []],
            "entities": [["LOC:Köln"], ["LOC:Köln", "PER:Anna"], [], []],
            "label": ["buy_sell_lost_found", "humour", "humour", None],
            "label_confidence": [0.5, 0.6, 0.7, 0.0],
            "enriched_at": pd.to_datetime(["2024-02-01"] * 4),
        }
    )
    con.create_table(FEATURES_TABLE, features, schema=FEATURES_SCHEMA)
    return con


def test_language_mix_counts_and_shares(features_only: Any) -> None:
    """2 of 4 German, 1 English, 1 unknown; per city the shares add to one."""
    overall = language_mix(features_only)
    assert overall[["language", "n"]].values.tolist() == [
        ["de", 2],
        ["en", 1],
        ["unknown", 1],
    ]
    assert overall.share.tolist() == [0.5, 0.25, 0.25]
    per_city = language_mix(features_only, by="city")
    assert per_city.groupby("group").share.sum().round(12).eq(1.0).all()
    assert set(per_city.group) == {"Köln", "Berlin", "(none)"}


def test_language_mix_per_channel_and_week_by_hand(features_only: Any) -> None:
    """Channel x: a de, c en, d unknown; y: b de. Weeks: 1 Jan de, de; 8 Jan en, ?."""
    per_channel = language_mix(features_only, by="channel_id")
    assert per_channel[["group", "language", "n"]].values.tolist() == [
        ["x", "de", 1],
        ["x", "en", 1],
        ["x", "unknown", 1],
        ["y", "de", 1],
    ]
    assert per_channel.share.round(6).tolist() == [0.333333] * 3 + [1.0]

    per_week = language_mix(features_only, by="week")
    assert per_week[["group", "language", "n", "share"]].values.tolist() == [
        ["2024-01-01", "de", 2, 1.0],
        ["2024-01-08", "en", 1, 0.5],
        ["2024-01-08", "unknown", 1, 0.5],
    ]


def test_language_mix_keeps_the_largest_groups(features_only: Any) -> None:
    """max_groups=1 keeps channel x (3 posts), the same groups as top_terms shows."""
    largest = language_mix(features_only, by="channel_id", max_groups=1)
    assert set(largest.group) == {"x"}
    assert largest.n.sum() == 3
    nouns = top_terms(features_only, "nouns", by="channel_id", max_groups=1)
    assert set(nouns.group) == set(largest.group)
    with pytest.raises(InputError, match="max_groups"):
        language_mix(features_only, by="city", max_groups=0)


def test_report_shows_the_language_mix_per_group(features_only: Any) -> None:
    """The report's table, its JSON and its rows hold the per-city shares."""
    from rich.console import Console

    report = build_report(features_only, by="city")
    assert report.language_rows() == [
        ("(none)", 1, [("unknown", 1, 1.0)]),
        ("Berlin", 1, [("en", 1, 1.0)]),
        ("Köln", 2, [("de", 2, 1.0)]),
    ]
    assert {"group": "Köln", "language": "de", "n": 2, "share": 1.0} in (
        report.to_dict()["languages_by"]
    )
    console = Console(record=True, width=100)
    console.print(report)
    text = console.export_text()
    assert "Languages per city" in text
    rows = [line.replace("│", " ").split() for line in text.splitlines()]
    assert ["Köln", "2", "de", "100%"] in rows
    assert ["(none)", "1", "unknown", "100%"] in rows


def test_top_terms_rank_within_groups(features_only: Any) -> None:
    """Köln: Rad twice, Markt once; ties ordered by term."""
    nouns = top_terms(features_only, "nouns", by="city")
    koeln = nouns[nouns.group == "Köln"]
    assert koeln[["term", "n", "rank"]].values.tolist() == [
        ["Rad", 2, 1],
        ["Markt", 1, 2],
    ]
    entities = top_terms(features_only, "entities", by="channel_id", n=1)
    assert entities[["group", "term", "n"]].values.tolist() == [
        ["x", "LOC:Köln", 1],
        ["y", "LOC:Köln", 1],
    ]


def test_label_mix_per_week(features_only: Any) -> None:
    """Week of 1 Jan: one sale, one joke; week of 8 Jan: one joke (None skipped)."""
    mix = label_mix(features_only)
    assert mix[["week", "label", "n", "share"]].values.tolist() == [
        ["2024-01-01", "buy_sell_lost_found", 1, 0.5],
        ["2024-01-01", "humour", 1, 0.5],
        ["2024-01-08", "humour", 1, 1.0],
    ]


def test_report_renders_and_serialises(features_only: Any) -> None:
    """The report holds every part, as JSON-ready values and Vega-Lite specs."""
    import json

    from rich.console import Console

    report = build_report(features_only, by="week")
    assert report.n_posts == 4
    data = report.to_dict()
    json.dumps(data)
    assert report.label_chart()["data"]["values"] == data["labels"]
    assert report.label_chart()["encoding"]["y"]["stack"] == "normalize"
    assert report.label_totals().label.tolist() == ["humour", "buy_sell_lost_found"]
    console = Console(record=True, width=100)
    console.print(report)
    assert "humour" in console.export_text()


def test_report_input_errors(features_only: Any) -> None:
    """A wrong grouping, kind or count names the field."""
    with pytest.raises(InputError, match="by"):
        top_terms(features_only, "nouns", by="street")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="kind"):
        top_terms(features_only, "verbs")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="posts must exist"):
        build_report(ibis.duckdb.connect())


def test_one_failing_post_does_not_stop_the_batch(
    warehouse: Any, analyzer: TextAnalyzer
) -> None:
    """The failing post is written without features; the others are analysed."""
    import copy

    fragile = copy.copy(analyzer)
    original = analyzer.analyze_many

    def analyze_many(texts: Any, progress: Any = None) -> Any:
        if any(text == "Hallo" for text in texts):
            raise RuntimeError("a model broke on this post")
        return original(texts, progress)

    fragile.analyze_many = analyze_many  # type: ignore[method-assign]
    result = enrich_posts(warehouse, analyzer=fragile)
    assert (result.n_enriched, result.n_failed) == (6, 1)
    features = _features(warehouse).set_index("post_id")
    assert features.loc["p4", "language"] == "unknown"
    assert features.loc["p1", "language"] == "de"
