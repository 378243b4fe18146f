"""Helpers of the image filter tests that test modules import by name.

They live here, not in conftest.py: every test folder has a conftest module,
and ``from conftest import ...`` finds whichever was imported first.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

#: Chromium flags for headless runs here (no sandbox, no network chatter).
CHROMIUM_ARGS_IMAGES = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def sign_in(client: TestClient, name: str) -> str:
    """Sign ``name`` in with the login form; the session's CSRF token."""
    form = client.get("/login").text
    marker = 'name="csrf_token" value="'
    start = form.index(marker) + len(marker)
    response = client.post(
        "/login",
        data={
            "username": name,
            "password": f"{name}-password",
            "next": "/",
            "csrf_token": form[start : form.index('"', start)],
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    page = client.get("/")
    marker = 'name="csrf-token" content="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]
