"""The warehouse pipeline against a hand-written pandas computation."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from community import AS_OF, load_into

from veedel.experiments import stats
from veedel.experiments.analysis import analyze
from veedel.experiments.comparison import (
    arm_stats,
    compare_rows,
    cumulative_rows,
    metric_totals,
    planned_n,
)
from veedel.experiments.definitions import ExperimentDefinition
from veedel.experiments.metrics import starter_metrics
from veedel.experiments.pipeline import compute_cells, metric_columns, unit_counts


def _reference_units(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    exposures = frames["exposures"]
    start = pd.Timestamp("2026-03-02")
    stop = pd.Timestamp("2026-03-16")  # the day after the end date
    rows = exposures[(exposures.exposed_at >= start) & (exposures.exposed_at < stop)]
    per_user = rows.groupby("user_id").agg(
        n_variants=("variant", "nunique"),
        variant=("variant", "min"),
        first=("exposed_at", "min"),
    )
    units = per_user[per_user.n_variants == 1].copy()
    units["day0"] = units["first"].dt.floor("D")
    units["exposure_day"] = (units["day0"] - start).dt.days
    return units


def _reference_sessions(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Sessions per user in days 0-13 after exposure, by pandas, per user."""
    units = _reference_units(frames)
    events = frames["events"]
    opens = events[events.name == "app_open"].merge(
        units[["day0"]], left_on="user_id", right_index=True
    )
    inside = (opens.timestamp >= opens.day0) & (
        opens.timestamp < opens.day0 + pd.Timedelta(days=14)
    )
    inside &= opens.timestamp < pd.Timestamp(AS_OF) + pd.Timedelta(days=1)
    counts = opens[inside].groupby("user_id").size()
    units["y"] = counts.reindex(units.index, fill_value=0).astype(float)
    return units


def test_units_exclude_and_count_users_in_two_variants(
    tiny_duckdb: Any, tiny_definition: ExperimentDefinition
) -> None:
    """The five users planted in both variants are dropped and counted."""
    counts = unit_counts(tiny_duckdb, tiny_definition, AS_OF)
    assert counts.multi_variant == 5
    assert counts.unknown_variant == 0
    assert sum(counts.assigned.values()) == 395


def test_cells_match_pandas_per_user_values(
    tiny_duckdb: Any,
    tiny_definition: ExperimentDefinition,
    frames: dict[str, pd.DataFrame],
) -> None:
    """n, sum and sum of squares of capped sessions equal the pandas reference."""
    library = starter_metrics()
    cells = compute_cells(tiny_duckdb, tiny_definition, library, AS_OF)
    reference = _reference_sessions(frames)
    mature = reference[reference.exposure_day + 13 <= cells.look_day]

    # The cap is the pooled 99th percentile (nearest rank) of mature users.
    values = np.sort(mature["y"].to_numpy())
    cap = values[int(np.ceil(0.99 * len(values))) - 1]
    assert cells.caps["sessions_per_user"][0] == cap

    totals = metric_totals(cells, "sessions_per_user", library["sessions_per_user"],
                           cells.look_day)  # fmt: skip
    for variant, part in mature.groupby("variant"):
        y = np.minimum(part["y"].to_numpy(), cap)
        row = totals.loc[variant]
        assert row["n"] == len(part)
        assert row["sessions_per_user__y"] == pytest.approx(y.sum(), rel=1e-12)
        assert row["sessions_per_user__yy"] == pytest.approx((y * y).sum(), rel=1e-12)


def test_slices_add_up_to_the_total(
    tiny_duckdb: Any, tiny_definition: ExperimentDefinition
) -> None:
    """Per-city sums add up to the overall sums (one group-by serves both)."""
    library = starter_metrics()
    cells = compute_cells(tiny_duckdb, tiny_definition, library, AS_OF)
    metric = library["day1_retention"]
    overall = metric_totals(cells, "day1_retention", metric, cells.look_day)
    by_city = metric_totals(cells, "day1_retention", metric, cells.look_day, "city")
    summed = by_city.groupby(level=0).sum()
    pd.testing.assert_frame_equal(summed, overall)


