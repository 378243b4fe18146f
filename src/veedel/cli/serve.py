"""``veedel serve``: the web app and the JSON API."""

from __future__ import annotations

import contextlib
import errno
import secrets
import socket
from pathlib import Path
from typing import Annotated

import typer

from veedel.cli.console import console
from veedel.settings import Settings, get_settings

__all__ = ["serve_app", "serve_command"]

DEMO_USER = "admin"


def serve_app(settings: Settings, demo_account: bool = False) -> None:
    """Run the app with uvicorn until interrupted.

    With ``demo_account`` an admin account gets a fresh random password, which
    is printed so the person running the demo can sign in.
    """
    import uvicorn

    from veedel.api.app import create_app, plain_http_warning

    app = create_app(settings)
    warning = plain_http_warning(settings.host)
    if warning:
        # One line, unwrapped, so it survives being grepped out of a log.
        console.print(
            f"[bold yellow]Warning:[/] {warning}", highlight=False, soft_wrap=True
        )
    # Bind before saying "Serving on": a port in use is a message, not
    # uvicorn's bare "address already in use" after a promise to serve.
    sock = _bound_socket(settings.host, settings.port)
    if demo_account:
        _announce_demo_account(settings)
    console.print(
        f"Serving on http://{settings.host}:{settings.port}  (Ctrl+C to stop)"
    )
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level="warning"
    )
    # uvicorn re-raises the Ctrl+C it caught once it has shut down; stopping
    # the server that way is the normal end, exit code 0.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run(sockets=[sock])


def _bound_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port``, for uvicorn to listen on."""
    from veedel.errors import InputError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise InputError(
                "--port",
                f"must be free, but port {port} is in use",
                port,
                fix="Choose another with --port.",
            ) from None
        raise InputError(
            "--host",
            f"must be an address of this machine to listen on ({exc.strerror})",
            host,
        ) from None
    return sock


def _announce_demo_account(settings: Settings) -> None:
    # A fresh password on every run, printed where the person running the demo
    # reads it (and kept in the data folder for a second look).
    password = _reset_demo_account(settings)
    console.print(
        f"\n[bold]Sign in at http://{settings.host}:{settings.port}/ as "
        f"[cyan]{DEMO_USER}[/] with password [cyan]{password}[/][/]"
    )


def _reset_demo_account(settings: Settings) -> str:
    from sqlalchemy.exc import IntegrityError

    from veedel.accounts import add_user, set_password
    from veedel.api.state import open_store
    from veedel.errors import InputError

    engine = open_store(settings.resolved_store_url())
    password = secrets.token_urlsafe(9)
    try:
        add_user(engine, DEMO_USER, password, "admin")
    except (InputError, IntegrityError):
        set_password(engine, DEMO_USER, password, "admin")
    (settings.data_dir / "demo-credentials.txt").write_text(
        f"{DEMO_USER} {password}\n", encoding="utf-8"
    )
    return password


def serve_command(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind [127.0.0.1].")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port [8000].")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Folder of the store and warehouse.")
    ] = None,
) -> None:
    """Serve the web app and the JSON API.

    Example: veedel serve --host 0.0.0.0 --port 8080
    """
    serve_app(get_settings(host=host, port=port, data_dir=data_dir))
