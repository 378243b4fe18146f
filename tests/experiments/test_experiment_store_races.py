"""The store keeps experiment keys unique, even when two editors race."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from veedel.errors import InputError
from veedel.experiments import store
from veedel.experiments.definitions import ExperimentDefinition
from veedel.store import get_engine, init_store

RACERS = 8


def _named(definition: ExperimentDefinition, name: str) -> ExperimentDefinition:
    return definition.model_copy(update={"name": name})


def _race(url: str, definition: ExperimentDefinition) -> None:
    engine = get_engine(url)
    init_store(engine)
    barrier = threading.Barrier(RACERS)

    def create(index: int) -> str:
        barrier.wait()
        try:
            store.create_definition(engine, _named(definition, f"racer {index}"))
        except InputError as exc:
            assert exc.field == "key"
            return "refused"
        return f"racer {index}"

    with ThreadPoolExecutor(RACERS) as pool:
        outcomes = list(pool.map(create, range(RACERS)))

    winners = [outcome for outcome in outcomes if outcome != "refused"]
    assert len(winners) == 1
    assert store.load_definition(engine, definition.key).name == winners[0]
    engine.dispose()


def test_create_definition_refuses_an_existing_key(
    tiny_definition: ExperimentDefinition, tmp_path: Path
) -> None:
    """A second create of the same key is an InputError; the first stays."""
    engine = get_engine(f"sqlite:///{tmp_path}/store.sqlite")
    init_store(engine)
    store.create_definition(engine, _named(tiny_definition, "first"))

    with pytest.raises(InputError, match="another experiment"):
        store.create_definition(engine, _named(tiny_definition, "second"))

    assert store.load_definition(engine, tiny_definition.key).name == "first"


def test_save_definition_still_replaces(
    tiny_definition: ExperimentDefinition, tmp_path: Path
) -> None:
    """save_definition (the CLI's re-analysis from YAML) updates in place."""
    engine = get_engine(f"sqlite:///{tmp_path}/store.sqlite")
    init_store(engine)
    store.create_definition(engine, _named(tiny_definition, "first"))
    store.save_definition(engine, _named(tiny_definition, "second"))
    assert store.load_definition(engine, tiny_definition.key).name == "second"


def test_racing_creates_on_sqlite_store_exactly_one(
    tiny_definition: ExperimentDefinition, tmp_path: Path
) -> None:
    """Eight threads create one key at once on SQLite: one wins, seven refused."""
    _race(f"sqlite:///{tmp_path}/store.sqlite", tiny_definition)


@pytest.mark.postgres
def test_racing_creates_on_postgres_store_exactly_one(
    tiny_definition: ExperimentDefinition, postgres_url: str
) -> None:
    """Eight threads create one key at once on PostgreSQL: one wins."""
    _race(postgres_url, tiny_definition)


def _save_race(url: str, definition: ExperimentDefinition) -> None:
    engine = get_engine(url)
    init_store(engine)
    barrier = threading.Barrier(RACERS)

    def save(index: int) -> str:
        barrier.wait()
        store.save_definition(engine, _named(definition, f"saver {index}"))
        return f"saver {index}"

    with ThreadPoolExecutor(RACERS) as pool:
        names = list(pool.map(save, range(RACERS)))

    assert store.load_definition(engine, definition.key).name in names
    assert len(store.list_definitions(engine)) == 1
    engine.dispose()


def test_racing_saves_on_sqlite_store_never_fail(
    tiny_definition: ExperimentDefinition, tmp_path: Path
) -> None:
    """Eight `analyze --save` of a new key at once: one row, no IntegrityError."""
    _save_race(f"sqlite:///{tmp_path}/store.sqlite", tiny_definition)


@pytest.mark.postgres
def test_racing_saves_on_postgres_store_never_fail(
    tiny_definition: ExperimentDefinition, postgres_url: str
) -> None:
    """The same on PostgreSQL."""
    _save_race(postgres_url, tiny_definition)
