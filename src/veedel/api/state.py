"""Opening the application store with every product's tables registered."""

from __future__ import annotations

import importlib
import logging

from sqlalchemy import Engine

from veedel.store import get_engine, init_store

__all__ = ["STORE_MODELS", "open_store"]

log = logging.getLogger(__name__)

# Modules that declare tables on veedel.store.Base; one line per product.
STORE_MODELS: list[str] = [
    "veedel.accounts.models",
    "veedel.imagefilter.tables",
    "veedel.experiments.store",
]


def open_store(url: str | None = None) -> Engine:
    """An engine for the store, with every product's tables created."""
    for module in STORE_MODELS:
        try:
            importlib.import_module(module)
        except ImportError as exc:  # a product whose optional extra is missing
            log.warning("Tables of %s are not available: %s", module, exc)
    engine = get_engine(url)
    init_store(engine)
    return engine
