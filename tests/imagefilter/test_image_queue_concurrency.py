"""Many reviewers at once, on threads and in processes: no item twice, none lost.

Three processes with four threads each (twelve reviewers) empty a queue of 240
items; every item must be claimed and decided exactly once. The same on a
SQLite file and on a real PostgreSQL server.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter

import pytest
from queue_workers import fill, work_queue
from sqlalchemy import Engine, func, select

from veedel.imagefilter import ReviewQueue
from veedel.imagefilter.stats import queue_stats
from veedel.imagefilter.tables import AuditEvent, ReviewDecision
from veedel.store import get_engine, init_store, session_scope

N_ITEMS = 240
N_PROCESSES = 3
N_THREADS = 4


def _run_reviewers(engine: Engine, url: str) -> None:
    items = fill(ReviewQueue(engine), N_ITEMS)

    # Spawn, not fork: a forked copy of a busy test worker can inherit a lock
    # held by one of its threads (database pools, model runtimes) and hang.
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(N_PROCESSES)
    outbox = context.Queue()
    processes = [
        context.Process(
            target=work_queue, args=(url, f"p{n}", N_THREADS, start, outbox)
        )
        for n in range(N_PROCESSES)
    ]
    for process in processes:
        process.start()
    results = [outbox.get(timeout=600) for _ in processes]
    failures = [result for result in results if isinstance(result, str)]
    assert failures == []
    for process in processes:
        process.join(timeout=30)
    taken = [item for result in results for item in result]

    counts = Counter(taken)
    assert [item for item, count in counts.items() if count > 1] == []
    assert sorted(taken) == sorted(items)
    assert all(process.exitcode == 0 for process in processes)
    with session_scope(engine) as session:
        decided = session.scalars(select(ReviewDecision.item_id)).all()
        claims = session.scalar(
            select(func.count()).where(AuditEvent.event == "claimed")
        )
    assert sorted(decided) == sorted(items)
    assert claims == N_ITEMS
    stats = queue_stats(engine)
    assert (stats.open, stats.held, stats.decided) == (0, 0, N_ITEMS)


def test_concurrent_reviewers_sqlite(sqlite_engine: Engine) -> None:
    """Twelve reviewers in three processes share one SQLite file correctly."""
    _run_reviewers(sqlite_engine, str(sqlite_engine.url))


@pytest.mark.postgres
def test_concurrent_reviewers_postgres(postgres_url: str) -> None:
    """Twelve reviewers in three processes share one PostgreSQL database correctly."""
    engine = get_engine(postgres_url)
    init_store(engine)
    try:
        _run_reviewers(engine, postgres_url)
    finally:
        engine.dispose()
