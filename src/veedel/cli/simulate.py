"""``veedel simulate``: write a simulated community with planted truth."""

from __future__ import annotations

import json
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from veedel.cli.console import console
from veedel.errors import InputError
from veedel.settings import get_settings

__all__ = ["simulate_command"]


class OutputFormat(StrEnum):
    """How the summary is printed."""

    table = "table"
    json = "json"


def _parse_start(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise InputError(
            "--start",
            "must be a date written YYYY-MM-DD",
            text,
            fix="Write it like 2025-01-06.",
        ) from None


def simulate_command(
    users: Annotated[
        int, typer.Option("--users", "-n", help="Number of simulated users.")
    ] = 10_000,
    days: Annotated[int, typer.Option("--days", "-d", help="Days simulated.")] = 30,
    seed: Annotated[
        int,
        typer.Option("--seed", "-s", help="Seed; the same seed gives the same data."),
    ] = 0,
    start: Annotated[
        str | None,
        typer.Option(
            "--start",
            help="First simulated day, YYYY-MM-DD (default 2025-01-06).",
            show_default=False,
        ),
    ] = None,
    warehouse: Annotated[
        str | None,
        typer.Option(
            "--warehouse",
            "-w",
            help=(
                "Warehouse URL, e.g. duckdb://veedel-data/warehouse.duckdb (default:"
                " VEEDEL_WAREHOUSE_URL, veedel.toml, else the data folder's DuckDB)."
            ),
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        OutputFormat,
        typer.Option(
            "--format", "-f", help="Print a table or JSON.", case_sensitive=False
        ),
    ] = OutputFormat.table,
) -> None:
    """Simulate a location-based community with planted ground truth.

    Writes users, channels, posts, votes, events, experiment assignments and
    exposures (source 'simulator') and the truth_* tables: engagement types,
    channel affinities, the behaviour that drives retention and each
    experiment's true effect. Earlier simulated rows are replaced at once;
    rows of other sources stay. See docs/simulator.md.

    Example: veedel simulate --users 100000 --days 30 --seed 7
    """
    from veedel.warehouse import connect
    from veedel.warehouse.simulator import simulate

    first_day = _parse_start(start)
    con = connect(get_settings(warehouse_url=warehouse).resolved_warehouse_url())
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("users"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("Simulating", total=users)
        summary = simulate(
            con,
            users=users,
            days=days,
            seed=seed,
            start=first_day,
            progress=lambda done, total: bar.update(task, completed=done),
        )
    if output_format is OutputFormat.json:
        console.print_json(json.dumps(summary.to_dict()))
        return
    console.print(summary)
