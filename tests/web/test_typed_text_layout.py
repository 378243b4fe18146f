"""Text people type, in a real browser: a very long word must not widen the
page, and right-to-left text must not swallow the words next to it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from web_helpers import CHROMIUM_ARGS, LiveServer, password_of

from veedel.experiments.definitions import ExperimentDefinition
from veedel.experiments.store import save_definition

pytestmark = pytest.mark.browser

LONG_WORD = "long" * 300
OWNER = "team שלום"


@pytest.fixture
def server(app: FastAPI) -> Iterator[LiveServer]:
    """The app, with one experiment of hostile typed text, served by uvicorn."""
    definition = ExperimentDefinition.model_validate(
        {
            "key": "typed_text",
            "name": f"Name {LONG_WORD[:190]}",
            "hypothesis": f"First line.\nSecond {LONG_WORD}",
            "owner": OWNER,
            "start": "2026-03-01",
            "variants": [
                {"key": "control", "weight": 0.5, "control": True},
                {"key": "treatment", "weight": 0.5},
            ],
            "metrics": {"primary": ["posting_rate"]},
        }
    )
    save_definition(app.state.store, definition)
    with LiveServer(app) as live:
        yield live


@contextmanager
def _signed_in_page(
    chromium: Path, server: LiveServer, path: str, width: int, height: int = 900
) -> Iterator[Any]:
    """A Chromium page of this size on ``path``, signed in there as vera."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(f"{server.url}{path}")
        page.fill("#username", "vera")
        page.fill("#password", password_of("vera"))
        page.click("button.primary")
        page.wait_for_url(f"{server.url}{path}")
        yield page
        browser.close()


def test_typed_text_wraps_and_stays_isolated(
    chromium: Path, server: LiveServer, artifacts_dir: Path
) -> None:
    """The list and the experiment page stay 1280 px wide (a 1,200-letter word
    made the page 10,409 px wide); the owner sits in its own bidi isolate, so
    the date after it is not reordered into it; the hypothesis keeps its line."""
    with _signed_in_page(chromium, server, "/experiments/typed_text", 1280) as page:
        width = "document.documentElement.scrollWidth"
        assert page.evaluate(width) == 1280
        assert page.inner_text(".meta bdi") == OWNER
        assert page.inner_text(".hypothesis bdi").startswith("First line.\nSecond")
        page.screenshot(path=artifacts_dir / "typed-text-page.png", full_page=True)

        page.goto(f"{server.url}/experiments")
        assert page.evaluate(width) == 1280
        assert page.inner_text("td.owner bdi") == OWNER


def _lines_of(page: Any, selector: str) -> list[int]:
    """How many lines the text of each element matching ``selector`` takes."""
    return list(
        page.eval_on_selector_all(
            selector,
            """elements => elements.map(element => {
                const range = document.createRange();
                range.selectNodeContents(element);
                const tops = new Set([...range.getClientRects()].map(r => r.top));
                return tops.size;
            })""",
        )
    )


@pytest.mark.parametrize("width", [1280, 1024])
def test_owner_addresses_stay_whole_in_the_list(
    chromium: Path, server: LiveServer, width: int
) -> None:
    """Each owner sits on one line (the list wrapped anywhere and cut
    'engagement@example.or|g'), while the 1,200-letter name still wraps in
    its box and the page keeps its width."""
    with _signed_in_page(chromium, server, "/experiments", width) as page:
        owners = page.locator("td.owner bdi").all_inner_texts()
        lines = dict(zip(owners, _lines_of(page, "td.owner bdi"), strict=True))
        assert "growth@example.org" in lines
        # An address has no space: one line, or it was cut inside a word.
        assert all(lines[owner] == 1 for owner in owners if " " not in owner), lines
        assert page.evaluate("document.documentElement.scrollWidth") == width


@pytest.mark.parametrize(
    "path",
    ["/experiments", "/experiments/typed_text", "/experiments/onboarding_checklist"],
)
def test_pages_do_not_scroll_sideways_on_a_phone(
    chromium: Path, server: LiveServer, artifacts_dir: Path, path: str
) -> None:
    """At 390 px neither the page, the experiment list nor a metric table
    scrolls sideways: one block per experiment and per metric."""
    with _signed_in_page(chromium, server, path, 390, height=844) as page:
        page.wait_for_load_state("networkidle")

        name = path.strip("/").replace("/", "-")
        page.screenshot(path=artifacts_dir / f"phone-{name}.png", full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") == 390
        if path == "/experiments":
            inner = page.eval_on_selector(
                "#experiment-rows", "e => [e.scrollWidth, e.clientWidth]"
            )
            assert inner[0] <= inner[1]
            assert _lines_of(page, "td.owner bdi")[0] == 1
        boxes = page.eval_on_selector_all(
            "table.metrics",
            "ts => ts.map(t => t.closest('.card'))"
            ".map(c => c.scrollWidth <= c.clientWidth)",
        )
        assert boxes == [True] * len(boxes)
        if path.endswith("onboarding_checklist"):
            assert len(boxes) >= 2