def test_last_daily_point_is_the_overall_result(
    tiny_duckdb: Any, tiny_definition: ExperimentDefinition
) -> None:
    """The cumulative effect on the analysis day equals the overall (raw) effect."""
    plain = tiny_definition.model_copy(
        update={"analysis": tiny_definition.analysis.model_copy(
            update={"cuped": tiny_definition.analysis.cuped.model_copy(
                update={"enabled": False})})}
    )  # fmt: skip
    result = analyze(tiny_duckdb, plain, starter_metrics(), AS_OF)
    for item in result.metrics:
        last = [p for p in result.daily if p.metric == item.metric][-1]
        assert last.date == AS_OF.isoformat()
        assert last.control_n == item.control_n
        assert last.effect == pytest.approx(item.relative_effect, rel=1e-12)
    # Users enter day-1 retention only once day 1 is over.
    first = [p for p in result.daily if p.metric == "day1_retention"]
    assert first[0].control_n == 0


def test_windows_are_calendar_days_from_exposure(
    tiny_duckdb: Any, tiny_definition: ExperimentDefinition
) -> None:
    """An analysis day before a window closes holds no user for that metric."""
    library = starter_metrics()
    early = tiny_definition.start + dt.timedelta(days=5)
    cells = compute_cells(tiny_duckdb, tiny_definition, library, early)
    sessions = metric_totals(cells, "sessions_per_user",
                             library["sessions_per_user"], cells.look_day)  # fmt: skip
    assert sessions["n"].sum() == 0
    day1 = metric_totals(cells, "day1_retention", library["day1_retention"],
                         cells.look_day)  # fmt: skip
    assert day1["n"].sum() > 0


def test_quantile_metric_compares_medians(
    tiny_duckdb: Any, tiny_definition: ExperimentDefinition
) -> None:
    """A median metric is compared on per-user values fetched as a histogram."""
    from veedel.experiments.metrics import load_metric_text

    library = starter_metrics()
    library.add(
        load_metric_text(
            "name: Median sessions\nkind: quantile\nquantile: 0.5\n"
            "numerator: {source: events, aggregate: count,"
            " filter: [{column: name, value: app_open}]}\nwindow: {end_day: 7}",
            key="median_sessions",
        )
    )
    definition = tiny_definition.model_copy(
        update={"metrics": tiny_definition.metrics.model_copy(
            update={"secondary": ("median_sessions",)})}
    )  # fmt: skip
    cells = compute_cells(tiny_duckdb, definition, library, AS_OF)
    values = cells.quantile_values["median_sessions"]
    result = analyze(tiny_duckdb, definition, library, AS_OF, daily=False)
    item = next(m for m in result.metrics if m.metric == "median_sessions")
    assert item.control_value == float(np.quantile(values["control"], 0.5))
    assert item.treatment_value == float(np.quantile(values["treatment"], 0.5))
    assert item.control_n == len(values["control"])


def test_sequential_chart_intervals_never_widen(
    tiny_duckdb: Any, tiny_definition: ExperimentDefinition
) -> None:
    """With sequential testing the daily intervals are running intersections."""
    settings = tiny_definition.analysis.model_copy(update={"sequential": True})
    definition = tiny_definition.model_copy(update={"analysis": settings})
    result = analyze(tiny_duckdb, definition, starter_metrics(), AS_OF)
    points = [
        p
        for p in result.daily
        if p.metric == "sessions_per_user" and p.ci_lower is not None
    ]
    assert len(points) > 2
    for before, after in itertools.pairwise(points):
        assert after.ci_lower is not None and after.ci_upper is not None
        assert before.ci_lower is not None and before.ci_upper is not None
        assert after.ci_lower >= before.ci_lower
        assert after.ci_upper <= before.ci_upper
    overall = next(m for m in result.metrics if m.metric == "sessions_per_user")
    assert overall.sentence.count("always-valid interval") == 1


def test_sequential_overall_interval_is_where_the_chart_ends(
    tiny_duckdb: Any, tiny_definition: ExperimentDefinition
) -> None:
    """Sequential overall result = the chart's running intersection on the last day.

    With CUPED off the headline interval and the effect-over-time chart are the
    same confidence sequence, so they must end on the same interval; and the
    always-valid p-value is below alpha exactly when that interval excludes 0.
    """
    settings = tiny_definition.analysis.model_copy(
        update={
            "sequential": True,
            "cuped": tiny_definition.analysis.cuped.model_copy(
                update={"enabled": False}
            ),
        }
    )
    definition = tiny_definition.model_copy(update={"analysis": settings})
    result = analyze(tiny_duckdb, definition, starter_metrics(), AS_OF)
    compared = 0
    for item in result.metrics:
        if item.relative_ci_lower is None:
            continue
        last = [p for p in result.daily if p.metric == item.metric][-1]
        assert last.ci_lower == pytest.approx(item.relative_ci_lower, rel=1e-12)
        assert last.ci_upper == pytest.approx(item.relative_ci_upper, rel=1e-12)
        assert item.p_value is not None
        excludes = item.relative_ci_lower > 0 or item.relative_ci_upper < 0
        assert excludes == (item.p_value < settings.alpha)
        compared += 1
    assert compared >= 4


