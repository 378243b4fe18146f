"""``veedel demo`` end to end: the real command in a subprocess, served, run twice.

The first run builds a fresh data folder, runs every product and serves the web
app; the test signs in over HTTP and reads the pages. The second run over the
same folder must find the real data already present and add no duplicates.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.cookies import SimpleCookie
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

# At this size (the web tests' community) the onboarding checklist ships and
# the A/A check keeps running; a small --text-posts keeps the runs short.
USERS, DAYS, SEED, TEXT_POSTS = 1500, 35, 3, 40
REAL_SOURCES = ("reddit", "stackexchange:quantumcomputing")
REAL_POSTS = {"reddit": 10_000, "stackexchange:quantumcomputing": 5_085}

# A guard against a hung demo, not a speed check: the demo here takes about a
# minute, so this only ends a run that would never finish.
STARTUP_LIMIT_SECONDS = 900

SIGN_IN = re.compile(
    r"Sign in at (?P<url>http://127\.0\.0\.1:\d+)/ as admin with password "
    r"(?P<password>[A-Za-z0-9_-]+)"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _demo(data_dir: Path, *options: str) -> list[str]:
    veedel = Path(sys.executable).with_name("veedel")
    return [
        str(veedel),
        "demo",
        "--data-dir",
        str(data_dir),
        "--users",
        str(USERS),
        "--days",
        str(DAYS),
        "--seed",
        str(SEED),
        "--text-posts",
        str(TEXT_POSTS),
        *options,
    ]


def _environment() -> dict[str, str]:
    # Wide lines so that no table cell or sign-in line wraps in the output.
    return os.environ | {"COLUMNS": "200", "NO_COLOR": "1"}


@contextmanager
def _served_demo(
    data_dir: Path, log: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Run the demo with serving; yield the process and its output up to serving.

    The server is stopped with SIGINT, as Ctrl+C stops it; a process still
    running when the test fails is killed.
    """
    port = _free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            _demo(data_dir, "--port", str(port)),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_environment(),
        )
    try:
        yield process, _wait_for_server(process, log, port)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _wait_for_server(process: subprocess.Popen[bytes], log: Path, port: int) -> str:
    """The output once the app answers /health; fails if the demo ends first."""
    deadline = time.monotonic() + STARTUP_LIMIT_SECONDS
    while time.monotonic() < deadline:
        output = log.read_text(encoding="utf-8", errors="replace")
        if process.poll() is not None:
            pytest.fail(f"veedel demo ended before serving:\n{output}")
        if f"Serving on http://127.0.0.1:{port}" in output and _healthy(port):
            return log.read_text(encoding="utf-8")
        time.sleep(0.5)
    pytest.fail("veedel demo did not start serving")


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
    except httpx.TransportError:
        return False


def _browser(url: str) -> httpx.Client:
    """A client that keeps the app's cookies the way a browser does here.

    The app marks its cookies Secure. Browsers still send those to
    http://127.0.0.1 (a local address counts as secure); Python's cookie jar
    sends them over HTTPS only, so this client keeps them itself.
    """
    jar: dict[str, str] = {}

    def send(request: httpx.Request) -> None:
        if jar:
            request.headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())

    def keep(response: httpx.Response) -> None:
        for header in response.headers.get_list("set-cookie"):
            cookie: SimpleCookie = SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                if morsel.value and morsel["max-age"] != "0":
                    jar[name] = morsel.value
                else:
                    jar.pop(name, None)

    return httpx.Client(
        base_url=url, event_hooks={"request": [send], "response": [keep]}
    )


def _sign_in(client: httpx.Client, password: str) -> int:
    """Sign in as the demo's admin; return the status (303 when signed in)."""
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None, form
    response = client.post(
        "/login",
        data={
            "username": "admin",
            "password": password,
            "next": "/",
            "csrf_token": token.group(1),
        },
    )
    return response.status_code


def _page(client: httpx.Client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, f"{path}: {response.status_code}"
    return html.unescape(response.text)


def _cells(output: str) -> list[list[str]]:
    """The cells of every table row in the output (box-drawn with │)."""
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in output.splitlines()
        if line.lstrip().startswith("│")
    ]


