"""The app lets nothing but /health through without sign-in; roles and CSRF hold."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from veedel.accounts import add_user, create_token
from veedel.api.app import create_app, plain_http_warning
from veedel.api.security import LOGIN_COOKIE, LOGIN_MAX_AGE, SessionSigner
from veedel.settings import secret_key


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = create_app()
    for name, role in [("vera", "viewer"), ("ed", "editor"), ("ada", "admin")]:
        add_user(app.state.store, name, f"{name}-password", role)
    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client


def _form_token(client: TestClient) -> str:
    # The sign-in form's hidden CSRF token (its cookie lands in the client).
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    return token.group(1)


def _login_form(client: TestClient, **fields: str) -> dict[str, str]:
    return {**fields, "csrf_token": _form_token(client)}


def _sign_in(client: TestClient, name: str) -> None:
    response = client.post(
        "/login",
        data=_login_form(client, username=name, password=f"{name}-password", next="/"),
        follow_redirects=False,
    )
    assert response.status_code == 303


def test_health_needs_no_sign_in(client: TestClient) -> None:
    """/health answers anonymously."""
    assert client.get("/health").json()["status"] == "ok"


def test_everything_else_needs_sign_in(client: TestClient) -> None:
    """Pages redirect to /login, the API answers 401, docs too."""
    page = client.get("/", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/"
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/openapi.json").status_code == 401


def test_sign_in_sets_a_secure_http_only_cookie(client: TestClient) -> None:
    """The session cookie is HttpOnly, Secure and SameSite=Lax."""
    response = client.post(
        "/login",
        data=_login_form(client, username="vera", password="vera-password"),
        follow_redirects=False,
    )
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=lax" in cookie
    assert client.get("/api/v1/me").json() == {"username": "vera", "role": "viewer"}


def test_wrong_password_is_refused(client: TestClient) -> None:
    """A wrong password shows the form again with a message, status 401."""
    response = client.post(
        "/login", data=_login_form(client, username="vera", password="nope-nope")
    )
    assert response.status_code == 401
    assert "Wrong user name or password." in response.text


def test_login_redirect_stays_on_this_site(client: TestClient) -> None:
    """An absolute next= URL is replaced by /."""
    response = client.post(
        "/login",
        data=_login_form(
            client,
            username="vera",
            password="vera-password",
            next="https://evil.example/",
        ),
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_sign_in_form_sets_a_strict_short_lived_token_cookie(
    client: TestClient,
) -> None:
    """GET /login sets a signed cookie whose token is the form's hidden field."""
    response = client.get("/login")

    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{LOGIN_COOKIE}=")
    lowered = cookie.lower()
    assert "httponly" in lowered and "secure" in lowered
    assert "samesite=strict" in lowered and "path=/login" in lowered
    assert f"max-age={LOGIN_MAX_AGE}" in lowered
    field = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
    assert field is not None
    signer = client.app.state.signer  # type: ignore[attr-defined]
    assert signer.login_token(client.cookies[LOGIN_COOKIE]) == field.group(1)


def _old_login_cookie(secret: str, token: str) -> str:
    # A real cookie signed with this app's secret, dated past the two hours.
    class Earlier(TimestampSigner):
        def get_timestamp(self) -> int:
            return super().get_timestamp() - LOGIN_MAX_AGE - 60

    serializer = URLSafeTimedSerializer(secret, salt="veedel-login", signer=Earlier)
    return serializer.dumps(token)


@pytest.mark.parametrize(
    "case", ["no field", "wrong field", "no cookie", "forged cookie", "old cookie"]
)
def test_sign_in_without_the_forms_token_is_refused(
    client: TestClient, case: str
) -> None:
    """A right password with a missing or wrong form token: 403, form again."""
    token = _form_token(client)
    form = {"username": "vera", "password": "vera-password", "csrf_token": token}
    if case == "no field":
        del form["csrf_token"]
    elif case == "wrong field":
        form["csrf_token"] = token[:-1] + ("A" if token[-1] != "A" else "B")
    elif case == "no cookie":
        client.cookies.clear()
    elif case == "forged cookie":
        client.cookies.set(LOGIN_COOKIE, SessionSigner("another").login_cookie(token))
    else:
        secret = secret_key(client.app.state.settings)  # type: ignore[attr-defined]
        client.cookies.set(LOGIN_COOKIE, _old_login_cookie(secret, token))

    response = client.post("/login", data=form, follow_redirects=False)

    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "The sign-in form had expired or did not come from this site" in (
        response.text
    )
    assert "veedel_session" not in response.headers.get("set-cookie", "")
    assert client.get("/api/v1/me").status_code == 401


