"""The experiment pages: stored results shown without JavaScript, the form's rules."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from veedel.experiments.definitions import ExperimentDefinition
from veedel.experiments.results import ExperimentResult
from veedel.experiments.store import list_definitions

Analysed = dict[str, tuple[ExperimentDefinition, ExperimentResult]]


def text_of(page: str) -> str:
    """The visible text of an HTML page, whitespace collapsed (no scripts)."""
    page = re.sub(r"<script.*?</script>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def form_fields(csrf: str, **changes: Any) -> dict[str, Any]:
    """The new-experiment form filled in correctly, with ``changes`` applied."""
    fields: dict[str, Any] = {
        "csrf_token": csrf,
        "name": "Bigger compose button",
        "key": "bigger_button",
        "hypothesis": "A bigger button makes more people post.",
        "owner": "ed",
        "start": "2026-03-01",
        "end": "",
        "variant_key_0": "control",
        "variant_weight_0": "0.5",
        "variant_key_1": "big",
        "variant_weight_1": "0.5",
        "control": "0",
        "primary": ["posting_rate"],
        "guardrail": ["reports_per_user"],
        "margin_reports_per_user": "5",
        "secondary": ["sessions_per_user"],
        "mde_percent": "5",
        "power": "0.8",
        "alpha": "0.05",
        "correction": "holm",
        "action": "create",
    }
    fields.update(changes)
    return fields


def stored_keys(app: FastAPI) -> list[str]:
    return [definition.key for definition in list_definitions(app.state.store)]


def test_pages_need_sign_in(client: TestClient) -> None:
    """Every experiment page redirects to the sign-in page when signed out."""
    for path in ("/experiments", "/experiments/aa_check", "/metrics"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/login")


def test_list_page_shows_badges_owners_and_effects(
    client: TestClient, viewer: str, analysed: Analysed
) -> None:
    """The list names each experiment with its badge, owner and primary effect."""
    page = client.get("/experiments")
    assert page.status_code == 200
    text = text_of(page.text)
    definition, result = analysed["onboarding_checklist"]
    stored = next(
        m for m in result.metrics if m.metric == definition.metrics.primary[0]
    )
    assert definition.name in text and definition.owner in text
    assert "Ship" in text
    assert f"{stored.relative_effect * 100:+.2f} %" in text
    assert stored.outcome.replace("_", " ") in text
    assert "Showing 1–2 of 2 experiments." in text
    assert "New experiment" not in text  # viewers cannot create


def test_list_page_search_and_filters_work_without_javascript(
    client: TestClient, viewer: str
) -> None:
    """A plain GET with q or status narrows the list."""
    text = text_of(client.get("/experiments", params={"q": "A/A"}).text)
    assert "Showing 1 of 1 matching experiment (2 in all)." in text
    assert "A/A check" in text
    text = text_of(client.get("/experiments", params={"status": "Ship"}).text)
    assert "Onboarding checklist" in text and "A/A check" not in text
    text = text_of(client.get("/experiments", params={"q": "zzz"}).text)
    assert "No experiment matches" in text


def test_experiment_page_reads_without_javascript(
    client: TestClient, viewer: str, analysed: Analysed
) -> None:
    """Verdict, health, every metric row with its label, settings: all in the HTML."""
    _, result = analysed["onboarding_checklist"]
    page = client.get("/experiments/onboarding_checklist")
    assert page.status_code == 200
    text = text_of(page.text)
    assert result.verdict.label in text
    assert result.verdict.explanation in text
    for check in result.health:
        assert check.title in text
    for item in result.metrics:
        assert item.sentence in text
        assert f'data-metric="{item.metric}"' in page.text
    for section in ("Primary metrics", "Guardrail metrics"):
        assert section in text
    for setting in ("Significance level", "Multiple-testing", "CUPED", "Sequential"):
        assert setting in text
    assert page.text.count('<svg class="ibar') == len(result.metrics) + len(
        result.slices
    )
    assert page.text.count('<details class="help"') >= 10
    assert "The chart's numbers as a table" in text


def test_experiment_page_colours_come_with_words(
    client: TestClient, viewer: str, analysed: Analysed
) -> None:
    """Each metric row carries its outcome as a word, not only as a colour."""
    _, result = analysed["onboarding_checklist"]
    page = client.get("/experiments/onboarding_checklist").text
    for item in result.metrics:
        row = re.search(
            rf'<tr class="row-(\w+)" data-metric="{item.metric}">(.*?)</tr>', page, re.S
        )
        assert row is not None
        assert row.group(1) == item.outcome
        assert item.outcome.replace("_", " ") in text_of(row.group(2))


def test_slices_are_marked_exploratory(
    client: TestClient, viewer: str, analysed: Analysed
) -> None:
    """Slice results sit in their own section labelled exploratory."""
    _, result = analysed["onboarding_checklist"]
    assert result.slices
    text = text_of(client.get("/experiments/onboarding_checklist").text)
    assert "Slices exploratory" in text
    assert "not part of the decision" in text


def test_exports_are_the_stored_result(
    client: TestClient, viewer: str, analysed: Analysed
) -> None:
    """CSV, JSON and the printable report are the result's own renderings."""
    _, result = analysed["onboarding_checklist"]
    base = "/experiments/onboarding_checklist"
    csv = client.get(f"{base}/export.csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text == result.to_csv()
    assert client.get(f"{base}/export.json").json() == result.to_dict()
    assert client.get(f"{base}/report").text == result.to_html()


def test_pages_never_recompute_an_analysis(
    client: TestClient, viewer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the analysis and the warehouse out of reach, pages still render."""
    import veedel.experiments.analysis as analysis
    import veedel.experiments.pipeline as pipeline

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a page recomputed an analysis")

    monkeypatch.setattr(analysis, "analyze", refuse)
    monkeypatch.setattr(pipeline, "compute_cells", refuse)
    for path in ("/experiments", "/experiments/onboarding_checklist"):
        assert client.get(path).status_code == 200


def test_unknown_experiment_page_is_a_404_page(client: TestClient, viewer: str) -> None:
    """An unknown key shows a page that says so, with status 404."""
    answer = client.get("/experiments/no_such_thing")
    assert answer.status_code == 404
    assert "There is no experiment 'no_such_thing'" in text_of(answer.text)


def test_viewer_cannot_open_or_post_the_form(
    client: TestClient, app: FastAPI, viewer: str
) -> None:
    """Viewers get a 403 page for the form and for posting it; nothing stored."""
    assert client.get("/experiments/new").status_code == 403
    answer = client.post("/experiments/new", data=form_fields(viewer))
    assert answer.status_code == 403
    assert "bigger_button" not in stored_keys(app)


def test_editor_creates_an_experiment_through_the_form(
    client: TestClient, app: FastAPI, editor: str
) -> None:
    """A correct form stores the definition and redirects to its page."""
    answer = client.post(
        "/experiments/new", data=form_fields(editor), follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/experiments/bigger_button")
    stored = {d.key: d for d in list_definitions(app.state.store)}["bigger_button"]
    assert stored.weights == {"control": 0.5, "big": 0.5}
    assert stored.control.key == "control"
    assert stored.metrics.primary == ("posting_rate",)
    assert stored.metrics.margin("reports_per_user") == pytest.approx(0.05)
    assert stored.analysis.correction == "holm"
    page = text_of(client.get(answer.headers["location"]).text)
    assert "No analysis yet" in page and "Running" in page
    assert "Experiment created." in page


def test_form_needs_the_csrf_token(
    client: TestClient, app: FastAPI, editor: str
) -> None:
    """A form posted without the session's CSRF token is refused."""
    answer = client.post("/experiments/new", data=form_fields("forged"))
    assert answer.status_code == 403
    assert "bigger_button" not in stored_keys(app)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"name": ""}, "name"),
        ({"hypothesis": ""}, "hypothesis"),
        ({"primary": []}, "primary"),
        ({"variant_weight_1": "0.6"}, "must sum to 1"),
        ({"variant_weight_1": "lots"}, "weight"),
        ({"primary": ["no_such_metric"]}, "must name metrics of the metric library"),
        ({"name": "x" * 50_000}, "name"),
        ({"hypothesis": "h" * 20_000}, "hypothesis"),
        ({"key": "Has Spaces"}, "key"),
        ({"start": ""}, "start"),
        ({"key": "aa_check"}, "must not be used by another experiment"),
    ],
)
def test_form_bad_input_gives_a_message_and_stores_nothing(
    client: TestClient,
    app: FastAPI,
    editor: str,
    changes: dict[str, Any],
    words: str,
) -> None:
    """Each mistake shows the form again (422) with a message; nothing is stored."""
    before = stored_keys(app)
    answer = client.post("/experiments/new", data=form_fields(editor, **changes))
    assert answer.status_code == 422
    alert = re.search(
        r'<div class="alert" role="alert" id="form-errors">(.*?)</div>',
        answer.text,
        re.S,
    )
    assert alert is not None
    assert "Nothing was saved" in text_of(alert.group(1))
    assert words in text_of(alert.group(1))
    assert stored_keys(app) == before
    assert len(answer.text) < 200_000  # a huge field is not echoed back whole


