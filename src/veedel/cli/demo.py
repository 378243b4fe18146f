"""``veedel demo``: build the demo warehouse, run every product, serve the app.

Each product adds one step to :data:`DEMO_STEPS`. A step that fails is
reported and the others still run; the command then exits non-zero.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.rule import Rule
from sqlalchemy import Engine

from veedel.cli import experiments, images, text, warehouse
from veedel.cli.console import console
from veedel.settings import Settings, get_settings

__all__ = ["DEMO_STEPS", "DemoContext", "demo_command"]

log = logging.getLogger(__name__)


@dataclass
class DemoContext:
    """What every demo step gets: settings, the warehouse, the store, options.

    ``text_posts`` caps the posts the text step enriches per source in this
    run; None keeps the step's default (every real post, and up to
    ``DEMO_SIMULATED_POSTS`` simulated ones).
    """

    settings: Settings
    warehouse: Any
    store: Engine
    users: int
    days: int
    seed: int
    text_posts: int | None = None
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        """The folder that holds the warehouse, the store and the outputs."""
        return self.settings.data_dir


DemoStep = Callable[[DemoContext], None]


def _build_warehouse(ctx: DemoContext) -> None:
    from veedel.cli.warehouse_build import build_demo_warehouse

    build_demo_warehouse(ctx)


DEMO_STEPS: list[tuple[str, DemoStep]] = [
    ("Build the warehouse", _build_warehouse),
    ("Check the warehouse", warehouse.demo_step),
    ("Text analytics", text.demo_step),
    ("Image filter", images.demo_step),
    ("Experiments", experiments.demo_step),
    ("What is in the warehouse", warehouse.summary_step),
]


def demo_command(
    users: Annotated[
        int, typer.Option(help="Users in the simulated community.", min=100)
    ] = 20_000,
    days: Annotated[int, typer.Option(help="Days simulated.", min=7)] = 42,
    seed: Annotated[int, typer.Option(help="Seed of the simulator.")] = 7,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Folder for the warehouse and the store \\[veedel-data]."),
    ] = None,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the web app at the end.")
    ] = True,
    port: Annotated[int | None, typer.Option(help="Port of the web app.")] = None,
    text_posts: Annotated[
        int | None,
        typer.Option(
            help="Enrich at most this many new posts per source in this run "
            "(default: every real post, and "
            f"{text.DEMO_SIMULATED_POSTS:,} simulated ones).",
            min=0,
        ),
    ] = None,
) -> None:
    """Build the demo warehouse, run every product, serve the web app.

    The warehouse in ./veedel-data is built from the bundled real data (a
    Stack Exchange community and Reddit city channels) and a simulated
    community; it is checked, then every product runs on it. Enriching all
    15,085 real posts takes minutes; --text-posts caps it for a quick look, and
    a later run (or veedel text enrich) enriches the rest.

    Example: veedel demo --users 5000 --text-posts 500 --no-serve
    """
    from veedel.api.state import open_store
    from veedel.warehouse import connect

    settings = get_settings(data_dir=data_dir, port=port)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ctx = DemoContext(
        settings=settings,
        warehouse=connect(settings.resolved_warehouse_url()),
        store=open_store(settings.resolved_store_url()),
        users=users,
        days=days,
        seed=seed,
        text_posts=text_posts,
    )
    failed = _run_steps(ctx)
    if failed:
        console.print(
            f"[bold red]{len(failed)} demo step(s) failed:[/] " + ", ".join(failed)
        )
        raise typer.Exit(1)
    if serve:
        from veedel.cli.serve import serve_app

        serve_app(settings, demo_account=True)
    else:
        _print_next_steps(settings, data_dir)


def _print_next_steps(settings: Settings, data_dir: Path | None) -> None:
    """Tell the person who skipped serving how to see the web app."""
    folder = "" if data_dir is None else f" --data-dir {data_dir}"
    console.print(Rule("[bold]Next"))
    console.print(
        "The warehouse and every product's results are in "
        f"{settings.data_dir}. To see them in the web app, add an account and "
        "serve:",
        highlight=False,
    )
    # Commands stay on one line each, so they can be copied whole.
    for command in (
        f"veedel users add NAME --role admin{folder}",
        f"veedel serve{folder}",
    ):
        console.print(f"  {command}", highlight=False, soft_wrap=True, markup=False)
    console.print(
        f"then open http://{settings.host}:{settings.port}/ and sign in. "
        "(veedel demo without --no-serve does both and prints a password.)",
        highlight=False,
    )


def _run_steps(ctx: DemoContext) -> list[str]:
    failed: list[str] = []
    for number, (title, step) in enumerate(DEMO_STEPS, start=1):
        console.print(Rule(f"[bold]{number}/{len(DEMO_STEPS)} {title}"))
        started = time.perf_counter()
        try:
            step(ctx)
        except Exception as exc:  # one failing product must not stop the others
            log.debug("Demo step %r failed", title, exc_info=True)
            console.print(
                f"[bold red]Failed:[/] {type(exc).__name__}: {escape(str(exc))}"
            )
            failed.append(title)
            continue
        console.print(f"[dim]done in {time.perf_counter() - started:.1f} s[/]")
    return failed
