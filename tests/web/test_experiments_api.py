"""The experiments JSON API: stored results as stored, roles, bad input, plans."""

from __future__ import annotations

import math
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from web_helpers import sign_in

from veedel.accounts import create_token
from veedel.experiments import stats
from veedel.experiments.definitions import ExperimentDefinition
from veedel.experiments.planning import plan_from_history
from veedel.experiments.results import ExperimentResult
from veedel.experiments.store import list_definitions
from veedel.warehouse import connect

Analysed = dict[str, tuple[ExperimentDefinition, ExperimentResult]]


def new_experiment(**changes: Any) -> dict[str, Any]:
    """A valid new experiment for the API, with ``changes`` applied."""
    body: dict[str, Any] = {
        "key": "bigger_button",
        "name": "Bigger compose button",
        "hypothesis": "A bigger button makes more people post.",
        "owner": "pm@example.org",
        "start": "2026-03-01",
        "end": "2026-03-29",
        "variants": [
            {"key": "control", "weight": 0.5, "control": True},
            {"key": "big", "weight": 0.5},
        ],
        "primary": ["posting_rate"],
        "guardrails": [{"metric": "reports_per_user", "margin": 0.05}],
        "secondary": ["sessions_per_user"],
    }
    body.update(changes)
    return body


def stored_keys(app: FastAPI) -> list[str]:
    return [definition.key for definition in list_definitions(app.state.store)]


def test_api_needs_sign_in(client: TestClient) -> None:
    """Without a session or token every experiments endpoint answers 401."""
    for path in ("/api/v1/experiments", "/api/v1/metrics", "/api/v1/experiments/x"):
        assert client.get(path).status_code == 401
    assert client.post("/api/v1/experiments", json=new_experiment()).status_code == 401


def test_list_shows_status_and_the_stored_primary_effect(
    client: TestClient, viewer: str, analysed: Analysed
) -> None:
    """The list gives each experiment's status and its stored primary effect."""
    rows = {row["key"]: row for row in client.get("/api/v1/experiments").json()}
    assert set(rows) == set(analysed)

    definition, result = analysed["onboarding_checklist"]
    primary = definition.metrics.primary[0]
    stored = next(m for m in result.metrics if m.metric == primary)
    row = rows["onboarding_checklist"]
    assert row["status"] == "Ship"
    assert row["decision"] == "ship"
    assert row["primary_metric"] == primary
    assert row["primary_relative_effect"] == stored.relative_effect
    assert row["primary_outcome"] == stored.outcome
    assert rows["aa_check"]["status"] in {"Running", "Ready for review"}


def test_list_search_and_status_filter(client: TestClient, viewer: str) -> None:
    """``q`` matches key, name and owner words; ``status`` keeps one status."""
    found = client.get("/api/v1/experiments", params={"q": "onboarding"}).json()
    assert [row["key"] for row in found] == ["onboarding_checklist"]
    shipped = client.get("/api/v1/experiments", params={"status": "Ship"}).json()
    assert [row["key"] for row in shipped] == ["onboarding_checklist"]


def test_result_is_returned_exactly_as_stored(
    client: TestClient, viewer: str, analysed: Analysed
) -> None:
    """The result endpoint returns the stored document, number for number."""
    _, result = analysed["onboarding_checklist"]
    answer = client.get("/api/v1/experiments/onboarding_checklist/result")
    assert answer.status_code == 200
    assert answer.json() == result.to_dict()
    whole = client.get("/api/v1/experiments/onboarding_checklist").json()
    assert whole["status"] == "Ship"
    assert whole["definition"]["key"] == "onboarding_checklist"


def test_unknown_experiment_is_404(client: TestClient, viewer: str) -> None:
    """An unknown key answers 404 with a sentence, for the experiment and result."""
    for path in ("/api/v1/experiments/nope", "/api/v1/experiments/nope/result"):
        answer = client.get(path)
        assert answer.status_code == 404
        assert "nope" in answer.json()["detail"]


@pytest.mark.parametrize(("user", "status"), [("vera", 403), ("ed", 201), ("ada", 201)])
def test_create_needs_the_editor_role(
    client: TestClient, app: FastAPI, user: str, status: int
) -> None:
    """Viewers cannot create experiments; editors and admins can."""
    token = sign_in(client, user)
    answer = client.post(
        "/api/v1/experiments",
        json=new_experiment(),
        headers={"X-CSRF-Token": token},
    )
    assert answer.status_code == status, answer.text
    assert ("bigger_button" in stored_keys(app)) == (status == 201)