def test_sequential_looks_share_one_mixing_variance(
    tiny_duckdb: Any, tiny_definition: ExperimentDefinition
) -> None:
    """Every daily look of a series uses the same tau2, tuned at the last look.

    tau2 = r s2 / N with s2 the last look's per-unit variance and N the planned
    units per arm (at least the units in so far): the docs' rule, not one
    re-derived from each day's own variance.
    """
    settings = tiny_definition.analysis.model_copy(
        update={"sequential": True, "cuped": tiny_definition.analysis.cuped.model_copy(
            update={"enabled": False})}
    )  # fmt: skip
    definition = tiny_definition.model_copy(update={"analysis": settings})
    library = starter_metrics()
    cells = compute_cells(tiny_duckdb, definition, library, AS_OF)
    metric = library["sessions_per_user"]
    names = metric_columns("sessions_per_user", metric, False)
    c_rows = cumulative_rows(cells, "sessions_per_user", metric, "control")
    t_rows = cumulative_rows(cells, "sessions_per_user", metric, "treatment")
    sequential = compare_rows(metric, names, c_rows, t_rows, definition, looks=True)
    fixed = compare_rows(metric, names, c_rows, t_rows, tiny_definition)

    tau2 = sequential.absolute.mixing_variance
    assert tau2 is not None
    ok = sequential.absolute.ok
    assert ok.sum() > 3 and np.ptp(tau2[ok]) == 0.0
    last = fixed.absolute[-1:]
    n_last = float((last.control_n[0] + last.treatment_n[0]) / 2)
    planned = planned_n(metric, arm_stats(metric, c_rows.tail(1), names), definition)
    assert planned is not None
    s2 = float(last.standard_error[0]) ** 2 * n_last
    expected = stats.tuned_mixing_variance(
        s2 / max(float(planned[0]), n_last), settings.alpha
    )
    assert tau2[-1] == pytest.approx(float(expected), rel=1e-12)


def test_filter_value_with_quotes_and_semicolons_is_a_literal(
    frames: dict[str, pd.DataFrame], tiny_definition: ExperimentDefinition
) -> None:
    """A filter value that looks like SQL is compared as a string, never spliced.

    The app-open events are renamed to a hostile string; a metric filtering on
    that string must count exactly what sessions_per_user counts on the
    original data, and the events table must still be there afterwards.
    """
    from veedel.experiments.metrics import load_metric_text
    from veedel.warehouse import connect

    hostile = "app_open'; DROP TABLE events; -- \"x\" \\' OR '1'='1"
    renamed = dict(frames)
    events = frames["events"].copy()
    events.loc[events["name"] == "app_open", "name"] = hostile
    renamed["events"] = events
    con = connect("duckdb://")
    load_into(con, renamed)

    library = starter_metrics()
    text = (
        "name: Hostile sessions\nkind: mean\nnumerator: {source: events,"
        " aggregate: count, filter: [{column: name, op: eq, value: "
        + json.dumps(hostile)
        + "}]}\nwindow: {start_day: 0, end_day: 14}\ncapping: {percentile: 0.99}"
    )
    library.add(load_metric_text(text, key="hostile_sessions"))
    assert library["hostile_sessions"].numerator.filter[0].value == hostile
    metrics = tiny_definition.metrics.model_copy(
        update={"secondary": ("hostile_sessions",)}
    )
    definition = tiny_definition.model_copy(update={"metrics": metrics})
    cells = compute_cells(con, definition, library, AS_OF)
    assert "events" in con.list_tables()

    original = connect("duckdb://")
    load_into(original, frames)
    reference = compute_cells(original, tiny_definition, starter_metrics(), AS_OF)
    got = metric_totals(
        cells, "hostile_sessions", library["hostile_sessions"], cells.look_day
    )
    want = metric_totals(
        reference, "sessions_per_user", library["sessions_per_user"],
        reference.look_day,
    )  # fmt: skip
    assert got["n"].tolist() == want["n"].tolist()
    assert got["hostile_sessions__y"].sum() > 0
    assert got["hostile_sessions__y"].tolist() == want["sessions_per_user__y"].tolist()
    assert got["hostile_sessions__yy"].tolist() == (
        want["sessions_per_user__yy"].tolist()
    )
    con.disconnect()
    original.disconnect()
