"""The experiments list pages through every experiment, keeping search and filters."""

from __future__ import annotations

import html
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from veedel.experiments.store import save_definition
from veedel.web.experiments import PAGE_SIZE

Analysed = dict[str, tuple[object, object]]

#: Stored experiments in these tests: the two analysed ones and 248 copies.
TOTAL = 250


@pytest.fixture
def many(app: FastAPI, analysed: Analysed) -> FastAPI:
    """The app with 248 more experiments (no results), owners taking turns."""
    definition = analysed["aa_check"][0]
    for index in range(TOTAL - 2):
        copy = definition.model_copy(  # type: ignore[attr-defined]
            update={
                "key": f"paged_{index:03d}",
                "name": f"Paged experiment {index}",
                "owner": "odd@example.org" if index % 2 else "even@example.org",
            }
        )
        save_definition(app.state.store, copy)
    return app


def _keys(page: str) -> list[str]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r'<th scope="row"><a href="/experiments/([^"]+)">', body)


def _link(page: str, rel: str) -> str | None:
    found = re.search(rf'<a rel="{rel}" href="([^"]+)">', page)
    return html.unescape(found.group(1)) if found else None


def _count(page: str) -> str:
    found = re.search(r'<p class="hint count"[^>]*>([^<]+)</p>', page)
    assert found is not None
    return html.unescape(found.group(1))


def test_pages_walk_through_every_experiment_once(
    client: TestClient, viewer: str, many: FastAPI
) -> None:
    """Following "next" from page 1 lists each of the 250 keys exactly once."""
    assert PAGE_SIZE == 100
    seen: list[str] = []
    counts = []
    url: str | None = "/experiments"
    previous: list[str | None] = []
    while url is not None:
        page = client.get(url).text
        seen += _keys(page)
        counts.append(_count(page))
        previous.append(_link(page, "prev"))
        url = _link(page, "next")

    assert len(seen) == TOTAL and len(set(seen)) == TOTAL
    assert {"onboarding_checklist", "aa_check"} <= set(seen)
    assert counts == [
        "Showing 1–100 of 250 experiments.",
        "Showing 101–200 of 250 experiments.",
        "Showing 201–250 of 250 experiments.",
    ]
    assert previous == [None, "/experiments", "/experiments?page=2"]


def test_paging_keeps_the_search_and_the_filters(
    client: TestClient, viewer: str, many: FastAPI
) -> None:
    """Next and previous carry q, status and owner; every row still matches."""
    params = {"q": "paged", "status": "Running", "owner": "odd@example.org"}
    first = client.get("/experiments", params=params).text

    assert _count(first) == "Showing 1–100 of 124 matching experiments (250 in all)."
    following = _link(first, "next")
    assert following == (
        "/experiments?q=paged&status=Running&owner=odd%40example.org&page=2"
    )
    second = client.get(following).text
    assert _count(second) == (
        "Showing 101–124 of 124 matching experiments (250 in all)."
    )
    assert _link(second, "prev") == (
        "/experiments?q=paged&status=Running&owner=odd%40example.org"
    )
    assert _link(second, "next") is None
    keys = _keys(first) + _keys(second)
    assert len(set(keys)) == 124
    assert all(int(key.removeprefix("paged_")) % 2 == 1 for key in keys)


def test_an_odd_page_number_shows_the_nearest_page(
    client: TestClient, viewer: str, many: FastAPI
) -> None:
    """Past the end is the last page; zero, negative or not a number is the first."""
    cases = {"3": "201–250", "99": "201–250", "9" * 40: "201–250", "0": "1–100",
             "-2": "1–100", "abc": "1–100", "": "1–100"}  # fmt: skip
    for page, shown in cases.items():
        answer = client.get("/experiments", params={"page": page})

        assert answer.status_code == 200, page
        assert _count(answer.text) == f"Showing {shown} of 250 experiments.", page


def test_a_short_list_has_no_pager(client: TestClient, viewer: str) -> None:
    """Two experiments fit on one page: no previous or next link."""
    page = client.get("/experiments").text

    assert _count(page) == "Showing 1–2 of 2 experiments."
    assert 'class="pager"' not in page