def test_create_with_a_bearer_token_needs_no_csrf(
    client: TestClient, app: FastAPI
) -> None:
    """An API token of an editor creates an experiment; the definition is stored."""
    token = create_token(app.state.store, "ed", "script")
    answer = client.post(
        "/api/v1/experiments",
        json=new_experiment(),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 201
    assert answer.json()["variants"][1]["key"] == "big"
    stored = {d.key: d for d in list_definitions(app.state.store)}["bigger_button"]
    assert stored.weights == {"control": 0.5, "big": 0.5}
    assert stored.metrics.margin("reports_per_user") == 0.05


def test_create_without_owner_makes_the_creator_the_owner(
    client: TestClient, app: FastAPI, editor: str
) -> None:
    """An experiment posted without an owner belongs to whoever created it."""
    answer = client.post(
        "/api/v1/experiments",
        json=new_experiment(owner=""),
        headers={"X-CSRF-Token": editor},
    )
    assert answer.status_code == 201
    assert answer.json()["owner"] == "ed"


def test_create_from_a_browser_session_needs_the_csrf_token(
    client: TestClient, app: FastAPI, editor: str
) -> None:
    """A session without the CSRF header is refused and nothing is stored."""
    answer = client.post("/api/v1/experiments", json=new_experiment())
    assert answer.status_code == 403
    assert "bigger_button" not in stored_keys(app)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        (
            {
                "variants": [
                    {"key": "control", "weight": 0.5, "control": True},
                    {"key": "big", "weight": 0.6},
                ]
            },
            "variants.weight",
            "must sum to 1",
        ),
        ({"primary": ["no_such_metric"]}, "primary", "metric library"),
        (
            {"guardrails": [{"metric": "nope", "margin": 0.1}]},
            "guardrails",
            "metric library",
        ),
        (
            {
                "variants": [
                    {"key": "control", "weight": 0.5},
                    {"key": "big", "weight": 0.5},
                ]
            },
            "variants.control",
            "exactly one",
        ),
        ({"end": "2026-02-01"}, "end", "before the start"),
    ],
)
def test_create_refuses_bad_input_and_stores_nothing(
    client: TestClient,
    app: FastAPI,
    editor: str,
    changes: dict[str, Any],
    field: str,
    words: str,
) -> None:
    """Each broken rule gives 422 naming field and rule; nothing is stored."""
    before = stored_keys(app)
    answer = client.post(
        "/api/v1/experiments",
        json=new_experiment(**changes),
        headers={"X-CSRF-Token": editor},
    )
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert detail["field"] == field
    assert words in detail["message"]
    assert stored_keys(app) == before


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "x" * 100_000},
        {"hypothesis": "y" * 2001},
        {"key": "Not A Key"},
        {"variants": []},
        {"primary": []},
        {"start": "yesterday"},
    ],
)
def test_create_refuses_huge_or_malformed_fields(
    client: TestClient, app: FastAPI, editor: str, changes: dict[str, Any]
) -> None:
    """Huge strings and malformed fields give 422 from validation; nothing stored."""
    before = stored_keys(app)
    answer = client.post(
        "/api/v1/experiments",
        json=new_experiment(**changes),
        headers={"X-CSRF-Token": editor},
    )
    assert answer.status_code == 422
    assert stored_keys(app) == before


def test_create_refuses_missing_fields(
    client: TestClient, app: FastAPI, editor: str
) -> None:
    """A body without name, hypothesis or variants is refused; nothing stored."""
    body = new_experiment()
    for missing in ("name", "hypothesis", "variants", "primary", "start"):
        partial = {k: v for k, v in body.items() if k != missing}
        answer = client.post(
            "/api/v1/experiments", json=partial, headers={"X-CSRF-Token": editor}
        )
        assert answer.status_code == 422
        assert missing in str(answer.json()["detail"])
    assert "bigger_button" not in stored_keys(app)


def test_create_refuses_a_key_in_use_and_keeps_the_original(
    client: TestClient, app: FastAPI, editor: str, analysed: Analysed
) -> None:
    """Creating an existing key is refused; the stored definition is unchanged."""
    answer = client.post(
        "/api/v1/experiments",
        json=new_experiment(key="onboarding_checklist", name="Impostor"),
        headers={"X-CSRF-Token": editor},
    )
    assert answer.status_code == 422
    assert answer.json()["detail"]["field"] == "key"
    stored = {d.key: d for d in list_definitions(app.state.store)}
    assert stored["onboarding_checklist"] == analysed["onboarding_checklist"][0]


def test_plan_equals_the_engine(
    client: TestClient, viewer: str, warehouse_url: str
) -> None:
    """The plan endpoint gives the product's plan, and that is the engine's number.

    The engine's sample size from the plan's own baseline (a proportion) and
    the days from its traffic are recomputed here and must agree exactly.
    """
    body = {"metric": "posting_rate", "mde": 0.1, "alpha": 0.05, "power": 0.8}
    answer = client.post(
        "/api/v1/experiments/plan", json=body, headers={"X-CSRF-Token": viewer}
    )
    assert answer.status_code == 200
    plan = answer.json()

    con = connect(warehouse_url)
    expected = plan_from_history(con, "posting_rate", 0.1, alpha=0.05, power=0.8)
    con.disconnect()
    assert plan == {**expected.to_dict(), "weights": [0.5, 0.5]}

    baseline = stats.Baseline.for_proportion(plan["baseline_mean"])
    n = float(stats.sample_size_per_arm(baseline, 0.1, relative=True))
    assert plan["n_per_variant"] == math.ceil(n)
    days = float(stats.days_needed(n, plan["daily_users"]))
    assert plan["days"] >= int(days)