def _section(output: str, title: str) -> str:
    """The output of the demo step named ``title``, up to the next step."""
    rule = re.search(rf"─ \d+/\d+ {re.escape(title)} ─", output)
    assert rule is not None, f"no step {title!r} in:\n{output}"
    after = re.search(r"─ \d+/\d+ ", output[rule.end() :])
    return output[rule.end() : rule.end() + after.start() if after else None]


def _verdicts(output: str) -> dict[str, str]:
    """Experiment key to verdict label, from the demo's 'Simulated experiments'."""
    table = _section(output, "Experiments")
    return {row[0]: row[1] for row in _cells(table) if len(row) == 3 and row[0]}


def _ingest_totals(output: str) -> list[list[str]]:
    """Each real source's total row: read, written, already present, rejected."""
    table = _section(output, "Build the warehouse")
    return [row[1:] for row in _cells(table) if row[0] == "total" and len(row) == 5]


def _enriched(output: str) -> dict[str, str]:
    """Source to posts enriched in this run, from 'Posts enriched in this run'."""
    rows = _cells(_section(output, "Text analytics"))
    return {row[0]: row[1] for row in rows if row[0] in (*REAL_SOURCES, "simulator")}


def _summary(output: str) -> list[list[str]]:
    """The rows of 'What is in the warehouse'."""
    return _cells(_section(output, "What is in the warehouse"))


def _truth(warehouse: Path) -> pd.DataFrame:
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.sql(
            "SELECT experiment_id, effect_relative FROM truth_experiments"
        ).df()


def _bundled(folder: str, name: str) -> pd.DataFrame:
    path = resources.files("veedel.data") / "bundled" / folder / name
    return pd.read_parquet(str(path))


def _assert_clean(output: str) -> None:
    assert "Traceback" not in output, output
    assert "Failed:" not in output and "demo step(s) failed" not in output, output


def _served_run(data_dir: Path, log: Path) -> tuple[str, dict[str, Any]]:
    """Run the served demo, read its pages as the admin, stop it with Ctrl+C.

    Returns the demo's output and what the app served: the pages by path, each
    experiment's page by key, the password and the first review item with its
    image.
    """
    with _served_demo(data_dir, log) as (process, output):
        match = SIGN_IN.search(output)
        assert match is not None, output
        with _browser(match["url"]) as client:
            assert _sign_in(client, match["password"]) == 303
            served: dict[str, Any] = {
                path: _page(client, path)
                for path in ("/experiments", "/text", "/review")
            }
            served["experiments"] = {
                key: _page(client, f"/experiments/{key}") for key in _verdicts(output)
            }
            claim = client.get("/api/v1/review/next")
            assert claim.status_code == 200, claim.text
            served["claim"] = claim.json()
            served["image"] = client.get(claim.json()["image_url"])
        served["password"] = match["password"]
        with _browser(match["url"]) as client:
            served["wrong password"] = _sign_in(client, match["password"] + "x")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    output = log.read_text(encoding="utf-8")
    _assert_clean(output)
    return output, served


