"""JSON and form bodies past ``max_request_bytes`` are a 413 with a JSON error,
whether the size is declared, sent in chunks, or read by the CSRF check."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from veedel.accounts import add_user, create_token, list_users
from veedel.api.app import create_app

LIMIT = 4096
MESSAGE = (
    "The request body exceeds 4,096 bytes, the limit of JSON and form requests"
    " (setting max_request_bytes, VEEDEL_MAX_REQUEST_BYTES)."
)


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The app with a 4 KiB body limit set through the environment."""
    monkeypatch.setenv("VEEDEL_MAX_REQUEST_BYTES", str(LIMIT))
    app = create_app()
    add_user(app.state.store, "ada", "ada-password", "admin")
    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client


def _admin(client: TestClient) -> dict[str, str]:
    token = create_token(client.app.state.store, "ada")  # type: ignore[attr-defined]
    return {"Authorization": f"Bearer {token}"}


def _names(client: TestClient) -> list[str]:
    return [user.username for user in list_users(client.app.state.store)]  # type: ignore[attr-defined]


def _sign_in(client: TestClient, name: str) -> None:
    """Sign ``name`` (password ``NAME-password``) in with the login form."""
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    signed_in = client.post(
        "/login",
        data={
            "username": name,
            "password": f"{name}-password",
            "next": "/",
            "csrf_token": token.group(1),
        },
        follow_redirects=False,
    )
    assert signed_in.status_code == 303


def _user_json(password: str) -> str:
    return f'{{"username": "new", "password": "{password}", "role": "viewer"}}'


def test_a_body_under_the_limit_goes_through(client: TestClient) -> None:
    """A JSON body of 4,000 bytes is read as usual."""
    body = _user_json("p" * 200).ljust(4000)
    assert len(body) == 4000
    answer = client.post(
        "/api/v1/users",
        content=body,
        headers={**_admin(client), "Content-Type": "application/json"},
    )
    assert answer.status_code == 201, answer.text
    assert "new" in _names(client)


def test_a_declared_body_over_the_limit_is_a_413(client: TestClient) -> None:
    """A Content-Length of 4,097 is refused before the body is read."""
    body = _user_json("p" * 200).ljust(LIMIT + 1)
    answer = client.post(
        "/api/v1/users",
        content=body,
        headers={**_admin(client), "Content-Type": "application/json"},
    )
    assert answer.status_code == 413
    assert answer.json() == {"code": "too_large", "detail": MESSAGE}
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "new" not in _names(client)


def test_a_chunked_body_over_the_limit_is_a_413(client: TestClient) -> None:
    """Without Content-Length the body is counted as it arrives."""
    chunks = [_user_json("p" * 200).encode(), b" " * 1024, b" " * 1024]
    chunks += [b" " * 1024, b" " * 1024]
    answer = client.post(
        "/api/v1/users",
        content=iter(chunks),
        headers={**_admin(client), "Content-Type": "application/json"},
    )
    assert "content-length" not in answer.request.headers
    assert answer.status_code == 413
    assert answer.json() == {"code": "too_large", "detail": MESSAGE}
    assert "new" not in _names(client)


def test_a_form_over_the_limit_is_a_413_before_the_csrf_check(
    client: TestClient,
) -> None:
    """The sign-in check reads a form for its CSRF token: a chunked form past
    the limit is refused there too, with the same JSON."""
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    chunks = [f"csrf_token={token.group(1)}&username=ada&password=".encode()]
    chunks += [b"x" * 1024] * 5
    answer = client.post(
        "/login",
        content=iter(chunks),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert answer.status_code == 413
    assert answer.json() == {"code": "too_large", "detail": MESSAGE}


def test_the_csrf_check_stops_at_the_limit_too(client: TestClient) -> None:
    """A signed-in form post is read by the CSRF check before any endpoint: a
    chunked form past the limit is refused there, with the same JSON."""
    _sign_in(client, "ada")
    answer = client.post(
        "/logout",
        content=iter([b"csrf_token=x&pad="] + [b"x" * 1024] * 5),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert answer.status_code == 413
    assert answer.json() == {"code": "too_large", "detail": MESSAGE}


def test_the_image_upload_keeps_its_own_limit(client: TestClient) -> None:
    """The classify endpoint is not held to the JSON and form limit: 5,000
    bytes reach it (and fail there as multipart, not as too large)."""
    answer = client.post(
        "/api/v1/images:classify",
        content=b"x" * 5000,
        headers={**_admin(client), "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "bad_multipart"


def test_a_browser_upload_past_the_image_limit_stops_at_the_csrf_check(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A signed-in browser's multipart post without the CSRF header is read by
    the sign-in check, in front of the endpoint's own limit: the body limit
    holds that path to ``[images] max_bytes`` plus 64 KiB of framing."""
    monkeypatch.setenv("VEEDEL_IMAGES__MAX_BYTES", "10000")
    app = create_app()
    add_user(app.state.store, "bo", "bo-password", "admin")
    with TestClient(app, base_url="https://testserver") as browser:
        _sign_in(browser, "bo")
        head = (
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n'
        )
        answer = browser.post(
            "/api/v1/images:classify",
            content=iter([head] + [b"x" * 1024] * 80),  # 80 KiB > 10,000 + 64 KiB
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
    assert answer.status_code == 413
    assert answer.json() == {
        "code": "too_large",
        "detail": "The request body exceeds 75,536 bytes, the limit of this endpoint.",
    }