def test_form_keeps_what_was_typed(client: TestClient, editor: str) -> None:
    """After a mistake the form comes back filled in."""
    answer = client.post(
        "/experiments/new", data=form_fields(editor, variant_weight_1="0.6")
    )
    assert 'value="Bigger compose button"' in answer.text
    assert 'name="variant_weight_1" aria-label="Variant 2 weight" value="0.6"' in (
        answer.text
    )
    assert re.search(r'name="primary" value="posting_rate"[^>]*checked', answer.text)


def test_power_calculator_without_javascript(
    client: TestClient, app: FastAPI, editor: str
) -> None:
    """The Calculate button posts the form, which comes back with the plan."""
    from veedel.api.experiment_data import plan_for_metric

    answer = client.post(
        "/experiments/new", data=form_fields(editor, action="plan", mde_percent="10")
    )
    assert answer.status_code == 200
    plan = plan_for_metric(app, "posting_rate", 0.1, 0.05, 0.8, [0.5, 0.5])
    assert plan.n_per_variant is not None
    text = text_of(answer.text)
    assert f"About {plan.n_per_variant:,} users per variant" in text
    assert f"about {plan.days} days at current traffic" in text
    assert "bigger_button" not in stored_keys(app)


def test_power_calculator_fragment_for_htmx(client: TestClient, editor: str) -> None:
    """The HTMX endpoint returns only the answer, and errors as a sentence."""
    fragment = client.post(
        "/experiments/plan",
        data=form_fields(editor, plan_metric="day1_retention"),
        headers={"HX-Request": "true"},
    )
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div id="plan-answer"')
    assert "users per variant" in fragment.text
    bad = client.post("/experiments/plan", data=form_fields(editor, power="2"))
    assert "power must lie between 0.5 and 1" in text_of(bad.text)


