"""Helpers of the web tests: test passwords, signing in, a live uvicorn server."""

from __future__ import annotations

import importlib.util
import socket
import threading
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

ROLES = {"vera": "viewer", "ed": "editor", "ada": "admin"}


def _root_conftest() -> Any:
    # Several test folders have a conftest; import the root one by path.
    path = Path(__file__).resolve().parents[1] / "conftest.py"
    spec = importlib.util.spec_from_file_location("veedel_tests_root", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CHROMIUM_ARGS: list[str] = list(_root_conftest().CHROMIUM_ARGS)


def password_of(name: str) -> str:
    """The test password of user ``name``."""
    return f"{name}-password"


def login_form_token(client: TestClient) -> str:
    """Open the sign-in form on ``client``; return its hidden CSRF token."""
    page = client.get("/login").text
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def sign_in(client: TestClient, name: str) -> str:
    """Sign ``name`` in on ``client``; return the session's CSRF token."""
    response = client.post(
        "/login",
        data={
            "username": name,
            "password": password_of(name),
            "next": "/",
            "csrf_token": login_form_token(client),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    page = client.get("/")
    marker = 'name="csrf-token" content="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """A uvicorn server in a thread, serving ``app`` on a free local port."""

    def __init__(self, app: FastAPI) -> None:
        import uvicorn

        self.port = _free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        """Base URL of the server."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the live server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
