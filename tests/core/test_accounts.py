"""Accounts: hashed passwords, roles, tokens, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from veedel.accounts import (
    add_user,
    authenticate,
    create_token,
    list_users,
    role_allows,
    set_password,
    user_for_token,
)
from veedel.api.state import open_store
from veedel.errors import InputError


def _exercise(url: str) -> None:
    engine = open_store(url)
    user = add_user(engine, "maria", "correct horse", "editor")
    assert user.password_hash.startswith("$argon2id$")
    assert "correct horse" not in user.password_hash

    assert authenticate(engine, "maria", "correct horse") is not None
    assert authenticate(engine, "maria", "wrong horse!") is None
    assert authenticate(engine, "nobody", "correct horse") is None

    token = create_token(engine, "maria")
    found = user_for_token(engine, token)
    assert found is not None and found.username == "maria"
    assert user_for_token(engine, token + "x") is None

    set_password(engine, "maria", "new password", "admin")
    again = authenticate(engine, "maria", "new password")
    assert again is not None and again.role == "admin"


def test_accounts_on_sqlite(tmp_path: Path) -> None:
    """The whole account life cycle works on the default SQLite store."""
    _exercise(f"sqlite:///{tmp_path}/store.sqlite")


@pytest.mark.postgres
def test_accounts_on_postgres(postgres_url: str) -> None:
    """The same life cycle works on a real PostgreSQL server."""
    _exercise(postgres_url)


@pytest.mark.parametrize(
    ("username", "password", "role", "field"),
    [
        ("", "long enough", "viewer", "username"),
        ("bad name!", "long enough", "viewer", "username"),
        ("ok", "short", "viewer", "password"),
        ("ok", "long enough", "owner", "role"),
    ],
)
def test_add_user_rejects_bad_values(
    tmp_path: Path, username: str, password: str, role: str, field: str
) -> None:
    """Each rule names its field; nothing is stored."""
    engine = open_store(f"sqlite:///{tmp_path}/store.sqlite")
    with pytest.raises(InputError) as info:
        add_user(engine, username, password, role)
    assert info.value.field == field
    assert authenticate(engine, username or "x", password) is None


def test_duplicate_username_is_refused(tmp_path: Path) -> None:
    """A second account with the same name is an InputError."""
    engine = open_store(f"sqlite:///{tmp_path}/store.sqlite")
    add_user(engine, "ana", "password1", "viewer")
    with pytest.raises(InputError, match="must be unique"):
        add_user(engine, "ana", "password2", "admin")


@pytest.mark.parametrize("username", ["Ünï", "josé", "a b", "ana\n", "", "x" * 65])
def test_username_rule_says_ascii_and_refuses_the_rest(
    tmp_path: Path, username: str
) -> None:
    """Only ASCII letters, digits and _ . @ - are allowed, and the message says
    so: 'letters' alone reads as if Ünï were one."""
    engine = open_store(f"sqlite:///{tmp_path}/store.sqlite")

    with pytest.raises(InputError) as caught:
        add_user(engine, username, "password1", "viewer")

    assert str(caught.value) == (
        "username must be 1 to 64 ASCII letters, digits or _ . @ - (a-z, A-Z, 0-9:"
        f" no accents or spaces); got {username!r}."
    )


def test_username_with_every_allowed_kind_of_character(tmp_path: Path) -> None:
    """A name of 64 characters using each allowed kind is accepted."""
    engine = open_store(f"sqlite:///{tmp_path}/store.sqlite")
    name = "Ana.maria_09@x-" + "a" * 49

    add_user(engine, name, "password1", "viewer")

    assert name in [user.username for user in list_users(engine)]


def test_roles_are_ordered() -> None:
    """viewer < editor < admin."""
    assert role_allows("admin", "editor")
    assert role_allows("editor", "editor")
    assert not role_allows("viewer", "editor")
