"""The /text page in a real browser: the chart draws, the try-a-text box answers."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from veedel.accounts import add_user
from veedel.api.app import create_app
from veedel.settings import get_settings
from veedel.text import TextAnalyzer, enrich_posts
from veedel.warehouse import connect

pytestmark = pytest.mark.browser

BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _serving(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn in a thread; yields its URL."""
    import uvicorn

    port = _free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    uv_server = uvicorn.Server(config)
    thread = threading.Thread(target=uv_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv_server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uv_server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def server(tmp_path: Path, analyzer: TextAnalyzer) -> Iterator[str]:
    """The app over an enriched warehouse, served by uvicorn in a thread."""
    url = f"duckdb://{tmp_path / 'warehouse.duckdb'}"
    con = connect(url)
    posts = pd.DataFrame(
        {
            "post_id": ["1", "2", "3", "4"],
            "text": [
                "Wo gibt es in Köln einen guten Bäcker?",
                "Ich verkaufe mein Fahrrad in Köln für 80 Euro",
                "Lost my keys near Central Park yesterday",
                "The train is cancelled again, third time this week",
            ],
            "city": ["Köln", "Köln", "New York", "New York"],
            "channel_id": ["a", "b", "a", "b"],
            "created_at": pd.to_datetime(
                ["2024-01-01", "2024-01-02", "2024-01-09", "2024-01-10"]
            ),
        }
    )
    con.create_table("posts", posts)
    enrich_posts(con, analyzer=analyzer)
    con.disconnect()

    app = create_app(get_settings(warehouse_url=url))
    app.state.text_analyzer = analyzer
    add_user(app.state.store, "vera", "vera-password", "viewer")
    with _serving(app) as served:
        yield served


@pytest.fixture
def many_weeks_server(tmp_path: Path) -> Iterator[str]:
    """The app over 150 weeks of posts with hand-written features (no models)."""
    from veedel.text.enrich import FEATURES_SCHEMA, FEATURES_TABLE

    url = f"duckdb://{tmp_path / 'weeks.duckdb'}"
    con = connect(url)
    days = pd.date_range("2022-01-03", periods=150, freq="7D")
    ids = [f"p{i}" for i in range(len(days))]
    con.create_table(
        "posts",
        pd.DataFrame(
            {
                "post_id": ids,
                "text": [""] * len(ids),
                "city": ["Köln"] * len(ids),
                "channel_id": ["a"] * len(ids),
                "created_at": days,
            }
        ),
    )
    features = pd.DataFrame(
        {
            "post_id": ids,
            "language": ["de"] * len(ids),
            "language_confidence": [0.9] * len(ids),
            "nouns": [[] for _ in ids],
            "entities": [[] for _ in ids],
            "label": ["humour", "question_help"] * (len(ids) // 2),
            "label_confidence": [0.5] * len(ids),
            "enriched_at": pd.to_datetime(["2025-01-01"] * len(ids)),
        }
    )
    con.create_table(FEATURES_TABLE, features, schema=FEATURES_SCHEMA)
    con.disconnect()

    app = create_app(get_settings(warehouse_url=url))
    add_user(app.state.store, "vera", "vera-password", "viewer")
    with _serving(app) as served:
        yield served


@pytest.fixture
def page(chromium: Path) -> Iterator[Any]:
    """A fresh page of a headless Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), args=BROWSER_ARGS
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        yield context.new_page()
        browser.close()


def test_text_page_draws_the_chart_and_analyses_a_post(
    page: Any, server: str, artifacts_dir: Path
) -> None:
    """Sign in, see the label chart drawn as SVG, analyse a post in place."""
    page.goto(f"{server}/text")
    page.fill("#username", "vera")
    page.fill("#password", "vera-password")
    page.click("button.primary")
    page.wait_for_url(f"{server}/text")

    page.wait_for_selector('[data-spec-id="label-spec"][data-rendered="true"] svg')
    page.wait_for_selector('[data-spec-id="language-spec"][data-rendered="true"] svg')
    assert "Bäcker" in page.inner_text("main")

    page.fill("#text", "Angela Merkel besuchte gestern die Siemens AG in München.")
    page.click("text=Analyse")
    page.wait_for_selector("#analysis table")
    answer = page.inner_text("#analysis")
    assert "de (" in answer and "Angela Merkel" in answer and "PER" in answer
    page.screenshot(path=artifacts_dir / "text-report.png", full_page=True)


def test_weekly_chart_axis_labels_do_not_overlap(
    page: Any, many_weeks_server: str, artifacts_dir: Path
) -> None:
    """150 weeks of posts: the week axis shows a few dated labels, none over
    another (one label a week overlapped into a black band)."""
    server = many_weeks_server
    page.goto(f"{server}/text")
    page.fill("#username", "vera")
    page.fill("#password", "vera-password")
    page.click("button.primary")
    page.wait_for_url(f"{server}/text")
    page.wait_for_selector('[data-spec-id="label-spec"][data-rendered="true"] svg')

    labels = page.locator(
        '[data-spec-id="label-spec"] g[aria-label^="X-axis"] .role-axis-label text'
    )
    boxes = [labels.nth(i).bounding_box() for i in range(labels.count())]
    texts = labels.all_text_contents()
    page.screenshot(path=artifacts_dir / "text-weekly-chart.png", full_page=True)
    assert 3 <= len(boxes) <= 20, texts
    spans = sorted((box["x"], box["x"] + box["width"]) for box in boxes if box)
    assert all(left[1] <= right[0] for left, right in itertools.pairwise(spans)), texts
    assert all(text.endswith(("2022", "2023", "2024", "2025")) for text in texts)

    # On a phone the 640 px chart scrolls in its box; the page keeps its width.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.wait_for_selector('[data-spec-id="label-spec"][data-rendered="true"] svg')
    assert page.evaluate("document.documentElement.scrollWidth") == 390
