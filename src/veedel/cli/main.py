"""The root of the ``veedel`` command line.

Each product's commands live in a module of their own and are registered here
with one line.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup, TyperOption

from veedel import __version__
from veedel.cli import (
    demo,
    experiments,
    images,
    ingest,
    serve,
    simulate,
    text,
    users,
    warehouse,
)
from veedel.cli.console import console, err_console
from veedel.errors import VeedelError
from veedel.log import configure_logging
from veedel.settings import get_settings


class _VeedelGroup(TyperGroup):
    """The root group: a veedel error becomes a clear message and exit code 2."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except VeedelError as exc:
            err_console.print(
                f"[bold red]Error:[/] {escape(str(exc))}", markup=True, highlight=False
            )
            raise typer.Exit(2) from None


_option_type = TyperOption.display_type_rich


def _flag_free_type(self: TyperOption, ctx: Any) -> str | None:
    """The type column of an option's help; empty for a flag, which takes no value
    (Typer writes ``<bool>`` next to ``--save/--no-save`` and ``--help``)."""
    if self.is_flag:
        return None
    return _option_type(self, ctx)


TyperOption.display_type_rich = _flag_free_type  # type: ignore[method-assign]


app = typer.Typer(
    name="veedel",
    cls=_VeedelGroup,
    help=(
        "Data products for location-based community apps.\n\n"
        "Example: veedel demo   (build the demo warehouse, run every product, "
        "serve the web app)"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        console.print(f"veedel {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show debug output.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version."
        ),
    ] = False,
) -> None:
    """veedel: experiments, segments, image filter, text analytics and more."""
    # Put the caller's logging back when the command ends: a test session or
    # a notebook that runs several commands must not inherit this one's.
    ctx.call_on_close(configure_logging(verbose, err_console, _configured_log_level()))


def _configured_log_level() -> str:
    # A broken setting is reported by the command that reads it, with its fix;
    # logging must not fail first with a less helpful message.
    try:
        return get_settings().log_level
    except VeedelError:
        return "INFO"


app.command("demo")(demo.demo_command)
app.command("serve")(serve.serve_command)
app.add_typer(users.app, name="users")
app.add_typer(warehouse.app, name="warehouse")
app.add_typer(ingest.app, name="ingest")
app.add_typer(text.app, name="text")
app.add_typer(images.app, name="images")
app.add_typer(experiments.app, name="experiments")
app.command("simulate")(simulate.simulate_command)
