"""Fixtures shared by every test: a real PostgreSQL server, Chromium, seeds."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _missing(reason: str) -> None:
    # Locally a missing service skips; in CI it fails, so CI never passes by skipping.
    if _in_ci():
        pytest.fail(f"{reason} (CI must provide it)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own data folder and ignores the user's veedel.toml."""
    for key in list(os.environ):
        if key.startswith("VEEDEL_") and not key.startswith("VEEDEL_TEST_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("VEEDEL_DATA_DIR", str(tmp_path / "veedel-data"))
    monkeypatch.setenv("VEEDEL_CONFIG", str(tmp_path / "veedel.toml"))
    # Rich wraps at the terminal's width, which differs between a developer's
    # terminal and CI; every console reads COLUMNS, so output is the same here.
    monkeypatch.setenv("COLUMNS", "80")


@pytest.fixture
def veedel_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """``caplog`` that sees veedel's INFO records."""
    caplog.set_level(logging.INFO, logger="veedel")
    return caplog


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded random generator, the same in every run."""
    return np.random.default_rng(20261203)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """URL of the real PostgreSQL server the test command started."""
    url = os.environ.get("VEEDEL_TEST_POSTGRES_URL")
    if not url:
        _missing(
            "no PostgreSQL server: set VEEDEL_TEST_POSTGRES_URL or run scripts/test.sh"
        )
    return str(url)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """URL of a fresh, empty database on the real server, dropped afterwards."""
    import psycopg

    name = f"veedel_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = postgres_server.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(postgres_server, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Path of Debian's Chromium for Playwright (``executable_path``)."""
    if not CHROMIUM.exists():
        _missing("no Chromium at /usr/bin/chromium (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where browser tests save screenshots (kept as CI artefacts)."""
    path = Path(os.environ.get("VEEDEL_TEST_ARTIFACTS", "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path
