"""Every /api/v1 route for every role, and no route open without sign-in.

The matrix is checked against the OpenAPI schema, so a new API route fails
here until its expected answers are written down. Requests are chosen so that
nothing heavy runs: bodies that fail validation (422) once the role check has
passed, a missing review item (404), an empty review queue (204).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Mount

from veedel.accounts import create_token

ROLES = ("anonymous", "viewer", "editor", "admin")
USERS = {"viewer": "vera", "editor": "ed", "admin": "ada"}

# (method, route as in the schema, request path, JSON body or None): the
# expected status for viewer, editor, admin. Anonymous is always 401.
MATRIX: list[tuple[str, str, str, Any, tuple[int, int, int]]] = [
    ("GET", "/api/v1/openapi.json", "/api/v1/openapi.json", None, (200, 200, 200)),
    ("GET", "/api/v1/docs", "/api/v1/docs", None, (200, 200, 200)),
    ("GET", "/api/v1/me", "/api/v1/me", None, (200, 200, 200)),
    ("POST", "/api/v1/tokens", "/api/v1/tokens", {"name": ""}, (422, 422, 422)),
    ("GET", "/api/v1/users", "/api/v1/users", None, (403, 403, 200)),
    ("POST", "/api/v1/users", "/api/v1/users", {}, (403, 403, 422)),
    ("GET", "/api/v1/experiments", "/api/v1/experiments", None, (200, 200, 200)),
    ("POST", "/api/v1/experiments", "/api/v1/experiments", {}, (403, 422, 422)),
    ("GET", "/api/v1/experiments/{key}", "/api/v1/experiments/aa_check", None,
     (200, 200, 200)),
    ("GET", "/api/v1/experiments/{key}/result",
     "/api/v1/experiments/aa_check/result", None, (200, 200, 200)),
    ("POST", "/api/v1/experiments/plan", "/api/v1/experiments/plan", {},
     (422, 422, 422)),
    ("GET", "/api/v1/experiments/{key}/assignment/{user_id}",
     "/api/v1/experiments/aa_check/assignment/u1", None, (200, 200, 200)),
    ("GET", "/api/v1/metrics", "/api/v1/metrics", None, (200, 200, 200)),
    ("POST", "/api/v1/images:classify", "/api/v1/images:classify", {},
     (422, 422, 422)),
    ("GET", "/api/v1/images/stats", "/api/v1/images/stats", None, (200, 200, 200)),
    ("GET", "/api/v1/review/next", "/api/v1/review/next", None, (403, 204, 204)),
    ("POST", "/api/v1/review/{item_id}/decision", "/api/v1/review/999/decision",
     {}, (403, 422, 422)),
    # An image is for the editor who holds the item, or an admin.
    ("GET", "/api/v1/review/{item_id}/image", "/api/v1/review/999/image", None,
     (403, 403, 404)),
    ("POST", "/api/v1/text:analyze", "/api/v1/text:analyze", {}, (422, 422, 422)),
    ("GET", "/api/v1/text/report", "/api/v1/text/report?by=nope", None,
     (422, 422, 422)),
]  # fmt: skip


def _expected(row: tuple[str, str, str, Any, tuple[int, int, int]], role: str) -> int:
    return 401 if role == "anonymous" else row[4][ROLES.index(role) - 1]


@pytest.fixture
def bearers(app: FastAPI) -> dict[str, dict[str, str]]:
    """Authorization headers by role (anonymous sends none)."""
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    for role, name in USERS.items():
        token = create_token(app.state.store, name, "matrix")
        headers[role] = {"Authorization": f"Bearer {token}"}
    return headers


def test_the_matrix_covers_every_api_route(app: FastAPI) -> None:
    """Each operation of the OpenAPI schema (and the schema and docs) is listed."""
    schema = app.openapi()["paths"]
    documented = {
        (method.upper(), path)
        for path, operations in schema.items()
        if path.startswith("/api/v1/")
        for method in operations
    }
    documented |= {("GET", "/api/v1/openapi.json"), ("GET", "/api/v1/docs")}

    assert {(row[0], row[1]) for row in MATRIX} == documented


@pytest.mark.parametrize("role", ROLES)
def test_every_api_route_answers_each_role_as_expected(
    client: TestClient, bearers: dict[str, dict[str, str]], role: str
) -> None:
    """Anonymous 401 everywhere; viewer reads, editor reviews and creates, admin
    manages accounts."""
    answers = {}
    for row in MATRIX:
        method, _, path, body, _ = row
        response = client.request(
            method, path, json=body, headers=bearers[role], follow_redirects=False
        )
        answers[(method, path)] = response.status_code

    assert answers == {(row[0], row[2]): _expected(row, role) for row in MATRIX}


def _routes(routes: list[Any]) -> Iterator[tuple[str, set[str]]]:
    """Every (path, methods) of the app, through included routers too."""
    for route in routes:
        if isinstance(route, Mount):
            yield route.path + "/", {"GET"}
        elif getattr(route, "methods", None):
            yield route.path, set(route.methods)
        elif hasattr(route, "effective_route_contexts"):
            # FastAPI keeps included routers as one entry; walk their routes.
            for context in route.effective_route_contexts():
                methods = getattr(context.original_route, "methods", None) or set()
                yield context.path, set(methods)


def test_no_route_answers_without_sign_in(client: TestClient, app: FastAPI) -> None:
    """Without credentials every route redirects to /login (pages) or is 401 (API),
    except /health, the sign-in page and the static files."""
    found = sorted(
        (path, method) for path, methods in _routes(app.routes) for method in methods
    )
    assert len(found) >= 35, found

    public = {("/health", "GET"), ("/login", "GET"), ("/login", "POST")}
    answers = {}
    for path, method in found:
        if (path, method) in public or method == "HEAD" or path == "/static/":
            continue
        concrete = re.sub(r"\{[^}]+\}", "x1", path)
        response = client.request(method, concrete, follow_redirects=False)
        location = response.headers.get("location", "")
        if path.startswith("/api/"):
            answers[(method, path)] = response.status_code == 401
        else:
            answers[(method, path)] = response.status_code == 303 and (
                location.startswith("/login?next=")
            )

    assert [key for key, refused in answers.items() if not refused] == []
    assert client.get("/health").status_code == 200
    assert client.get("/login").status_code == 200
    assert client.post("/login", data={}).status_code == 403  # no form token
    assert client.get("/static/veedel.css").status_code == 200
