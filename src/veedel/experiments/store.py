"""Experiments and their results in the application store.

Two tables on :class:`veedel.store.Base`:

``experiment_definitions``
    one row per experiment key: the definition as YAML text (validated) and
    when it was created and last changed;
``experiment_results``
    one row per analysis run: the experiment key, the analysis date, the
    decision and the whole :class:`~veedel.experiments.results.ExperimentResult`
    as JSON, which holds the snapshot of the definitions and settings used, so
    any stored report can be shown again exactly as it was computed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

import yaml
from sqlalchemy import DateTime, Integer, String, Text, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from veedel.errors import InputError, NotFoundError
from veedel.experiments.definitions import ExperimentDefinition, load_experiment_text
from veedel.experiments.results import ExperimentResult
from veedel.store import Base, session_scope

__all__ = [
    "DefinitionRecord",
    "ResultRecord",
    "create_definition",
    "latest_result",
    "list_definitions",
    "list_results",
    "load_definition",
    "save_definition",
    "save_result",
]

log = logging.getLogger(__name__)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class DefinitionRecord(Base):
    """An experiment definition as stored (YAML text, validated on save)."""

    __tablename__ = "experiment_definitions"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str] = mapped_column(String(200), default="")
    yaml_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)


class ResultRecord(Base):
    """One stored analysis of an experiment."""

    __tablename__ = "experiment_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    experiment_key: Mapped[str] = mapped_column(String(64), index=True)
    as_of: Mapped[str] = mapped_column(String(10))
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    decision: Mapped[str] = mapped_column(String(20))
    payload: Mapped[str] = mapped_column(Text)


def _yaml(definition: ExperimentDefinition) -> str:
    return yaml.safe_dump(definition.model_dump(mode="json"), sort_keys=False)


def create_definition(engine: Engine, definition: ExperimentDefinition) -> None:
    """Store a new definition; InputError if ``definition.key`` is already used.

    The key is the table's primary key, so the database itself refuses the
    second of two creates racing for one key: nothing is ever replaced.
    """
    now = _now()
    row = {
        "key": definition.key,
        "name": definition.name,
        "owner": definition.owner,
        "yaml_text": _yaml(definition),
        "created_at": now,
        "updated_at": now,
    }
    try:
        with session_scope(engine) as session:
            session.execute(insert(DefinitionRecord).values(**row))
    except IntegrityError:
        raise InputError(
            "key",
            "must not be used by another experiment",
            definition.key,
            fix="Choose another key; keys identify experiments in the warehouse.",
        ) from None
    log.info("Created experiment definition %s", definition.key)


def save_definition(engine: Engine, definition: ExperimentDefinition) -> None:
    """Insert or replace the stored definition of ``definition.key``.

    For re-saving a definition from its YAML file; a new experiment from a form
    or the API goes through :func:`create_definition`, which never replaces.
    Saves racing for a new key never fail: the losers of the insert update.
    """
    try:
        create_definition(engine, definition)
        return
    except InputError:
        pass  # the key exists: replace its definition below
    with session_scope(engine) as session:
        session.execute(
            update(DefinitionRecord)
            .where(DefinitionRecord.key == definition.key)
            .values(
                name=definition.name,
                owner=definition.owner,
                yaml_text=_yaml(definition),
                updated_at=_now(),
            )
        )
    log.info("Stored experiment definition %s", definition.key)


def load_definition(engine: Engine, key: str) -> ExperimentDefinition:
    """The stored definition of ``key``; NotFoundError if there is none."""
    with session_scope(engine) as session:
        record = session.get(DefinitionRecord, key)
        if record is None:
            raise NotFoundError(f"No stored experiment {key!r}.")
        return load_experiment_text(record.yaml_text, where=f"store:{key}")


def list_definitions(engine: Engine) -> list[ExperimentDefinition]:
    """Every stored definition, by key."""
    with session_scope(engine) as session:
        records = session.scalars(
            select(DefinitionRecord).order_by(DefinitionRecord.key)
        ).all()
        return [
            load_experiment_text(r.yaml_text, where=f"store:{r.key}") for r in records
        ]


def save_result(engine: Engine, result: ExperimentResult) -> int:
    """Store ``result`` and return its id."""
    with session_scope(engine) as session:
        record = ResultRecord(
            experiment_key=result.key,
            as_of=result.as_of,
            computed_at=_now(),
            decision=result.verdict.decision,
            payload=result.to_json(),
        )
        session.add(record)
        session.flush()
        identifier = int(record.id)
    log.info("Stored result %d of experiment %s", identifier, result.key)
    return identifier


def list_results(engine: Engine, key: str | None = None) -> list[tuple[int, str, str]]:
    """``(id, experiment key, as_of)`` of stored results, newest first."""
    query = select(ResultRecord.id, ResultRecord.experiment_key, ResultRecord.as_of)
    if key is not None:
        query = query.where(ResultRecord.experiment_key == key)
    with session_scope(engine) as session:
        rows = session.execute(query.order_by(ResultRecord.id.desc())).all()
        return [(int(row[0]), str(row[1]), str(row[2])) for row in rows]


def latest_result(engine: Engine, key: str) -> ExperimentResult:
    """The newest stored result of experiment ``key``."""
    with session_scope(engine) as session:
        record = session.scalars(
            select(ResultRecord)
            .where(ResultRecord.experiment_key == key)
            .order_by(ResultRecord.id.desc())
            .limit(1)
        ).first()
        if record is None:
            raise NotFoundError(f"No stored result for experiment {key!r}.")
        return ExperimentResult.from_dict(json.loads(record.payload))
