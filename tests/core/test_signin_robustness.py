"""Sign-in under attack: redirects stay here, old sessions die, disabled means out."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from veedel.accounts import add_user, create_token, set_password
from veedel.api.app import create_app
from veedel.cli.main import app as cli
from veedel.settings import get_settings

runner = CliRunner()


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = create_app()
    add_user(app.state.store, "ada", "ada-password", "admin")
    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client


def _with_form_token(client: TestClient, form: dict[str, str]) -> dict[str, str]:
    # Open the sign-in form (its cookie lands in the client) and add its token.
    page = client.get("/login").text
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    return {**form, "csrf_token": page[start : page.index('"', start)]}


def _sign_in(client: TestClient, next_path: str = "/") -> str:
    form = {"username": "ada", "password": "ada-password", "next": next_path}
    response = client.post(
        "/login", data=_with_form_token(client, form), follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


@pytest.mark.parametrize(
    "target", ["/\\evil.example", "/\\/evil.example", "/\x00/evil.example"]
)
def test_backslash_and_control_targets_go_home(client: TestClient, target: str) -> None:
    """Browsers read ``/\\host`` as ``//host``; such a next= becomes /."""
    assert _sign_in(client, target) == "/"


def test_sign_in_returns_to_the_page_with_its_query(client: TestClient) -> None:
    """A page asked for while signed out is reached again with its query."""
    asked = client.get("/experiments?status=running&q=a b", follow_redirects=False)

    assert asked.status_code == 303
    login = str(asked.headers["location"])
    assert login == "/login?next=/experiments%3Fstatus%3Drunning%26q%3Da%2520b"
    page = client.get(login)
    assert 'value="/experiments?status=running&amp;q=a%20b"' in page.text
    assert _sign_in(client, "/experiments?status=running&q=a%20b") == (
        "/experiments?status=running&q=a%20b"
    )


def test_a_new_password_ends_every_old_session(client: TestClient) -> None:
    """After ``passwd`` a cookie issued before the change is no longer accepted."""
    _sign_in(client)
    assert client.get("/api/v1/me").status_code == 200

    set_password(client.app.state.store, "ada", "new-password")  # type: ignore[attr-defined]

    assert client.get("/api/v1/me").status_code == 401


def test_disabled_user_is_out_everywhere(client: TestClient) -> None:
    """Disabling ends the session, refuses the password and the API token."""
    store = client.app.state.store  # type: ignore[attr-defined]
    token = create_token(store, "ada")
    _sign_in(client)

    result = runner.invoke(cli, ["users", "disable", "ada"])

    assert result.exit_code == 0, result.output
    assert client.get("/api/v1/me").status_code == 401
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=bearer).status_code == 401
    client.cookies.clear()
    form = {"username": "ada", "password": "ada-password"}
    refused = client.post(
        "/login", data=_with_form_token(client, form), follow_redirects=False
    )
    assert refused.status_code == 401

    assert runner.invoke(cli, ["users", "enable", "ada"]).exit_code == 0
    assert client.get("/api/v1/me", headers=bearer).status_code == 200
    listed = runner.invoke(cli, ["users", "list"])
    assert "True" in listed.output


def test_disabling_an_unknown_user_is_one_error_line() -> None:
    """``users disable nobody`` exits 2 naming the user, without a traceback."""
    result = runner.invoke(cli, ["users", "disable", "nobody"])

    assert result.exit_code == 2
    assert "nobody" in result.output
    assert "Traceback" not in result.output


def test_passwd_takes_the_role_in_any_case() -> None:
    """``--role Admin`` works for passwd as it does for add."""
    add = ["users", "add", "bo", "--password", "bo-password"]
    assert runner.invoke(cli, add).exit_code == 0

    result = runner.invoke(
        cli, ["users", "passwd", "bo", "--password", "bo-password2", "--role", "Admin"]
    )

    assert result.exit_code == 0, result.output
    assert "admin" in runner.invoke(cli, ["users", "list"]).output


