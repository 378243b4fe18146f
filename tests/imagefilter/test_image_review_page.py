"""The reviewer page in a real browser: blurred until revealed, keys decide."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
from fastapi import FastAPI
from image_review_helpers import CHROMIUM_ARGS_IMAGES
from image_samples import PHOTOS
from sqlalchemy import select

from veedel.imagefilter import Policy
from veedel.imagefilter.settings import load_settings
from veedel.imagefilter.tables import ReviewDecision
from veedel.store import session_scope


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.browser
def test_reviewer_works_the_queue_with_the_keyboard(
    app: FastAPI, chromium: Path, artifacts_dir: Path
) -> None:
    """Two queued photos: reveal with V, approve with A, reject with R and a
    reason; then the figures page draws the tuning chart from those labels."""
    import uvicorn
    from playwright.sync_api import expect, sync_playwright

    queue = load_settings().queue(app.state.store)
    policy = Policy({"post_image": (0.0, 0.9)})
    for name, score in (("rocket", 0.42), ("chelsea", 0.61)):
        verdict = policy.decide(score, "post_image", "test-model")
        queue.submit(
            verdict,
            PHOTOS[name].read_bytes(),
            ref=name,
            media_type="image/png" if name == "chelsea" else "image/jpeg",
        )

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(chromium), args=CHROMIUM_ARGS_IMAGES
            )
            page = browser.new_page()
            page.goto(f"{base}/login?next=/review")
            page.fill("input[name=username]", "ed")
            page.fill("input[name=password]", "ed-password")
            page.press("input[name=password]", "Enter")
            page.wait_for_url(f"{base}/review")

            image = page.locator("#image")
            expect(page.locator("#review")).to_have_attribute("data-state", "ready")
            expect(page.locator("#score")).to_have_text("0.420")
            expect(page.locator("#reason")).to_contain_text("review band")
            expect(image).to_have_class("blurred")
            page.wait_for_function("document.getElementById('image').naturalWidth > 0")
            page.screenshot(path=str(artifacts_dir / "review-blurred.png"))

            page.keyboard.press("v")
            expect(image).not_to_have_class("blurred")
            page.keyboard.press("a")
            expect(page.locator("#count")).to_have_text("1")
            expect(page.locator("#score")).to_have_text("0.610")
            expect(image).to_have_class("blurred")

            reason = page.locator("#decision-reason")
            reason.press("a")  # typing "a" in the field must not approve
            expect(reason).to_have_value("a")
            expect(page.locator("#count")).to_have_text("1")
            reason.fill("explicit nudity")
            reason.evaluate("field => field.blur()")
            page.keyboard.press("r")
            expect(page.locator("#count")).to_have_text("2")
            expect(page.locator("#status")).to_contain_text("queue is empty")
            page.screenshot(path=str(artifacts_dir / "review-empty.png"))

            page.click("text=Figures and thresholds")
            chart = page.locator("#tuning-chart")
            expect(chart).to_have_attribute("data-rendered", "true")
            expect(chart.locator("svg")).to_have_count(1)
            page.screenshot(
                path=str(artifacts_dir / "review-figures.png"), full_page=True
            )
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)

    with session_scope(app.state.store) as session:
        decisions = session.execute(
            select(
                ReviewDecision.reviewer, ReviewDecision.verdict, ReviewDecision.reason
            ).order_by(ReviewDecision.id)
        ).all()
    assert [tuple(row) for row in decisions] == [
        ("ed", "approve", ""),
        ("ed", "reject", "explicit nudity"),
    ]