def test_metric_library_page_lists_every_metric(
    client: TestClient, viewer: str, app: FastAPI
) -> None:
    """Every metric appears with its definition in words and a recent value."""
    from veedel.api.experiment_data import metric_summaries

    text = text_of(client.get("/metrics").text)
    for summary in metric_summaries(app):
        assert summary.name in text
        assert summary.in_words in text
        assert summary.recent_value != "—"
        assert summary.recent_value in text


def test_unhealthy_result_withholds_the_verdict(
    client: TestClient, app: FastAPI, viewer: str, analysed: Analysed
) -> None:
    """A failed check shows 'Don't trust these results yet', why and what to do."""
    import dataclasses

    from veedel.experiments.results import HealthCheck, Verdict
    from veedel.experiments.store import save_result

    _, result = analysed["aa_check"]
    failed = HealthCheck(
        "srm", "Sample ratio", "fail", "Control has 10 % too many users.",
        "Find why users are lost in the treatment before reading any number.",
    )  # fmt: skip
    verdict = Verdict(
        "unhealthy", "Don't trust these results yet: the split is off.",
        what_to_do="Fix the assignment, then analyse again.",
    )  # fmt: skip
    save_result(
        app.state.store,
        dataclasses.replace(result, health=(failed,), verdict=verdict),
    )
    page = client.get("/experiments/aa_check")
    text = text_of(page.text)
    assert "Don't trust these results yet" in text
    assert "Failed Sample ratio. Control has 10 % too many users." in text
    assert "Find why users are lost" in text
    assert "Fix the assignment, then analyse again." in text
    assert 'class="badge alarm">Unhealthy<' in page.text
    listed = text_of(client.get("/experiments", params={"status": "Unhealthy"}).text)
    assert "A/A check" in listed
    assert "Showing 1 of 1 matching experiment (2 in all)." in listed


def test_a_metric_not_computed_shows_its_reason_in_words_only(
    client: TestClient, app: FastAPI, viewer: str, analysed: Analysed
) -> None:
    """The row's sentence explains why; the reason code (snake_case, kept in
    the JSON) is not printed after it."""
    import dataclasses

    from veedel.experiments.sentences import metric_sentence
    from veedel.experiments.stats import explain
    from veedel.experiments.store import save_result

    _, result = analysed["aa_check"]
    first = dataclasses.replace(
        result.metrics[0],
        outcome="not_computed",
        absolute_effect=None,
        p_value=None,
        reason="non_finite_input",
    )
    first = dataclasses.replace(
        first,
        sentence=metric_sentence(
            first, alpha=0.05, sequential=False, reason_text=explain(first.reason)
        ),
    )
    metrics = (first, *result.metrics[1:])
    save_result(app.state.store, dataclasses.replace(result, metrics=metrics))

    page = client.get("/experiments/aa_check")
    assert page.status_code == 200
    assert html.escape(first.sentence, quote=False) in page.text
    assert "The input holds a missing or infinite value" in first.sentence
    assert "non_finite_input" not in page.text
