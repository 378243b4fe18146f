"""Benchmark: response times of the experiment pages with 500 stored experiments.

Serves the app with uvicorn on a free local port and times, over HTTP, the
experiments page (its first page: rows 1-100 of 500, with the count of all 500)
and one experiment page with 20 metric rows, each as a ratio (median and p95)
to a static file served by the same app in the same run.

The stored results are real: a small simulated community is analysed once and
that result is stored under 500 keys (the pages only read stored results, so
what is timed is reading and rendering). The 20-metric page repeats the real
metric rows under 20 metric names.

Run: ``uv run python benchmarks/web_pages.py [--requests 200]``
"""

from __future__ import annotations

import argparse
import dataclasses
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prepare(data_dir: Path, experiments: int) -> tuple[Any, str]:
    """Simulate, analyse once, store ``experiments`` copies; return app and token."""
    from veedel.accounts import add_user, create_token
    from veedel.api.app import create_app
    from veedel.experiments.analysis import analyze
    from veedel.experiments.definitions import example_experiments
    from veedel.experiments.store import save_definition, save_result
    from veedel.settings import get_settings
    from veedel.warehouse import connect
    from veedel.warehouse.simulator import simulate

    settings = get_settings(data_dir=data_dir)
    con = connect(settings.resolved_warehouse_url())
    simulate(con, users=2000, days=35, seed=5)
    definition = example_experiments()["onboarding_checklist"]
    result = analyze(con, definition)
    con.disconnect()

    app = create_app(settings)
    add_user(app.state.store, "bench", "bench-password", "viewer")
    token = create_token(app.state.store, "bench", "benchmark")
    owners = ["growth@example.org", "feed@example.org", "safety@example.org"]
    for index in range(experiments):
        key = f"exp_{index:03d}"
        copy = definition.model_copy(
            update={
                "key": key,
                "name": f"Experiment {index}",
                "owner": owners[index % 3],
            }
        )
        save_definition(app.state.store, copy)
        save_result(app.state.store, dataclasses.replace(result, key=key))

    wide_rows = [
        dataclasses.replace(
            row, metric=f"{row.metric}_{copy}", name=f"{row.name} {copy}"
        )
        for copy in range(20)
        for row in result.metrics[:1]
    ]
    wide = dataclasses.replace(result, key="exp_000", metrics=tuple(wide_rows))
    save_result(app.state.store, wide)
    return app, token


def _time(client: httpx.Client, path: str, requests: int) -> list[float]:
    for _ in range(5):
        client.get(path).raise_for_status()
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - start)
        response.raise_for_status()
    return times


def _summary(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)]
    return statistics.median(ordered), p95


def main() -> None:
    """Run the benchmark and print a table of medians, p95s and ratios."""
    import uvicorn

    from veedel.web.experiments import PAGE_SIZE

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--experiments", type=int, default=500)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        print("Preparing: simulate, analyse, store …", flush=True)
        app, token = _prepare(Path(folder), args.experiments)
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)

        headers = {"Authorization": f"Bearer {token}"}
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            start = time.perf_counter()
            listed = client.get("/experiments")
            cold = time.perf_counter() - start
            listed.raise_for_status()
            rows = listed.text.split("<tbody>")[1].count('<th scope="row">')
            assert rows == min(PAGE_SIZE, args.experiments), rows
            page = client.get("/experiments/exp_000").text
            overall = page.split('id="slices-title"')[0].count("data-metric=")
            assert overall == 20, overall
            results = {
                "static file (/static/veedel.css)": _time(
                    client, "/static/veedel.css", args.requests
                ),
                f"/experiments page 1 ({rows} of {args.experiments} rows)": _time(
                    client, "/experiments", args.requests
                ),
                "/experiments/exp_000 (20 metrics)": _time(
                    client, "/experiments/exp_000", args.requests
                ),
            }
        server.should_exit = True
        thread.join(timeout=10)

    base_median, base_p95 = _summary(next(iter(results.values())))
    print(
        f"\n{'page':<44} {'median ms':>10} {'p95 ms':>9}"
        f" {'median x static':>16} {'p95 x static':>13}"
    )
    for name, times in results.items():
        median, p95 = _summary(times)
        print(
            f"{name:<44} {median * 1e3:>10.2f} {p95 * 1e3:>9.2f}"
            f" {median / base_median:>16.1f} {p95 / base_p95:>13.1f}"
        )
    print(f"\nFirst view of the experiments page (cold caches): {cold * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
