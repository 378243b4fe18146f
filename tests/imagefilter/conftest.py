"""Fixtures of the image filter tests: the real model, real photos, a store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from image_samples import PHOTOS
from PIL import Image
from sqlalchemy import Engine

import veedel.imagefilter.tables  # noqa: F401  (registers the tables)
from veedel.imagefilter import OnnxClassifier
from veedel.store import get_engine, init_store


@pytest.fixture(scope="session")
def classifier() -> OnnxClassifier:
    """The real open_nsfw model from the installed wheel, loaded once."""
    return OnnxClassifier(batch_size=8)


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    """Six benign photos (JPEG, WebP, animated GIF) and a text file."""
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for name in ("chelsea", "coffee", "rocket", "china"):
        target = folder / f"{name}.jpg"
        Image.open(PHOTOS[name]).convert("RGB").save(target, format="JPEG")
    Image.open(PHOTOS["astronaut"]).save(folder / "sub" / "astronaut.webp")
    (folder / "sub" / "animated.gif").write_bytes(PHOTOS["animated"].read_bytes())
    (folder / "notes.txt").write_text("not an image")
    return folder


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A fresh SQLite store file with the image filter's tables."""
    engine = get_engine(f"sqlite:///{tmp_path / 'store.sqlite'}")
    init_store(engine)
    yield engine
    engine.dispose()


USERS = {"vera": "viewer", "ed": "editor", "eve": "editor", "ada": "admin"}


@pytest.fixture
def review_config(tmp_path: Path) -> Path:
    """veedel.toml sending every score below 0.9 to review on post_image."""
    config = tmp_path / "veedel.toml"
    config.write_text(
        "[images]\naudit_allow_share = 0.0\nsecond_review_share = 0.0\n"
        "max_bytes = 2000000\n"
        "[images.surfaces.post_image]\nreview = 0.0\nblock = 0.9\n"
        "[images.surfaces.profile_picture]\nreview = 0.5\nblock = 0.9\n"
    )
    return config


@pytest.fixture
def app(review_config: Path) -> FastAPI:
    """The whole app on a fresh data folder, with one user per role."""
    from veedel.accounts import add_user
    from veedel.api.app import create_app

    application = create_app()
    for name, role in USERS.items():
        add_user(application.state.store, name, f"{name}-password", role)
    return application


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """An anonymous HTTPS test client (the session cookie is Secure)."""
    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client
