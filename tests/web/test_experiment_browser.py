"""The experiment pages in a real browser: Debian's Chromium driven by Playwright.

A live uvicorn server serves the app over the session's simulated warehouse
and stored analyses. Screenshots go to the artefacts folder.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from web_helpers import CHROMIUM_ARGS, LiveServer, password_of

from veedel.experiments import stats
from veedel.experiments.definitions import ExperimentDefinition
from veedel.experiments.planning import plan_from_history
from veedel.experiments.results import ExperimentResult
from veedel.experiments.store import list_definitions
from veedel.warehouse import connect

pytestmark = pytest.mark.browser

Analysed = dict[str, tuple[ExperimentDefinition, ExperimentResult]]


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Any]:
    """One headless Chromium for the module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


@pytest.fixture
def server(app: FastAPI) -> Iterator[LiveServer]:
    """The app served by uvicorn on a free port."""
    with LiveServer(app) as live:
        yield live


def open_page(browser: Any, javascript: bool = True) -> Any:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, java_script_enabled=javascript
    )
    context.set_default_timeout(15_000)
    return context.new_page()


def sign_in(page: Any, server: LiveServer, name: str, target: str = "/") -> None:
    """Sign in through the sign-in form, landing on ``target``."""
    page.goto(f"{server.url}{target}")
    page.fill("#username", name)
    page.fill("#password", password_of(name))
    page.click("button.primary")
    page.wait_for_url(f"{server.url}{target}")


def test_sign_in_open_an_experiment_and_read_it(
    browser: Any, server: LiveServer, analysed: Analysed, artifacts_dir: Path
) -> None:
    """A viewer signs in, opens the shipped experiment, reads verdict and table."""
    _, result = analysed["onboarding_checklist"]
    page = open_page(browser)
    sign_in(page, server, "vera", "/experiments")
    page.screenshot(path=artifacts_dir / "experiments-list.png", full_page=True)

    page.click("text=Onboarding checklist")
    page.wait_for_url("**/experiments/onboarding_checklist")
    assert page.inner_text(".verdict .vlabel") == result.verdict.label
    assert page.inner_text(".verdict .vsentence") == result.verdict.explanation

    rows = page.locator("#section-primary table.metrics tbody tr[data-metric]")
    primary = [m for m in result.metrics if m.role == "primary"]
    assert rows.count() == len(primary)
    first = rows.nth(0)
    assert primary[0].name in first.inner_text()
    label = primary[0].outcome.replace("_", " ")
    assert first.locator(".outcome").first.inner_text().strip() == label

    page.wait_for_selector("#effect-chart[data-rendered] svg")
    page.screenshot(path=artifacts_dir / "experiment-page.png", full_page=True)
    page.context.close()


def test_experiment_page_reads_with_javascript_off(
    browser: Any, server: LiveServer, analysed: Analysed, artifacts_dir: Path
) -> None:
    """Without JavaScript the verdict, the table, the bars and the chart table show."""
    _, result = analysed["onboarding_checklist"]
    page = open_page(browser, javascript=False)
    sign_in(page, server, "vera", "/experiments/onboarding_checklist")
    assert page.inner_text(".verdict .vlabel") == result.verdict.label
    assert page.locator("svg.ibar").count() == len(result.metrics) + len(result.slices)
    assert page.is_visible("text=The chart needs JavaScript")
    page.click("text=The chart's numbers as a table")
    assert page.locator("details.chartdata tbody tr").count() == len(result.daily)
    page.screenshot(path=artifacts_dir / "experiment-page-no-js.png", full_page=True)
    page.context.close()


def test_keyboard_reaches_content_and_help(browser: Any, server: LiveServer) -> None:
    """Tab reaches the skip link first; help opens with Enter; links follow Enter."""
    page = open_page(browser)
    sign_in(page, server, "vera", "/experiments/onboarding_checklist")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Skip to content"

    summary = page.locator("#verdict-title ~ details.help summary")
    summary.focus()
    page.keyboard.press("Enter")
    assert page.locator("#verdict-title ~ details.help").get_attribute("open") == ""

    page.goto(f"{server.url}/experiments")
    link = page.locator("a[href='/experiments/aa_check']")
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/experiments/aa_check")
    page.context.close()


