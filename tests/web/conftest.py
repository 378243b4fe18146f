"""Fixtures of the web tests: a simulated warehouse with analysed experiments,
an app with one user per role and those results stored.

The warehouse and the analyses are made once per session (the simulator and
the analysis are the real ones); every test gets a fresh store with them.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from web_helpers import ROLES, password_of, sign_in

from veedel.accounts import add_user
from veedel.api.app import create_app
from veedel.api.state import open_store
from veedel.experiments.analysis import analyze
from veedel.experiments.definitions import ExperimentDefinition, example_experiments
from veedel.experiments.results import ExperimentResult
from veedel.experiments.store import save_definition, save_result
from veedel.settings import get_settings

# Analysed once per session: at this size the onboarding checklist ships and
# the A/A check keeps running.
ANALYSED = ("onboarding_checklist", "aa_check")


@pytest.fixture(scope="session")
def warehouse_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small simulated community in a DuckDB file (made once per session)."""
    from veedel.warehouse import connect
    from veedel.warehouse.simulator import simulate

    path = tmp_path_factory.mktemp("web-warehouse") / "warehouse.duckdb"
    url = f"duckdb://{path}"
    con = connect(url)
    simulate(con, users=1500, days=35, seed=3)
    con.disconnect()
    return url


@pytest.fixture(scope="session")
def analysed(
    warehouse_url: str,
) -> dict[str, tuple[ExperimentDefinition, ExperimentResult]]:
    """Definitions and real analysis results of the ANALYSED examples, by key."""
    from veedel.warehouse import connect

    con = connect(warehouse_url)
    examples = example_experiments()
    found = {key: (examples[key], analyze(con, examples[key])) for key in ANALYSED}
    con.disconnect()
    return found


@pytest.fixture(scope="session")
def stored_template(
    tmp_path_factory: pytest.TempPathFactory,
    analysed: dict[str, tuple[ExperimentDefinition, ExperimentResult]],
) -> Path:
    """A store file with the users and the analysed experiments, made once.

    Hashing passwords is slow on purpose, so each test copies this file
    instead of creating the accounts again.
    """
    folder = tmp_path_factory.mktemp("web-store")
    engine = open_store(f"sqlite:///{folder / 'store.sqlite'}")
    for name, role in ROLES.items():
        add_user(engine, name, password_of(name), role)
    for definition, result in analysed.values():
        save_definition(engine, definition)
        save_result(engine, result)
    engine.dispose()
    return folder / "store.sqlite"


@pytest.fixture
def app(warehouse_url: str, stored_template: Path) -> FastAPI:
    """The app over a copy of the template store and the session's warehouse.

    The users are a viewer (vera), an editor (ed) and an admin (ada).
    """
    settings = get_settings(warehouse_url=warehouse_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(stored_template, settings.data_dir / "store.sqlite")
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """An anonymous test client (HTTPS, since the session cookie is Secure)."""
    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client


@pytest.fixture
def editor(client: TestClient) -> str:
    """Sign the client in as the editor; return the CSRF token."""
    return sign_in(client, "ed")


@pytest.fixture
def viewer(client: TestClient) -> str:
    """Sign the client in as the viewer; return the CSRF token."""
    return sign_in(client, "vera")