def test_a_refused_sign_in_works_from_the_form_shown_again(
    client: TestClient,
) -> None:
    """After a 403 the page's fresh form (token and cookie) signs in."""
    refused = client.post(
        "/login",
        data={"username": "vera", "password": "vera-password"},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    token = re.search(r'name="csrf_token" value="([^"]+)"', refused.text)
    assert token is not None

    accepted = client.post(
        "/login",
        data={
            "username": "vera",
            "password": "vera-password",
            "csrf_token": token.group(1),
        },
        follow_redirects=False,
    )

    assert accepted.status_code == 303
    assert client.get("/api/v1/me").json()["username"] == "vera"


def test_two_open_sign_in_forms_share_one_token(client: TestClient) -> None:
    """Opening /login again keeps the token, so an older tab still signs in."""
    assert _form_token(client) == _form_token(client)


def test_forms_need_the_csrf_token(client: TestClient) -> None:
    """A POST from a signed-in browser without the session's token is refused."""
    _sign_in(client, "ada")
    refused = client.post("/logout", data={}, follow_redirects=False)
    assert refused.status_code == 403
    page = client.get("/").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    accepted = client.post(
        "/logout", data={"csrf_token": token.group(1)}, follow_redirects=False
    )
    assert accepted.status_code == 303


@pytest.mark.parametrize(("name", "status"), [("vera", 403), ("ed", 403), ("ada", 200)])
def test_only_admins_list_users(client: TestClient, name: str, status: int) -> None:
    """Each role gets what it may: the user list is for admins."""
    _sign_in(client, name)
    assert client.get("/api/v1/users").status_code == status


def test_api_token_works_without_cookie_or_csrf(
    client: TestClient, veedel_log: pytest.LogCaptureFixture
) -> None:
    """A bearer token authenticates the JSON API, POSTs included; the server log
    says once which admin added which user."""
    token = create_token(client.app.state.store, "ada")  # type: ignore[attr-defined]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=headers).json()["username"] == "ada"
    created = client.post(
        "/api/v1/users",
        json={"username": "new", "password": "new-password", "role": "viewer"},
        headers=headers,
    )
    assert created.status_code == 201
    added = [r.getMessage() for r in veedel_log.records if "new" in r.getMessage()]
    assert added == ["ada added user new with role viewer"]
    assert (
        client.get(
            "/api/v1/me", headers={"Authorization": "Bearer vdl_wrong"}
        ).status_code
        == 401
    )


def test_api_rejects_bad_user_input(client: TestClient) -> None:
    """Missing or invalid fields give 422 naming the field; nothing is stored."""
    token = create_token(client.app.state.store, "ada")  # type: ignore[attr-defined]
    headers = {"Authorization": f"Bearer {token}"}
    response = client.post(
        "/api/v1/users",
        json={"username": "x", "password": "short", "role": "god"},
        headers=headers,
    )
    assert response.status_code == 422
    fields = {error["loc"][-1] for error in response.json()["detail"]}
    assert fields == {"password", "role"}
    names = [u["username"] for u in client.get("/api/v1/users", headers=headers).json()]
    assert "x" not in names


def test_lone_surrogate_in_json_is_a_422_on_every_router(client: TestClient) -> None:
    """Input that is not valid Unicode is refused with 422, never a 500."""
    token = create_token(client.app.state.store, "ada")  # type: ignore[attr-defined]
    response = client.post(
        "/api/v1/users",
        content=b'{"username": "\\ud800", "password": "long enough", "role": "viewer"}',
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "username"


@pytest.mark.parametrize(
    ("host", "warned"),
    [("127.0.0.1", False), ("127.0.0.2", False), ("localhost", False),
     ("LOCALHOST", False), ("::1", False), ("[::1]", False), ("0.0.0.0", True),
     ("::", True), ("192.168.1.20", True), ("veedel.example.org", True)],
)  # fmt: skip
def test_serving_plain_http_off_loopback_is_warned(host: str, warned: bool) -> None:
    """Browsers keep a Secure cookie over http:// only on loopback; elsewhere warn."""
    warning = plain_http_warning(host)

    if not warned:
        assert warning is None
        return
    assert warning is not None
    assert host in warning and "sign" in warning and "TLS" in warning
