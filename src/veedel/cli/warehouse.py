"""``veedel warehouse``: check the warehouse and summarise what it holds."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from veedel.cli.console import console, err_console
from veedel.errors import DataError, NotFoundError, VeedelError
from veedel.settings import get_settings

if TYPE_CHECKING:
    from veedel.cli.demo import DemoContext

__all__ = ["app", "demo_step", "open_warehouse", "summary_step"]

app = typer.Typer(
    help=(
        "Check the warehouse against the data model and summarise it.\n\n"
        "Example: veedel warehouse check"
    ),
    no_args_is_help=True,
)


class OutputFormat(StrEnum):
    """How a command prints its result."""

    table = "table"
    json = "json"


WarehouseOption = Annotated[
    str | None,
    typer.Option(
        "--warehouse",
        "-w",
        help=(
            "Warehouse URL, e.g. duckdb://veedel-data/warehouse.duckdb or "
            "postgres://user:pw@host:5432/db (default: VEEDEL_WAREHOUSE_URL, "
            "then veedel.toml, then the DuckDB file in the data folder)."
        ),
        show_default=False,
    ),
]
FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="Print a table or JSON.", case_sensitive=False),
]


def open_warehouse(url: str | None = None) -> Any:
    """Connect to an existing warehouse; a DuckDB file must already exist.

    Checking a mistyped path would otherwise create an empty database there.
    """
    from veedel.warehouse import connect

    url = get_settings(warehouse_url=url).resolved_warehouse_url()
    if url.startswith("duckdb://"):
        path = url[len("duckdb://") :]
        if path and path != ":memory:" and not Path(path).expanduser().exists():
            raise NotFoundError(
                f"There is no warehouse at {path}. Build one with `veedel demo` "
                "or `veedel ingest ...`, or pass --warehouse URL."
            )
    return connect(url)


@app.command("check")
def check_command(
    warehouse: WarehouseOption = None,
    output_format: FormatOption = OutputFormat.table,
) -> None:
    """Validate the warehouse against the canonical data model.

    Lists every violation with its count and up to five examples: missing
    tables or columns, wrong types, NULLs, duplicate keys, replies and votes
    pointing at missing posts, vote values other than +1/-1, timestamps in the
    future, coordinates out of range, unknown users and channels, users in two
    variants of one experiment. Exits 1 when any error is found (warnings alone
    exit 0) and 2 when the warehouse cannot be opened.

    Example: veedel warehouse check -w duckdb://veedel-data/warehouse.duckdb

    Example: veedel warehouse check --format json > check.json
    """
    from veedel.warehouse.check import check_warehouse

    report = check_warehouse(_open_or_exit(warehouse))
    if output_format is OutputFormat.json:
        typer.echo(report.to_json())
    else:
        console.print(report)
    if not report.ok:
        raise typer.Exit(1)


@app.command("summary")
def summary_command(
    warehouse: WarehouseOption = None,
    output_format: FormatOption = OutputFormat.table,
) -> None:
    """Show rows, date range and sources of every table in the warehouse.

    Example: veedel warehouse summary

    Example: veedel warehouse summary --format json
    """
    from veedel.warehouse.summary import summarise_warehouse

    summary = summarise_warehouse(_open_or_exit(warehouse))
    if output_format is OutputFormat.json:
        typer.echo(summary.to_json())
    else:
        console.print(summary)


def _open_or_exit(url: str | None) -> Any:
    """The warehouse, or a clear message and exit code 2."""
    try:
        return open_warehouse(url)
    except VeedelError as exc:
        err_console.print(f"[bold red]Error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None


def demo_step(ctx: DemoContext) -> None:
    """Demo step: check the demo warehouse and print the report."""
    from veedel.warehouse.check import check_warehouse

    report = check_warehouse(ctx.warehouse)
    console.print(report)
    ctx.results["warehouse_check"] = report
    if not report.ok:
        raise DataError(
            "the demo warehouse",
            "must pass veedel warehouse check",
            f"{len(report.errors)} errors",
        )


def summary_step(ctx: DemoContext) -> None:
    """Demo step: print what the demo warehouse holds."""
    from veedel.warehouse.summary import summarise_warehouse

    summary = summarise_warehouse(ctx.warehouse)
    console.print(summary)
    ctx.results["warehouse_summary"] = summary
