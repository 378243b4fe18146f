"""Fixtures of the image filter tests: the real model, real photos, a store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
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
