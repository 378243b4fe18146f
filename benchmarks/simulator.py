"""Benchmark: the simulator against writing a plain Arrow table of the same size.

Run with ``uv run python benchmarks/simulator.py`` (``--sizes 10000 100000``
and ``--days 30`` are the defaults). For each size, in one run:

* the simulator writes ``size`` users over ``days`` days into a fresh DuckDB
  file (wall time, rows written, rows per second, peak memory);
* the baseline inserts the same number of rows of a ready-made Arrow table
  (the events layout: an id, a user, a name, a timestamp, a source) into a
  fresh DuckDB file in chunks of the same size;
* the ratio of the two wall times says what simulating costs over writing;
* a third run of the simulator under ``tracemalloc`` gives the peak of the
  simulator's own allocations (numpy, Arrow buffers, Python objects), which
  should stay flat as the number of users grows, unlike the process's peak
  RSS that includes the engine's cache (that run's time is not reported).

Each measurement runs in its own process so peak memory is its own. No
assertion on time: this is a report, not a test.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

CHUNK_ROWS = 500_000


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _simulate(users: int, days: int, path: Path, traced: bool) -> dict[str, Any]:
    import tracemalloc

    from veedel.warehouse import connect
    from veedel.warehouse.simulator import simulate

    con = connect(f"duckdb://{path}")
    if traced:
        tracemalloc.start()
    began = time.perf_counter()
    summary = simulate(con, users=users, days=days, seed=1, chunk_rows=CHUNK_ROWS)
    seconds = time.perf_counter() - began
    heap = tracemalloc.get_traced_memory()[1] / 2**20 if traced else 0.0
    return {
        "seconds": seconds,
        "rows": summary.total_rows,
        "peak_mib": _peak_mib(),
        "heap_mib": heap,
    }


def _baseline(rows: int, path: Path) -> dict[str, Any]:
    import duckdb

    schema = pa.schema(
        [
            ("event_id", pa.string()),
            ("user_id", pa.string()),
            ("name", pa.string()),
            ("timestamp", pa.timestamp("us")),
            ("source", pa.string()),
        ]
    )
    rng = np.random.default_rng(0)
    numbers = pa.array(np.arange(CHUNK_ROWS))
    chunk = pa.Table.from_arrays(
        [
            pc.binary_join_element_wise("e-", pc.cast(numbers, pa.string()), ""),
            pc.binary_join_element_wise(
                "u-",
                pc.cast(pa.array(rng.integers(0, 10**6, CHUNK_ROWS)), pa.string()),
                "",
            ),
            pa.array(["app_open", "feed_view"]).take(
                pa.array(rng.integers(0, 2, CHUNK_ROWS))
            ),
            pa.array(rng.integers(0, 10**15, CHUNK_ROWS), type=pa.timestamp("us")),
            pa.array(["baseline"]).take(pa.array(np.zeros(CHUNK_ROWS, np.int64))),
        ],
        schema=schema,
    )
    con = duckdb.connect(str(path))
    began = time.perf_counter()
    con.execute(
        "CREATE TABLE events (event_id VARCHAR, user_id VARCHAR, name VARCHAR,"
        " timestamp TIMESTAMP, source VARCHAR)"
    )
    written = 0
    while written < rows:
        part = chunk.slice(0, min(CHUNK_ROWS, rows - written))
        con.register("part", part)
        con.execute("INSERT INTO events SELECT * FROM part")
        con.unregister("part")
        written += part.num_rows
    con.close()
    return {
        "seconds": time.perf_counter() - began,
        "rows": written,
        "peak_mib": _peak_mib(),
    }


def _in_process(kind: str, size: int, days: int) -> dict[str, Any]:
    """Run one measurement in a fresh process and read its JSON line."""
    command = [sys.executable, __file__, "--one", kind, str(size), str(days)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one:
        kind, size, days = args.one[0], int(args.one[1]), int(args.one[2])
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "bench.duckdb"
            if kind in ("simulate", "traced"):
                result = _simulate(size, days, path, traced=kind == "traced")
            else:
                result = _baseline(size, path)
        print(json.dumps(result))
        return

    print(f"simulator benchmark, {args.days} days, chunks of {CHUNK_ROWS:,} rows")
    header = (
        f"{'users':>9} {'rows':>12} {'sim s':>8} {'sim rows/s':>12} {'RSS MiB':>8}"
        f" {'heap MiB':>8} {'base s':>8} {'base rows/s':>12} {'ratio':>6}"
    )
    print(header)
    for size in args.sizes:
        sim = _in_process("simulate", size, args.days)
        base = _in_process("baseline", sim["rows"], args.days)
        traced = _in_process("traced", size, args.days)
        print(
            f"{size:>9,} {sim['rows']:>12,} {sim['seconds']:>8.1f}"
            f" {sim['rows'] / sim['seconds']:>12,.0f} {sim['peak_mib']:>8.0f}"
            f" {traced['heap_mib']:>8.0f} {base['seconds']:>8.1f}"
            f" {base['rows'] / base['seconds']:>12,.0f}"
            f" {sim['seconds'] / base['seconds']:>6.1f}"
        )


if __name__ == "__main__":
    main()