def test_demo_runs_every_product_serves_them_and_runs_again(tmp_path: Path) -> None:
    """The real demo on a fresh folder: every step passes with the figures of its
    data, the served pages show them to the signed-in admin, Ctrl+C stops the
    server cleanly, and a second run adds nothing twice."""
    data_dir = tmp_path / "demo-data"
    first, served = _served_run(data_dir, tmp_path / "first.log")

    # Every step ran on the data it was given.
    assert "Warehouse check passed: 0 errors" in first
    assert _ingest_totals(first) == [
        ["24,784", "24,784", "0", "0"],
        ["10,010", "10,010", "0", "0"],
    ]
    assert _enriched(first) == {
        source: str(TEXT_POSTS) for source in (*REAL_SOURCES, "simulator")
    }
    assert f"At most {TEXT_POSTS} new posts per source are enriched" in first
    asos = _bundled("asos", "asos_digital_experiments_dataset.parquet")
    upworthy = _bundled("upworthy", "upworthy_exploratory_clean.parquet")
    assert asos.experiment_id.nunique() == 78
    assert f"ASOS: {asos.experiment_id.nunique()} experiments" in first
    tests, arms = upworthy.clickability_test_id.nunique(), len(upworthy)
    assert f"Upworthy: {tests:,} tests, {arms:,} arms" in first

    # The simulator's ground truth: the experiment with no planted effect is
    # neither shipped nor stopped; the planted +8% channel joins ships.
    truth = _truth(data_dir / "warehouse.duckdb")
    planted = truth.groupby("experiment_id").effect_relative.apply(
        lambda effects: bool((effects != 0).any())
    )
    verdicts = _verdicts(first)
    assert set(verdicts) == set(planted.index)
    assert [key for key, has_effect in planted.items() if not has_effect] == [
        "aa_check"
    ]
    assert verdicts["aa_check"] not in ("Ship", "Don't ship")
    assert verdicts["onboarding_checklist"] == "Ship"

    # The pages show the same experiments, verdicts and counts as the terminal.
    for key, label in verdicts.items():
        assert key in served["/experiments"]
        shown = re.search(r'class="vlabel">([^<]+)<', served["experiments"][key])
        assert shown is not None and shown.group(1) == label
    assert "A/A check" in served["experiments"]["aa_check"]
    n_text = TEXT_POSTS * 3
    assert f"{n_text} enriched posts" in first
    assert f"{n_text} enriched posts" in served["/text"]
    assert served["wrong password"] == 401

    # The reviewer's first item is one of the photos the demo queued.
    assert "Image review" in served["/review"]
    image_rows = _cells(_section(first, "Image filter"))
    queued = {row[0] for row in image_rows if row[-1] == "audit"}
    photos = {
        hashlib.sha256((data_dir / "images-demo" / name).read_bytes()).hexdigest()
        for name in queued
    }
    assert served["image"].status_code == 200
    assert hashlib.sha256(served["image"].content).hexdigest() in photos
    assert served["claim"]["sha256"] in photos

    # The second run: real data already present, the simulation replaced, the
    # next posts enriched, a new password, and nothing stored twice.
    second, served_again = _served_run(data_dir, tmp_path / "second.log")
    assert _ingest_totals(second) == [
        ["24,784", "0", "24,784", "0"],
        ["10,010", "0", "10,010", "0"],
    ]
    assert _enriched(second) == _enriched(first)
    assert _verdicts(second) == verdicts
    assert served_again["password"] != served["password"]
    assert served_again["/experiments"].count('class="key"') == len(verdicts)
    assert f"{2 * n_text} enriched posts" in served_again["/text"]
    _assert_warehouse_unchanged(_summary(first), _summary(second))
    _assert_no_duplicates(data_dir, n_enriched=2 * n_text, n_queued=len(queued))


def _assert_warehouse_unchanged(
    first: list[list[str]], second: list[list[str]]
) -> None:
    """Every row of the summary is the same, except the text features (more)."""
    features = [row for row in second if row[0] == "post_text_features"]
    assert features and features[0][1] == f"{2 * TEXT_POSTS * 3:,}"
    assert [row for row in first if row[0] != "post_text_features"] == [
        row for row in second if row[0] != "post_text_features"
    ]


def _assert_no_duplicates(data_dir: Path, n_enriched: int, n_queued: int) -> None:
    """Each post, text feature, experiment and review item is stored once."""
    import duckdb
    from sqlalchemy import create_engine, text

    from veedel.experiments.store import list_definitions

    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        posts = con.sql(
            "SELECT source, count(*), count(DISTINCT post_id) FROM posts GROUP BY 1"
        ).fetchall()
        features = con.sql(
            "SELECT count(*), count(DISTINCT post_id) FROM post_text_features"
        ).fetchone()
    by_source: dict[Any, tuple[int, int]] = {s: (n, d) for s, n, d in posts}
    for source, n in REAL_POSTS.items():
        assert by_source[source] == (n, n)
    assert all(n == distinct for n, distinct in by_source.values())
    assert features == (n_enriched, n_enriched)

    engine = create_engine(f"sqlite:///{data_dir / 'store.sqlite'}")
    keys = [definition.key for definition in list_definitions(engine)]
    with engine.connect() as store:
        items = text("SELECT count(*) FROM imagefilter_review_items")
        n_items = store.execute(items).scalar()
    engine.dispose()
    assert len(keys) == len(set(keys)) == 4
    assert n_items == n_queued