def test_plan_refuses_unknown_metrics_and_bad_numbers(
    client: TestClient, viewer: str
) -> None:
    """An unknown metric is 422 naming 'metric'; an MDE of 0 fails validation."""
    headers = {"X-CSRF-Token": viewer}
    unknown = client.post(
        "/api/v1/experiments/plan",
        json={"metric": "nope", "mde": 0.05},
        headers=headers,
    )
    assert unknown.status_code == 422
    assert unknown.json()["detail"]["field"] == "metric"
    zero = client.post(
        "/api/v1/experiments/plan",
        json={"metric": "posting_rate", "mde": 0},
        headers=headers,
    )
    assert zero.status_code == 422


def test_metric_library_lists_every_metric_in_words(
    client: TestClient, viewer: str, app: FastAPI
) -> None:
    """Every metric of the library is listed with a sentence and its definition."""
    metrics = client.get("/api/v1/metrics").json()
    from veedel.api.experiment_data import metric_library

    assert [m["key"] for m in metrics] == metric_library(app).keys()
    for metric in metrics:
        assert metric["in_words"].endswith("is better.")
        assert metric["definition"]["key"] == metric["key"]


def test_metric_library_recent_values_come_from_history(
    client: TestClient, viewer: str, warehouse_url: str
) -> None:
    """``recent=true`` adds the history's mean, the one the planner uses."""
    metrics = {m["key"]: m for m in client.get("/api/v1/metrics?recent=true").json()}
    con = connect(warehouse_url)
    expected = plan_from_history(con, "day1_retention", 0.05)
    con.disconnect()
    recent = metrics["day1_retention"]["recent"]
    assert recent["mean"] == expected.baseline_mean
    assert recent["users"] == expected.history_users
    assert 0 < recent["mean"] < 1


@pytest.mark.postgres
def test_experiments_api_on_a_postgresql_store(
    postgres_url: str, warehouse_url: str, analysed: Analysed
) -> None:
    """The same list, result and create work with the store on PostgreSQL."""
    from veedel.accounts import add_user
    from veedel.api.app import create_app
    from veedel.experiments.store import save_definition, save_result
    from veedel.settings import get_settings

    app = create_app(get_settings(store_url=postgres_url, warehouse_url=warehouse_url))
    add_user(app.state.store, "ed", "ed-password", "editor")
    definition, result = analysed["onboarding_checklist"]
    save_definition(app.state.store, definition)
    save_result(app.state.store, result)
    token = create_token(app.state.store, "ed", "pg")
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(app, base_url="https://testserver") as client:
        listed = client.get("/api/v1/experiments", headers=headers).json()
        assert [row["status"] for row in listed] == ["Ship"]
        stored = client.get(
            "/api/v1/experiments/onboarding_checklist/result", headers=headers
        )
        assert stored.json() == result.to_dict()
        created = client.post(
            "/api/v1/experiments", json=new_experiment(), headers=headers
        )
        assert created.status_code == 201
        keys = [
            row["key"]
            for row in client.get("/api/v1/experiments", headers=headers).json()
        ]
        assert sorted(keys) == ["bigger_button", "onboarding_checklist"]
    app.state.store.dispose()


def test_a_newer_stored_result_replaces_the_shown_one(
    client: TestClient, app: FastAPI, viewer: str, analysed: Analysed
) -> None:
    """Pages cache parsed results, but a newly stored analysis is shown at once."""
    import dataclasses

    from veedel.experiments.results import Verdict
    from veedel.experiments.store import save_result

    def status() -> str:
        rows = client.get("/api/v1/experiments", params={"q": "A/A"}).json()
        return str(rows[0]["status"])

    assert status() in {"Running", "Ready for review"}
    _, result = analysed["aa_check"]
    newer = dataclasses.replace(result, verdict=Verdict("dont_ship", "No."))
    save_result(app.state.store, newer)
    assert status() == "Don't ship"
    cache = app.state.experiment_cache
    assert len(cache.results) == 2  # the superseded result is forgotten


def test_openapi_documents_the_experiments_api(client: TestClient, viewer: str) -> None:
    """Every experiments endpoint is in the OpenAPI schema with its models."""
    schema = client.get("/api/v1/openapi.json").json()
    for path in (
        "/api/v1/experiments",
        "/api/v1/experiments/{key}",
        "/api/v1/experiments/{key}/result",
        "/api/v1/experiments/plan",
        "/api/v1/metrics",
    ):
        assert path in schema["paths"]
    for model in ("ExperimentIn", "ExperimentSummary", "PlanIn", "PlanOut"):
        assert model in schema["components"]["schemas"]
    assert not any(path.startswith("/experiments") for path in schema["paths"])
