"""Every term a page shows has its "What does this mean?" note on that page."""

from __future__ import annotations

import dataclasses
import html
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from veedel.experiments.definitions import ExperimentDefinition
from veedel.experiments.results import ExperimentResult
from veedel.experiments.store import save_result
from veedel.web.experiment_views import GLOSSARY

Analysed = dict[str, tuple[ExperimentDefinition, ExperimentResult]]

# For each page: the words it shows (as they appear in the HTML) and the
# glossary term whose note must explain them.
PAGE_TERMS: dict[str, dict[str, str]] = {
    "/experiments": {
        ">Status<": "status",
        ">Primary metric<": "primary",
        ">Current effect<": "effect",
    },
    "/metrics": {
        'class="badge neutral">proportion<': "kind",
        "lower is better": "direction",
        "Spread per user (sd)": "sd",
        "Minimum sample size": "minimum_sample_size",
    },
    "/experiments/onboarding_checklist": {
        "analysed as of": "as_of",
        "n = ": "n",
        "Control<": "control",
        "Change<": "absolute",
        "Relative<": "relative",
        "Interval<": "interval",
        '<span class="hint">p ': "p_value",
        "Primary metrics": "primary",
        "Guardrail metrics": "guardrail",
        "Secondary metrics": "secondary",
        "Effect over time": "chart",
        "Slices": "slices",
        "Health checks": "health",
    },
}


def _notes(page: str) -> dict[str, str]:
    """The help notes of a page: term -> its explanation as shown."""
    found = re.findall(
        r'<details class="help" data-term="([^"]+)"><summary>[^<]+</summary>'
        r"<p>([^<]*)</p></details>",
        page,
    )
    return {term: html.unescape(text) for term, text in found}


@pytest.mark.parametrize("path", list(PAGE_TERMS))
def test_each_term_shown_has_its_help_note(
    client: TestClient, viewer: str, path: str
) -> None:
    """The page shows each listed word and a note with the glossary's sentence."""
    page = client.get(path).text
    notes = _notes(page)

    for shown, term in PAGE_TERMS[path].items():
        assert shown in page, f"{path} no longer shows {shown!r}"
        assert notes.get(term) == GLOSSARY[term], f"{path} lacks the note {term!r}"
    assert all(text for text in notes.values()), "a note with no explanation"


def test_margin_breach_and_cuped_words_have_their_notes(
    client: TestClient, viewer: str, app: FastAPI, analysed: Analysed
) -> None:
    """A breached 5 % guardrail and CUPED's share removed show with their notes."""
    _, result = analysed["onboarding_checklist"]
    metrics = tuple(
        dataclasses.replace(item, margin=0.05, guardrail_breached=True)
        if item.role == "guardrail"
        else dataclasses.replace(item, variance_reduction=0.3)
        for item in result.metrics
    )
    save_result(app.state.store, dataclasses.replace(result, metrics=metrics))

    page = client.get("/experiments/onboarding_checklist").text
    notes = _notes(page)

    assert (
        "lower is better · margin 5 %" in page
        or "higher is better · margin 5 %" in page
    )
    assert "margin breached" in page
    assert "CUPED removed 30 % of the variance" in page
    assert notes["margin"] == GLOSSARY["margin"]
    assert notes["variance_reduction"] == GLOSSARY["variance_reduction"]
