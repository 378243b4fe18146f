"""The simulator: determinism, integrity and that every planted truth shows."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from veedel.errors import InputError
from veedel.warehouse import TABLES, connect
from veedel.warehouse.simulator import (
    DEFAULT_START,
    TRUTH_TABLES,
    SimulationConfig,
    simulate,
)
from veedel.warehouse.simulator.writer import STAGE_PREFIX

START = DEFAULT_START


def _sql(con: Any, query: str) -> pd.DataFrame:
    return con.sql(query).to_pandas()


def _snapshot(con: Any) -> dict[str, pd.DataFrame]:
    """Every simulated table, sorted by all its columns."""
    names = [*TABLES, *TRUTH_TABLES]
    return {
        name: con.table(name)
        .to_pandas()
        .sort_values(list(con.table(name).columns), ignore_index=True)
        for name in names
    }


@pytest.fixture(scope="module")
def small() -> Any:
    """2,000 users over 14 days."""
    con = connect("duckdb://")
    simulate(con, users=2_000, days=14, seed=7)
    return con


@pytest.fixture(scope="module")
def moderate() -> Any:
    """12,000 users over 28 days: enough for week-4 retention and effects."""
    con = connect("duckdb://")
    simulate(con, users=12_000, days=28, seed=11)
    return con


def test_same_seed_gives_identical_tables_whatever_the_chunk_size(small: Any) -> None:
    # The seed fixes every row; the insert chunk size only changes memory use.
    again = connect("duckdb://")
    simulate(again, users=2_000, days=14, seed=7, chunk_rows=3_000)
    first, second = _snapshot(small), _snapshot(again)
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name], obj=name)


def test_different_seeds_give_different_data(small: Any) -> None:
    other = connect("duckdb://")
    simulate(other, users=2_000, days=14, seed=8)
    ours = _sql(small, "SELECT text FROM posts ORDER BY post_id LIMIT 200")
    theirs = _sql(other, "SELECT text FROM posts ORDER BY post_id LIMIT 200")
    assert not ours.equals(theirs)
    counts = [
        _sql(c, "SELECT count(*) AS n FROM events")["n"][0] for c in (small, other)
    ]
    assert counts[0] != counts[1]


def test_summary_counts_match_the_tables() -> None:
    con = connect("duckdb://")
    summary = simulate(con, users=500, days=7, seed=3)
    for name, rows in summary.rows.items():
        assert con.table(name).count().execute() == rows, name
    assert summary.rows["users"] == 500
    assert summary.rows["channels"] == len(SimulationConfig().channels)
    assert summary.end == START + timedelta(days=7)


def test_rows_follow_the_canonical_schema(small: Any) -> None:
    # Same columns in the same order with the same type family (DuckDB reports
    # timestamps with their precision, the canonical schema leaves it open).
    for name, spec in TABLES.items():
        stored = small.table(name).schema()
        assert list(stored.names) == list(spec.schema.names), name
        for column, dtype in spec.schema.items():
            assert type(stored[column]) is type(dtype), (name, column)
    for name in ("users", "channels", "posts", "votes", "events"):
        sources = _sql(small, f"SELECT DISTINCT source FROM {name}")["source"]
        assert list(sources) == ["simulator"], name


def test_referential_integrity_values_and_time_range(small: Any) -> None:
    end = START + timedelta(days=14)
    checks = {
        "replies to missing posts": """
            SELECT count(*) AS n FROM posts r LEFT JOIN posts p
            ON r.parent_id = p.post_id
            WHERE r.parent_id IS NOT NULL AND p.post_id IS NULL""",
        "votes on missing posts": """
            SELECT count(*) AS n FROM votes v LEFT JOIN posts p USING (post_id)
            WHERE p.post_id IS NULL""",
        "posts by missing users": """
            SELECT count(*) AS n FROM posts p LEFT JOIN users u USING (user_id)
            WHERE u.user_id IS NULL""",
        "posts in missing channels": """
            SELECT count(*) AS n FROM posts p LEFT JOIN channels c USING (channel_id)
            WHERE c.channel_id IS NULL""",
        "vote values other than +1/-1": """
            SELECT count(*) AS n FROM votes WHERE value NOT IN (1, -1)""",
        "coordinates out of range": """
            SELECT count(*) AS n FROM posts WHERE latitude NOT BETWEEN -90 AND 90
            OR longitude NOT BETWEEN -180 AND 180 OR latitude IS NULL""",
        "replies before their post": """
            SELECT count(*) AS n FROM posts r JOIN posts p ON r.parent_id = p.post_id
            WHERE r.created_at <= p.created_at""",
        "votes before their post": """
            SELECT count(*) AS n FROM votes v JOIN posts p USING (post_id)
            WHERE v.created_at <= p.created_at""",
        "events before sign-up": """
            SELECT count(*) AS n FROM events e JOIN users u USING (user_id)
            WHERE e.timestamp < u.created_at""",
        "exposures before assignment": """
            SELECT count(*) AS n FROM exposures x JOIN assignments a
            USING (experiment_id, user_id, variant)
            WHERE x.exposed_at < a.assigned_at""",
        "exposures without assignment": """
            SELECT count(*) AS n FROM exposures x LEFT JOIN assignments a
            USING (experiment_id, user_id, variant) WHERE a.user_id IS NULL""",
        "duplicate post ids": """
            SELECT count(*) - count(DISTINCT post_id) AS n FROM posts""",
        "duplicate event ids": """
            SELECT count(*) - count(DISTINCT event_id) AS n FROM events""",
    }
    for what, query in checks.items():
        assert _sql(small, query)["n"][0] == 0, what

    for table, column in [
        ("users", "created_at"),
        ("posts", "created_at"),
        ("votes", "created_at"),
        ("events", "timestamp"),
        ("assignments", "assigned_at"),
        ("exposures", "exposed_at"),
    ]:
        bounds = _sql(
            small, f"SELECT min({column}) AS lo, max({column}) AS hi FROM {table}"
        )
        assert bounds["lo"][0] >= pd.Timestamp(START), table
        assert bounds["hi"][0] < pd.Timestamp(end), table


def test_post_coordinates_lie_near_the_authors_city(small: Any) -> None:
    config = SimulationConfig()
    centres = pd.DataFrame(
        {
            "city": [c.name for c in config.cities],
            "lat0": [c.latitude for c in config.cities],
            "lon0": [c.longitude for c in config.cities],
        }
    )
    posts = _sql(small, "SELECT city, latitude, longitude FROM posts")
    merged = posts.merge(centres, on="city")
    assert len(merged) == len(posts)
    km_north = (merged["latitude"] - merged["lat0"]) * 111.32
    # Home (4 km) plus post (1.5 km) jitter: 8 sigma is about 34 km.
    assert km_north.abs().max() < 35
    assert 3.0 < km_north.std() < 5.5


def test_texts_follow_the_users_language(small: Any) -> None:
    texts = _sql(
        small,
        """SELECT u.language, p.text FROM posts p JOIN users u USING (user_id)
        WHERE p.parent_id IS NULL""",
    )
    german = texts[texts["language"] == "de"]["text"]
    english = texts[texts["language"] == "en"]["text"]
    assert german.str.contains(r"\b(der|die|das|ein|eine|Kennt|Heute)\b").mean() > 0.6
    assert english.str.contains(r"\b(the|a|an|Anyone|Today)\b").mean() > 0.6


def test_week_one_channel_joins_drive_week_four_retention_with_the_jump_at_3(
    moderate: Any,
) -> None:
    # Users whose day 27 is simulated: the launch cohort of the first day.
    rates = _sql(
        moderate,
        """
        WITH cohort AS (
            SELECT user_id, created_at, date_trunc('day', created_at) AS day0
            FROM users WHERE created_at < TIMESTAMP '2025-01-07'
        ), per_user AS (
            SELECT c.user_id,
                count(*) FILTER (WHERE e.name = 'channel_join'
                    AND e.timestamp < c.day0 + INTERVAL 7 DAY) AS joins,
                max(CASE WHEN e.name = 'app_open'
                    AND e.timestamp >= c.day0 + INTERVAL 21 DAY
                    AND e.timestamp < c.day0 + INTERVAL 28 DAY
                    THEN 1 ELSE 0 END) AS retained
            FROM cohort c JOIN events e USING (user_id)
            GROUP BY c.user_id
        )
        SELECT least(joins, 6) AS joins, count(*) AS users, avg(retained) AS rate
        FROM per_user GROUP BY 1 ORDER BY 1
        """,
    ).set_index("joins")
    truth = _sql(moderate, "SELECT * FROM truth_retention_driver")
    threshold = int(truth["threshold"][0])

    assert threshold == 3
    assert rates["users"].min() > 100
    jumps = rates["rate"].diff().dropna()
    assert jumps.idxmax() == threshold
    assert jumps[threshold] > 0.2
    assert jumps.drop(threshold).abs().max() < 0.1
    assert 0.2 < float(truth["effect"][0]) < 0.5


def test_users_post_and_join_more_in_high_affinity_channels(moderate: Any) -> None:
    rows = _sql(
        moderate,
        """
        WITH posted AS (
            SELECT user_id, channel_id, count(*) AS posts FROM posts
            WHERE parent_id IS NULL GROUP BY ALL
        ), joined AS (
            SELECT user_id, json_extract_string(properties, '$.channel_id')
                AS channel_id, count(*) AS joins
            FROM events WHERE name = 'channel_join' GROUP BY ALL
        )
        SELECT ntile(5) OVER (ORDER BY a.affinity) AS quintile,
            coalesce(p.posts, 0) AS posts, coalesce(j.joins, 0) AS joins
        FROM truth_channel_affinity a
        LEFT JOIN posted p USING (user_id, channel_id)
        LEFT JOIN joined j USING (user_id, channel_id)
        """,
    )
    means = rows.groupby("quintile")[["posts", "joins"]].mean()
    assert means["posts"].is_monotonic_increasing
    assert means["joins"].is_monotonic_increasing
    assert means["posts"][5] > 20 * means["posts"][1] + 0.1
    assert means["joins"][5] > 5 * means["joins"][1]
    sums = _sql(
        moderate,
        "SELECT sum(affinity) AS s FROM truth_channel_affinity GROUP BY user_id",
    )
    np.testing.assert_allclose(sums["s"], 1.0, rtol=1e-9)


def test_engagement_types_have_the_configured_shares(moderate: Any) -> None:
    shares = _sql(
        moderate,
        "SELECT engagement_type, count(*) / 12000 AS share FROM truth_users GROUP BY 1",
    ).set_index("engagement_type")["share"]
    for kind in SimulationConfig().engagement_types:
        assert abs(shares[kind.name] - kind.share) < 0.02, kind.name


def test_power_users_are_more_active_than_lurkers(moderate: Any) -> None:
    per_type = _sql(
        moderate,
        """SELECT t.engagement_type, count(e.event_id) / count(DISTINCT t.user_id)
        AS events_per_user
        FROM truth_users t LEFT JOIN events e USING (user_id) GROUP BY 1""",
    ).set_index("engagement_type")["events_per_user"]
    assert per_type["lurker"] < per_type["casual"] < per_type["regular"]
    assert per_type["regular"] < per_type["power"]


def test_assignments_are_balanced_by_weight(moderate: Any) -> None:
    counts = _sql(
        moderate,
        "SELECT experiment_id, variant, count(*) AS n FROM assignments GROUP BY ALL",
    )
    for spec in SimulationConfig().experiments:
        observed = counts[counts["experiment_id"] == spec.experiment_id]
        by_variant = observed.set_index("variant")["n"]
        weights = np.array([w for _, w in spec.variants])
        seen = np.array([by_variant[name] for name, _ in spec.variants])
        expected = seen.sum() * weights / weights.sum()
        p_value = stats.chisquare(seen, expected).pvalue
        assert p_value > 0.001, (spec.experiment_id, seen, expected)


def test_assignment_matches_the_experiments_randomisation(small: Any) -> None:
    from veedel.experiments.randomisation import assign

    rows = _sql(
        small,
        """SELECT user_id, variant FROM assignments
        WHERE experiment_id = 'push_notifications' ORDER BY user_id LIMIT 300""",
    )
    weights = dict(SimulationConfig().experiments[2].variants)
    for user_id, variant in rows.itertuples(index=False):
        assert assign(user_id, "push_notifications", weights) == variant


_METRICS = {
    "posts_per_user": """(SELECT count(*) FROM posts p WHERE p.user_id = x.user_id
        AND p.created_at >= x.day0 AND p.created_at < x.day0 + INTERVAL 14 DAY)""",
    "sessions_per_user": """(SELECT count(*) FROM events e
        WHERE e.user_id = x.user_id AND e.name = 'app_open'
        AND e.timestamp >= x.day0 AND e.timestamp < x.day0 + INTERVAL 14 DAY)""",
    "reports_per_user": """(SELECT count(*) FROM events e
        WHERE e.user_id = x.user_id AND e.name = 'report'
        AND e.timestamp >= x.day0 AND e.timestamp < x.day0 + INTERVAL 14 DAY)""",
    "channel_joins_per_user": """(SELECT count(*) FROM events e
        WHERE e.user_id = x.user_id AND e.name = 'channel_join'
        AND e.timestamp >= x.day0 AND e.timestamp < x.day0 + INTERVAL 7 DAY)""",
    "day7_retention": """(SELECT count(*) > 0 FROM events e
        WHERE e.user_id = x.user_id AND e.name = 'app_open'
        AND e.timestamp >= x.day0 + INTERVAL 7 DAY
        AND e.timestamp < x.day0 + INTERVAL 8 DAY)::INT""",
}


def test_planted_effects_show_in_raw_per_variant_means(moderate: Any) -> None:
    # Each observed difference is consistent with the truth (|z| < 3.5), and
    # the large planted effects are clearly away from zero at this size.
    truth = _sql(moderate, "SELECT * FROM truth_experiments")
    end = START + timedelta(days=28)
    for row in truth.itertuples():
        last_day = (
            f"TIMESTAMP '{end.isoformat()}' - INTERVAL {row.window_last_day + 1} DAY"
        )
        values = _sql(
            moderate,
            f"""
            WITH x AS (
                SELECT user_id, variant, date_trunc('day', exposed_at) AS day0
                FROM exposures WHERE experiment_id = '{row.experiment_id}'
            )
            SELECT variant, {_METRICS[row.metric]} AS value FROM x
            WHERE '{row.metric}' <> 'day7_retention' OR x.day0 <= {last_day}
            """,
        )
        control = values[values["variant"] == row.control]["value"].astype(float)
        treated = values[values["variant"] == row.variant]["value"].astype(float)
        difference = treated.mean() - control.mean()
        error = math.sqrt(control.var() / len(control) + treated.var() / len(treated))
        z_truth = (difference - row.effect_absolute) / error
        assert abs(z_truth) < 3.5, (row.experiment_id, row.metric, difference)
        if abs(row.effect_absolute) / error > 5:
            assert difference / error > 2.5, (row.experiment_id, row.metric)
        if row.experiment_id == "aa_check":
            assert abs(difference / error) < 3.0
    relative = truth.set_index(["experiment_id", "metric"])["effect_relative"]
    assert relative["feed_ranking_v2", "posts_per_user"] == pytest.approx(0.05)
    assert relative["onboarding_checklist", "channel_joins_per_user"] == pytest.approx(
        0.08
    )
    assert relative["push_notifications", "reports_per_user"] == pytest.approx(0.20)


def test_truth_control_means_match_the_control_arms(moderate: Any) -> None:
    # The expected control mean in the truth table is what the control arm shows.
    truth = _sql(
        moderate,
        """SELECT control_mean FROM truth_experiments
        WHERE experiment_id = 'onboarding_checklist'""",
    )
    observed = _sql(
        moderate,
        f"""
        WITH x AS (
            SELECT user_id, date_trunc('day', exposed_at) AS day0 FROM exposures
            WHERE experiment_id = 'onboarding_checklist' AND variant = 'control'
        )
        SELECT avg({_METRICS["channel_joins_per_user"]}) AS mean FROM x
        """,
    )
    assert observed["mean"][0] == pytest.approx(truth["control_mean"][0], rel=0.05)


def test_experiments_have_a_pre_period(moderate: Any) -> None:
    # Users active before an experiment starts give CUPED its covariate.
    pre = _sql(
        moderate,
        """
        SELECT count(DISTINCT a.user_id) AS n FROM assignments a
        JOIN events e ON e.user_id = a.user_id AND e.timestamp < a.assigned_at
        WHERE a.experiment_id = 'feed_ranking_v2'
        """,
    )
    assert pre["n"][0] > 4_000


def test_a_failed_run_leaves_the_warehouse_as_it_was() -> None:
    con = connect("duckdb://")
    simulate(con, users=300, days=5, seed=1)
    before = _snapshot(con)

    def fail(done: int, total: int) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        simulate(con, users=3_000, days=5, seed=2, progress=fail)
    after = _snapshot(con)
    for name in before:
        pd.testing.assert_frame_equal(before[name], after[name], obj=name)
    assert not [t for t in con.list_tables() if t.startswith(STAGE_PREFIX)]


def test_a_second_run_replaces_only_simulated_rows() -> None:
    con = connect("duckdb://")
    simulate(con, users=200, days=3, seed=1)
    con.raw_sql("INSERT INTO users (user_id, source) VALUES ('se:1', 'stackexchange')")
    summary = simulate(con, users=100, days=3, seed=2)
    users = _sql(con, "SELECT source, count(*) AS n FROM users GROUP BY 1")
    counts = dict(zip(users["source"], users["n"], strict=True))
    assert counts == {"simulator": 100, "stackexchange": 1}
    assert con.table("truth_users").count().execute() == summary.rows["truth_users"]


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("users", {"users": 0}),
        ("days", {"days": 0}),
        ("seed", {"seed": -1}),
        ("start", {"start": date(2999, 1, 1)}),
    ],
)
def test_bad_parameters_raise_input_errors_naming_the_field(
    field: str, kwargs: dict[str, Any]
) -> None:
    con = connect("duckdb://")
    with pytest.raises(InputError) as caught:
        simulate(con, **kwargs)
    assert caught.value.field == field
    assert con.list_tables() == []


@pytest.mark.postgres
def test_postgres_gets_the_same_rows_as_duckdb(postgres_url: str) -> None:
    # The same seed gives the same rows on another engine; a second run swaps
    # in place and keeps rows of other sources.
    pg = connect(postgres_url)
    simulate(pg, users=300, days=5, seed=4)
    duck = connect("duckdb://")
    simulate(duck, users=300, days=5, seed=4)
    for name in ("posts", "votes", "exposures", "truth_experiments"):
        theirs, ours = _snapshot_one(pg, name), _snapshot_one(duck, name)
        pd.testing.assert_frame_equal(theirs, ours, obj=name, check_dtype=False)

    pg.raw_sql("INSERT INTO users (user_id, source) VALUES ('se:1', 'stackexchange')")
    simulate(pg, users=100, days=3, seed=2)
    users = _sql(pg, "SELECT source, count(*) AS n FROM users GROUP BY 1")
    counts = dict(zip(users["source"], users["n"], strict=True))
    assert counts == {"simulator": 100, "stackexchange": 1}
    pg.disconnect()


def _snapshot_one(con: Any, name: str) -> pd.DataFrame:
    table = con.table(name)
    frame = table.to_pandas().sort_values(list(table.columns), ignore_index=True)
    for column in frame.columns:
        if str(frame[column].dtype).startswith("datetime64"):
            frame[column] = frame[column].astype("datetime64[us]")
    return frame


def test_cli_simulates_and_prints_the_summary(tmp_path: Any) -> None:
    import json
    import re

    from typer.testing import CliRunner

    from veedel.cli.main import app

    url = f"duckdb://{tmp_path / 'w.duckdb'}"
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["simulate", "--users", "150", "--days", "4", "--seed", "3", "-w", url],
    )
    assert result.exit_code == 0, result.output
    assert "Simulated 150 users over 4 days" in result.output
    assert "truth_experiments" in result.output

    as_json = runner.invoke(
        app, ["simulate", "-n", "150", "-d", "4", "-s", "3", "-w", url, "-f", "json"]
    )
    # Log lines share the console; the JSON document starts at its own line.
    document = as_json.output[re.search(r"^\{", as_json.output, re.M).start() :]
    summary = json.loads(document)
    assert summary["rows"]["users"] == 150
    assert summary["start"] == "2025-01-06"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--users", "0"], "users must be a whole number"),
        (["--start", "06.01.2025"], "--start must be a date written YYYY-MM-DD"),
    ],
)
def test_cli_rejects_bad_input_with_a_clear_message(
    tmp_path: Any, arguments: list[str], message: str
) -> None:
    from typer.testing import CliRunner

    from veedel.cli.main import app

    url = f"duckdb://{tmp_path / 'w.duckdb'}"
    result = CliRunner().invoke(app, ["simulate", "-w", url, *arguments])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_an_effect_the_simulator_cannot_plant_is_an_input_error() -> None:
    from dataclasses import replace

    from veedel.warehouse.simulator import PlantedEffect

    config = SimulationConfig()
    feed = config.experiments[0]
    wrong = PlantedEffect("treatment", "day7_retention", "relative", 0.1, "x")
    broken = replace(config, experiments=(replace(feed, effects=(wrong,)),))
    con = connect("duckdb://")
    with pytest.raises(InputError) as caught:
        simulate(con, users=10, days=2, config=broken)
    assert caught.value.field == "effect kind"
    assert "feed_ranking_v2" in str(caught.value)
