"""Run the simulator: validate, simulate block by block, stream, swap in."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
from rich.table import Table

from veedel.errors import InputError
from veedel.warehouse.schema import TABLES
from veedel.warehouse.simulator.activity import BlockActivity, simulate_block
from veedel.warehouse.simulator.config import ExperimentSpec, SimulationConfig
from veedel.warehouse.simulator.experiments import METRIC_KINDS
from veedel.warehouse.simulator.records import SOURCE, block_records
from veedel.warehouse.simulator.truth import TRUTH_TABLES, TruthCollector, block_truth
from veedel.warehouse.simulator.writer import StagedWriter

__all__ = ["DEFAULT_START", "SimulationSummary", "simulate"]

log = logging.getLogger(__name__)

#: First simulated day when none is given (fixed, so a seed fully fixes the data).
DEFAULT_START = date(2025, 1, 6)
MAX_USERS = 50_000_000
MAX_DAYS = 3_650
_AHEAD = 2  # blocks simulated ahead of the writer

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SimulationSummary:
    """What a simulation run wrote.

    Attributes
    ----------
    users, days, seed, start
        The run's parameters; the simulated period is ``[start, end)``.
    rows
        Rows written per table, canonical tables first, then ``truth_*``.
    seconds
        Wall time of the run.
    """

    users: int
    days: int
    seed: int
    start: date
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def end(self) -> date:
        """The day after the last simulated day."""
        return self.start + timedelta(days=self.days)

    @property
    def total_rows(self) -> int:
        """Rows written over all tables."""
        return sum(self.rows.values())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form of the summary."""
        return {
            "users": self.users,
            "days": self.days,
            "seed": self.seed,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "rows": dict(self.rows),
            "total_rows": self.total_rows,
            "seconds": round(self.seconds, 3),
        }

    def __rich__(self) -> Table:
        # The period is half-open; a reader expects the last simulated day.
        last_day = self.end - timedelta(days=1)
        title = (
            f"Simulated {self.users:,} users over {self.days} days "
            f"({self.start.isoformat()} to {last_day.isoformat()}, seed {self.seed})"
        )
        table = Table(title=title, title_justify="left")
        table.add_column("table")
        table.add_column("rows written", justify="right")
        for name, rows in self.rows.items():
            table.add_row(name, f"{rows:,}")
        table.add_section()
        table.add_row("total", f"{self.total_rows:,}")
        table.caption = f"written in {self.seconds:.1f} s"
        return table


def _check(
    users: int, days: int, seed: int, start: date, config: SimulationConfig
) -> None:
    """Validate the public parameters once."""
    if (
        isinstance(users, bool)
        or not isinstance(users, int)
        or not 1 <= users <= MAX_USERS
    ):
        raise InputError(
            "users", f"must be a whole number from 1 to {MAX_USERS:,}", users
        )
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise InputError("days", f"must be a whole number from 1 to {MAX_DAYS:,}", days)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError("seed", "must be a whole number of at least 0", seed)
    if not isinstance(start, date) or isinstance(start, datetime):
        raise InputError("start", "must be a date such as 2025-01-06", start)
    today = datetime.now(UTC).date()
    if start + timedelta(days=days) > today:
        raise InputError(
            "start",
            f"plus {days} days must not pass today ({today.isoformat()}), or the "
            "warehouse would hold timestamps in the future",
            start.isoformat(),
            fix="Choose an earlier --start or fewer --days.",
        )
    if config.block_users < 1:
        raise InputError("block_users", "must be at least 1", config.block_users)
    for spec in config.experiments:
        _check_experiment(spec)


def _check_experiment(spec: ExperimentSpec) -> None:
    """An experiment's variants and effects must be ones the simulator plants."""
    where = f"experiment {spec.experiment_id}"
    names = [name for name, _ in spec.variants]
    if len(names) < 2 or any(not weight > 0 for _, weight in spec.variants):
        raise InputError(
            "variants",
            "must be two or more with positive weights",
            spec.variants,
            where=where,
        )
    for effect in spec.effects:
        if effect.variant not in names[1:]:
            raise InputError(
                "effect variant",
                f"must be a treated variant, one of {names[1:]}",
                effect.variant,
                where=where,
            )
        kind = METRIC_KINDS.get(effect.metric)
        if kind is None:
            raise InputError(
                "effect metric",
                f"must be one of {sorted(METRIC_KINDS)}",
                effect.metric,
                where=where,
            )
        if effect.kind != kind:
            raise InputError(
                "effect kind",
                f"must be {kind!r} for {effect.metric}",
                effect.kind,
                where=where,
            )


def _channels(config: SimulationConfig, start_us: int) -> pa.Table:
    created = start_us - 30 * 86_400 * 1_000_000
    n = len(config.channels)
    schema = TABLES["channels"].schema.to_pyarrow()
    return pa.Table.from_arrays(
        [
            pa.array([c.channel_id for c in config.channels], type=pa.string()),
            pa.array([c.name for c in config.channels], type=pa.string()),
            pa.array([created] * n, type=pa.timestamp("us")),
            pa.array([SOURCE] * n, type=pa.string()),
        ],
        schema=schema,
    )