def test_search_narrows_the_list_as_you_type(browser: Any, server: LiveServer) -> None:
    """Typing in the search box updates the rows through HTMX."""
    page = open_page(browser)
    sign_in(page, server, "vera", "/experiments")
    assert page.locator("table.experiments tbody tr").count() == 2
    page.fill("#q", "onboarding")
    page.wait_for_function(
        "document.querySelectorAll('table.experiments tbody tr').length === 1"
    )
    assert "Onboarding checklist" in page.inner_text("table.experiments tbody")
    page.context.close()


def fill_new_experiment(page: Any, key: str) -> None:
    page.fill("#name", "Bigger compose button")
    page.fill("#key", key)
    page.fill("#hypothesis", "A bigger compose button makes more people post.")
    page.fill("#start", "2026-03-01")
    page.check("input[name=primary][value=posting_rate]")
    page.check("input[name=guardrail][value=reports_per_user]")
    page.check("input[name=secondary][value=sessions_per_user]")


def test_create_an_experiment_through_the_form(
    browser: Any, server: LiveServer, app: FastAPI, artifacts_dir: Path
) -> None:
    """An editor fills in the form, sees a mistake explained, fixes it, creates."""
    page = open_page(browser)
    sign_in(page, server, "ed", "/experiments/new")
    fill_new_experiment(page, "bigger_button")
    page.fill("input[name=variant_weight_1]", "0.6")
    page.click("button[value=create]")
    alert = page.inner_text("#form-errors")
    assert "Nothing was saved" in alert and "must sum to 1" in alert
    page.screenshot(path=artifacts_dir / "new-experiment-error.png", full_page=True)
    assert "bigger_button" not in [d.key for d in list_definitions(app.state.store)]

    page.fill("input[name=variant_weight_1]", "0.5")
    page.click("button[value=create]")
    page.wait_for_url("**/experiments/bigger_button?created=1")
    assert page.inner_text("h1").startswith("Bigger compose button")
    stored = {d.key: d for d in list_definitions(app.state.store)}
    assert stored["bigger_button"].metrics.primary == ("posting_rate",)
    page.screenshot(path=artifacts_dir / "new-experiment-created.png", full_page=True)
    page.context.close()


def test_power_calculator_answer_equals_the_engine(
    browser: Any, server: LiveServer, warehouse_url: str, artifacts_dir: Path
) -> None:
    """The calculator's users per variant and days equal the engine's numbers."""
    page = open_page(browser)
    sign_in(page, server, "ed", "/experiments/new")
    fill_new_experiment(page, "plan_check")
    page.select_option("#plan_metric", "day1_retention")
    page.fill("#mde_percent", "10")
    page.click("button.calc")
    answer = page.wait_for_selector("#plan-answer [data-n]")
    n_shown = int(answer.get_attribute("data-n"))
    days_shown = int(page.get_attribute("#plan-answer [data-days]", "data-days"))
    page.screenshot(path=artifacts_dir / "power-calculator.png", full_page=True)
    page.context.close()

    con = connect(warehouse_url)
    plan = plan_from_history(con, "day1_retention", 0.10, alpha=0.05, power=0.8)
    con.disconnect()
    assert plan.baseline_mean is not None and plan.daily_users is not None
    baseline = stats.Baseline.for_proportion(plan.baseline_mean)
    n = float(stats.sample_size_per_arm(baseline, 0.10, relative=True))
    assert n_shown == math.ceil(n) == plan.n_per_variant
    assert days_shown == plan.days
    assert days_shown >= float(stats.days_needed(n, plan.daily_users))


def test_metric_library_page(
    browser: Any, server: LiveServer, artifacts_dir: Path
) -> None:
    """The metric library shows every metric with its words and recent value."""
    page = open_page(browser)
    sign_in(page, server, "vera", "/metrics")
    assert page.locator("article.metric").count() >= 8
    assert "In words:" in page.inner_text("#m-day7_retention")
    page.screenshot(path=artifacts_dir / "metric-library.png", full_page=True)
    page.context.close()
