"""The /text page in a real browser: the chart draws, the try-a-text box answers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
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


@pytest.fixture
def server(tmp_path: Path, analyzer: TextAnalyzer) -> Iterator[str]:
    """The app over an enriched warehouse, served by uvicorn in a thread."""
    import uvicorn

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