@pytest.mark.parametrize("name", ["", "x" * 65])
def test_token_name_is_checked_on_the_cli(name: str) -> None:
    """A token label outside 1..64 characters is one error line, exit 2."""
    runner.invoke(cli, ["users", "add", "cy", "--password", "cy-password"])

    result = runner.invoke(cli, ["users", "token", "cy", "--name", name])

    assert result.exit_code == 2, result.output
    assert "name must be 1 to 64 characters" in " ".join(result.output.split())


def test_only_the_exact_public_paths_skip_sign_in(client: TestClient) -> None:
    """/health is public; /health-report or /login-audit would not be."""
    app = client.app

    def secret() -> dict[str, str]:
        return {"secret": "yes"}

    for path in ("/health-report", "/healthz", "/login-audit", "/favicon.ico.json"):
        app.add_api_route(path, secret)  # type: ignore[attr-defined]

    for path in ("/health-report", "/healthz", "/login-audit", "/favicon.ico.json"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
    assert client.get("/health").status_code == 200


@pytest.mark.parametrize(
    "form",
    [
        {"username": "ada"},
        {"password": "ada-password"},
        {"username": "a" * 100, "password": "ada-password"},
        {"username": "ada", "password": "p" * 300},
    ],
)
def test_incomplete_sign_in_form_shows_the_form_again(
    client: TestClient, form: dict[str, str]
) -> None:
    """A browser gets the sign-in page with a message, never a JSON 422."""
    response = client.post(
        "/login", data=_with_form_token(client, form), follow_redirects=False
    )

    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")
    assert "Wrong user name or password." in response.text


@pytest.mark.parametrize("token", ["é", "токен", "\U0001f600"])
def test_non_ascii_csrf_token_is_refused_not_a_crash(
    client: TestClient, token: str
) -> None:
    """hmac.compare_digest rejects non-ASCII str; the answer must still be 403."""
    _sign_in(client)

    response = client.post(
        "/logout", data={"csrf_token": token}, follow_redirects=False
    )

    assert response.status_code == 403


@pytest.mark.postgres
@pytest.mark.parametrize("username", ["ada\x00", "a" * 70, "ada'; --"])
def test_odd_user_names_fail_sign_in_on_postgres(
    postgres_url: str, username: str
) -> None:
    """PostgreSQL refuses NUL in a query; such a name is a failed sign-in."""
    from veedel.accounts import authenticate
    from veedel.api.state import open_store

    engine = open_store(postgres_url)
    add_user(engine, "ada", "ada-password", "admin")

    assert authenticate(engine, username, "ada-password") is None
    assert authenticate(engine, "ada", "ada-password") is not None


def _printed_password(output: str) -> str:
    found = re.search(
        r"Sign in at http://127\.0\.0\.1:8000/ as admin with password (\S+)",
        " ".join(output.split()),
    )
    assert found is not None, output
    return found.group(1)


def _demo_sign_in(client: TestClient, password: str) -> int:
    form = {"username": "admin", "password": password}
    response = client.post(
        "/login", data=_with_form_token(client, form), follow_redirects=False
    )
    return response.status_code


def test_demo_prints_admin_credentials_that_sign_in_and_resets_them(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo's printed password signs in as admin; a second run replaces it."""
    from veedel.accounts import list_users
    from veedel.cli.serve import _announce_demo_account

    settings = get_settings()
    _announce_demo_account(settings)
    first = _printed_password(capsys.readouterr().out)

    assert _demo_sign_in(client, first) == 303
    assert client.get("/api/v1/me").json() == {"username": "admin", "role": "admin"}
    saved = (settings.data_dir / "demo-credentials.txt").read_text(encoding="utf-8")
    assert saved == f"admin {first}\n"

    _announce_demo_account(settings)
    second = _printed_password(capsys.readouterr().out)

    assert second != first
    assert client.get("/api/v1/me").status_code == 401  # the old session ended
    assert _demo_sign_in(client, first) == 401
    assert _demo_sign_in(client, second) == 303
    store = client.app.state.store  # type: ignore[attr-defined]
    admins = [(u.username, u.role) for u in list_users(store) if u.username == "admin"]
    assert admins == [("admin", "admin")]
