"""The demo's first step: the warehouse from bundled real data and a simulation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

from veedel.cli.console import console

if TYPE_CHECKING:
    from veedel.cli.demo import DemoContext

__all__ = ["build_demo_warehouse"]


def _bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def build_demo_warehouse(ctx: DemoContext) -> None:
    """Ingest the bundled Stack Exchange and Reddit data, then simulate.

    Both parts are idempotent: ingest adds only new keys, and the simulator
    replaces only its own rows, so running the demo twice gives the same
    warehouse.
    """
    from veedel.warehouse.ingest import bundled_files, ingest_bundled
    from veedel.warehouse.simulator import simulate

    total = sum(path.stat().st_size for path in bundled_files())
    with _bar() as bar:
        task = bar.add_task("Ingesting bundled real data", total=total)
        summaries = ingest_bundled(
            ctx.warehouse, progress=lambda n: bar.advance(task, n)
        )
    for summary in summaries:
        console.print(summary)

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        task = bar.add_task(
            f"Simulating {ctx.users:,} users over {ctx.days} days", total=None
        )
        result = simulate(
            ctx.warehouse,
            users=ctx.users,
            days=ctx.days,
            seed=ctx.seed,
            progress=lambda done, of: bar.update(task, completed=done, total=of),
        )
    console.print(result)
    ctx.results["ingest"] = summaries
    ctx.results["simulation"] = result
