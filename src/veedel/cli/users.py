"""``veedel users``: local accounts of the web app."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from veedel.cli.console import console
from veedel.settings import get_settings

__all__ = ["app"]

app = typer.Typer(help="Manage the web app's accounts. Example: veedel users list")

DataDir = Annotated[Path | None, typer.Option(help="Folder of the store.")]


def _store(data_dir: Path | None):  # type: ignore[no-untyped-def]
    from veedel.api.state import open_store

    return open_store(get_settings(data_dir=data_dir).resolved_store_url())


@app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="The new account's name.")],
    role: Annotated[
        str, typer.Option(help="viewer, editor or admin.", case_sensitive=False)
    ] = "viewer",
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            confirmation_prompt=True,
            hide_input=True,
            help="At least 8 characters (asked for when not given).",
        ),
    ] = "",
    data_dir: DataDir = None,
) -> None:
    """Add an account.

    Example: veedel users add maria --role editor
    """
    from veedel.accounts import add_user

    add_user(_store(data_dir), username, password, role.lower())
    console.print(f"Added [bold]{username}[/] with role {role.lower()}.")


@app.command("passwd")
def passwd(
    username: Annotated[str, typer.Argument(help="The account's name.")],
    password: Annotated[
        str, typer.Option(prompt=True, confirmation_prompt=True, hide_input=True)
    ] = "",
    role: Annotated[str | None, typer.Option(help="A new role, if any.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Set a new password (and role).

    Example: veedel users passwd maria --role admin
    """
    from veedel.accounts import set_password

    set_password(_store(data_dir), username, password, role.lower() if role else None)
    console.print(f"Password of [bold]{username}[/] changed.")


@app.command("disable")
def disable(
    username: Annotated[str, typer.Argument(help="The account's name.")],
    data_dir: DataDir = None,
) -> None:
    """Disable an account: its sessions, password and API tokens stop working.

    Example: veedel users disable maria
    """
    from veedel.accounts import set_active

    set_active(_store(data_dir), username, False)
    console.print(f"Disabled [bold]{username}[/].")


@app.command("enable")
def enable(
    username: Annotated[str, typer.Argument(help="The account's name.")],
    data_dir: DataDir = None,
) -> None:
    """Enable a disabled account again.

    Example: veedel users enable maria
    """
    from veedel.accounts import set_active

    set_active(_store(data_dir), username, True)
    console.print(f"Enabled [bold]{username}[/].")


@app.command("token")
def token(
    username: Annotated[str, typer.Argument(help="The account's name.")],
    name: Annotated[str, typer.Option(help="A label for the token.")] = "cli",
    data_dir: DataDir = None,
) -> None:
    """Create an API token (shown once).

    Example: curl -H "Authorization: Bearer $(veedel users token maria)" ...
    """
    from veedel.accounts import create_token

    console.print(create_token(_store(data_dir), username, name), highlight=False)


@app.command("list")
def list_accounts(data_dir: DataDir = None) -> None:
    """List the accounts.

    Example: veedel users list
    """
    from veedel.accounts import list_users

    table = Table("user", "role", "active", "created")
    for user in list_users(_store(data_dir)):
        table.add_row(
            user.username, user.role, str(user.active), f"{user.created_at:%Y-%m-%d}"
        )
    console.print(table)
