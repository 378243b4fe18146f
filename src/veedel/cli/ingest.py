"""``veedel ingest``: load Stack Exchange dumps, Reddit CSVs and mapped files."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from veedel.cli.console import console
from veedel.settings import get_settings

__all__ = ["app"]

app = typer.Typer(
    help=(
        "Load real data into the warehouse: a Stack Exchange dump, Reddit export"
        " CSVs, or CSV/Parquet files described by a YAML mapping. Every ingest is"
        " idempotent (a second run adds nothing) and all-or-nothing.\n\n"
        "Example: veedel ingest stackexchange ./dumps/conlang"
    ),
    no_args_is_help=True,
)


class OutputFormat(StrEnum):
    """How the summary is printed."""

    table = "table"
    json = "json"


SkipOption = Annotated[
    bool,
    typer.Option(
        "--skip-bad-rows",
        help="Set bad rows aside in a rejects file instead of stopping at the first.",
    ),
]
RejectsOption = Annotated[
    Path | None,
    typer.Option(
        "--rejects",
        help=(
            "File for rejected rows with their reason, .csv or .jsonl (default:"
            " <data folder>/rejects/ingest-<source>-<time>.jsonl)."
        ),
        show_default=False,
    ),
]
WarehouseOption = Annotated[
    str | None,
    typer.Option(
        "--warehouse",
        "-w",
        help=(
            "Warehouse URL, e.g. duckdb://veedel-data/warehouse.duckdb or "
            "postgres://user:pw@host:5432/db (default: VEEDEL_WAREHOUSE_URL, "
            "veedel.toml, else the DuckDB file in the data folder)."
        ),
        show_default=False,
    ),
]
FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="Print a table or JSON.", case_sensitive=False),
]


@app.command("stackexchange")
def stackexchange_command(
    directory: Annotated[
        Path,
        typer.Argument(
            help="Dump folder with Posts.xml, Users.xml, Votes.xml, ...",
            exists=True,
            file_okay=False,
        ),
    ],
    site: Annotated[
        str | None,
        typer.Option(help="Site name used in ids (default: the folder name)."),
    ] = None,
    skip_bad_rows: SkipOption = False,
    rejects: RejectsOption = None,
    warehouse: WarehouseOption = None,
    output_format: FormatOption = OutputFormat.table,
) -> None:
    """Load a Stack Exchange data dump folder.

    Tags become channels, questions posts, answers and comments replies, up
    and down votes votes, and favourites, badges, post links and edits events.

    Example: veedel ingest stackexchange ./dumps/conlang --skip-bad-rows
    """
    from veedel.warehouse.ingest import dump_files, ingest_stackexchange

    con = _connect(warehouse)
    name = site or directory.resolve().name
    rejects = _rejects_path(rejects, skip_bad_rows, f"stackexchange-{name}")
    with _progress(dump_files(directory), f"Reading {name}") as advance:
        summary = ingest_stackexchange(
            con,
            directory,
            site=site,
            skip_bad_rows=skip_bad_rows,
            rejects=rejects,
            progress=advance,
        )
    _show(summary, output_format)


@app.command("reddit")
def reddit_command(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Reddit export CSV files; each file becomes one channel.",
            exists=True,
            dir_okay=False,
        ),
    ],
    skip_bad_rows: SkipOption = False,
    rejects: RejectsOption = None,
    warehouse: WarehouseOption = None,
    output_format: FormatOption = OutputFormat.table,
) -> None:
    """Load Reddit export CSVs (id, title, created_utc, score, selftext, ...).

    Each file is a channel named after it; each record a post with its title
    and text, score and time. The export has no authors and no single votes.

    Example: veedel ingest reddit exports/berlin.csv exports/paris.csv
    """
    from veedel.warehouse.ingest import ingest_reddit

    con = _connect(warehouse)
    rejects = _rejects_path(rejects, skip_bad_rows, "reddit")
    with _progress(files, "Reading Reddit files") as advance:
        summary = ingest_reddit(
            con,
            files,
            skip_bad_rows=skip_bad_rows,
            rejects=rejects,
            progress=advance,
        )
    _show(summary, output_format)


@app.command("files")
def files_command(
    mapping: Annotated[
        Path,
        typer.Argument(
            help="YAML mapping naming tables, files, columns and constants.",
            exists=True,
            dir_okay=False,
        ),
    ],
    skip_bad_rows: SkipOption = False,
    rejects: RejectsOption = None,
    warehouse: WarehouseOption = None,
    output_format: FormatOption = OutputFormat.table,
) -> None:
    """Load CSV or Parquet files as a YAML mapping describes them.

    See docs/ingest.md for the mapping format; it is checked before any file
    is read.

    Example: veedel ingest files app-export.yaml --skip-bad-rows --rejects bad.csv
    """
    from veedel.warehouse.ingest import ingest_files, read_mapping

    con = _connect(warehouse)
    paths = [path for spec in read_mapping(mapping) for path in spec.files]
    rejects = _rejects_path(rejects, skip_bad_rows, f"files-{mapping.stem}")
    with _progress(paths, f"Reading {mapping.name}") as advance:
        summary = ingest_files(
            con,
            mapping,
            skip_bad_rows=skip_bad_rows,
            rejects=rejects,
            progress=advance,
        )
    _show(summary, output_format)


def _connect(url: str | None) -> Any:
    from veedel.warehouse import connect

    return connect(get_settings(warehouse_url=url).resolved_warehouse_url())


def _rejects_path(path: Path | None, skip_bad_rows: bool, label: str) -> Path | None:
    """The rejects file: as given, or a fresh one in the data folder."""
    if path is not None or not skip_bad_rows:
        return path
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return get_settings().data_dir / "rejects" / f"ingest-{label}-{stamp}.jsonl"


@contextmanager
def _progress(files: Sequence[Path], label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar over the bytes of ``files``; yields the advance callback."""
    total = sum(path.stat().st_size for path in files if path.is_file())
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def _show(summary: Any, output_format: OutputFormat) -> None:
    if output_format is OutputFormat.json:
        console.print_json(json.dumps(summary.to_dict()))
        return
    console.print(summary)