def _delete_conditions(config: SimulationConfig) -> dict[str, str | None]:
    """Which live rows a run replaces: its own source and experiments."""
    experiments = ", ".join(
        "'" + e.replace("'", "''") + "'" for e in config.experiment_ids
    )
    owned = f"source = '{SOURCE}'"
    by_experiment = f"experiment_id IN ({experiments})" if experiments else "FALSE"
    conditions: dict[str, str | None] = {
        "users": owned,
        "channels": owned,
        "posts": owned,
        "votes": owned,
        "events": owned,
        "assignments": by_experiment,
        "exposures": by_experiment,
    }
    conditions.update(dict.fromkeys(TRUTH_TABLES))
    return conditions


def _block_tables(
    config: SimulationConfig,
    block: int,
    users: int,
    days: int,
    seed: np.random.SeedSequence,
    start_us: int,
) -> tuple[BlockActivity, dict[str, pa.Table]]:
    """Simulate one block and turn it into rows."""
    first = block * config.block_users
    n = min(config.block_users, users - first)
    activity = simulate_block(config, block, first, n, days, seed)
    tables = block_records(activity, config, start_us)
    tables.update(block_truth(activity, config))
    return activity, tables


def _blocks(
    config: SimulationConfig,
    users: int,
    days: int,
    seeds: list[np.random.SeedSequence],
    start_us: int,
) -> Iterator[tuple[BlockActivity, dict[str, pa.Table]]]:
    """Blocks in order, the next ones simulated while the caller writes.

    Writing waits on the engine, which lets go of the interpreter, so one
    worker thread simulating ahead keeps both busy; each block has its own
    random stream, so the data do not depend on the timing.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="simulator") as pool:
        pending: deque[Future[tuple[BlockActivity, dict[str, pa.Table]]]] = deque()
        for block, seed in enumerate(seeds):
            pending.append(
                pool.submit(_block_tables, config, block, users, days, seed, start_us)
            )
            if len(pending) > _AHEAD:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def simulate(
    con: Any,
    users: int = 10_000,
    days: int = 30,
    seed: int = 0,
    start: date | None = None,
    *,
    config: SimulationConfig | None = None,
    progress: Progress | None = None,
    chunk_rows: int = 500_000,
) -> SimulationSummary:
    """Simulate a location-based community into the warehouse ``con``.

    Parameters
    ----------
    con
        An Ibis backend, as returned by :func:`veedel.warehouse.connect`.
    users, days
        Number of users and of simulated days.
    seed
        Seed of the random streams; the same seed and parameters give the
        same rows, whatever ``chunk_rows``.
    start
        First simulated day (midnight UTC); default :data:`DEFAULT_START`.
    config
        The world's parameters; default :class:`SimulationConfig()`.
    progress
        Called as ``progress(users_done, users_total)`` after each block.
    chunk_rows
        Rows per table buffered before each insert (memory versus speed).

    Returns
    -------
    SimulationSummary
        Rows written per table.

    Notes
    -----
    Users are simulated in blocks of ``config.block_users``, block ``b`` from
    child ``b`` of ``numpy.random.SeedSequence(seed)``. Rows the simulator
    wrote before (``source = 'simulator'``, its experiments, the ``truth_*``
    tables) are replaced in one transaction at the end; rows of other sources
    stay.

    Examples
    --------
    >>> from veedel.warehouse import connect
    >>> summary = simulate(connect("duckdb://"), users=200, days=7, seed=1)
    >>> summary.rows["users"]
    200
    """
    config = config or SimulationConfig()
    start = start or DEFAULT_START
    _check(users, days, seed, start, config)
    began = time.perf_counter()
    start_us = (start - date(1970, 1, 1)).days * 86_400 * 1_000_000

    schemas = {name: spec.schema for name, spec in TABLES.items()}
    schemas.update(TRUTH_TABLES)
    writer = StagedWriter(con, schemas, chunk_rows=chunk_rows)
    truth = TruthCollector(config)
    n_blocks = -(-users // config.block_users)
    seeds = np.random.SeedSequence(seed).spawn(n_blocks)
    log.debug("Simulating %d users over %d days (seed %d)", users, days, seed)

    writer.open()
    try:
        writer.write("channels", _channels(config, start_us))
        for activity, tables in _blocks(config, users, days, seeds, start_us):
            for name, table in tables.items():
                writer.write(name, table)
            truth.add(activity)
            if progress is not None:
                first = activity.block * config.block_users
                progress(first + activity.population.n, users)
        for name, table in truth.tables().items():
            writer.write(name, table)
        writer.swap(_delete_conditions(config))
    except BaseException:
        writer.discard()
        raise

    summary = SimulationSummary(
        users=users,
        days=days,
        seed=seed,
        start=start,
        rows=dict(writer.rows),
        seconds=time.perf_counter() - began,
    )
    log.debug("Wrote %d simulated rows in %.1f s", summary.total_rows, summary.seconds)
    return summary
