"""Hostile input found by breaking the running app: each case was a 500, an
answer that was not JSON, stored garbage or a silently empty answer."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from veedel.experiments.store import list_definitions


def _experiment(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": "hostile_probe",
        "name": "Hostile probe",
        "hypothesis": "Nothing of this should be stored.",
        "start": "2026-03-01",
        "variants": [
            {"key": "control", "weight": 0.5, "control": True},
            {"key": "treatment", "weight": 0.5},
        ],
        "primary": ["posting_rate"],
    }
    body.update(changes)
    return body


def _post_raw(client: TestClient, path: str, text: str, csrf: str) -> Any:
    # json= cannot send NaN; the raw text can, and Python's parser accepts it.
    return client.post(
        path,
        content=text,
        headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"},
    )


def _stored(app: FastAPI) -> list[str]:
    return [definition.key for definition in list_definitions(app.state.store)]


def test_plan_refuses_a_nan_weight_with_valid_json(
    client: TestClient, viewer: str
) -> None:
    """A NaN weight is a 422 in valid JSON (it was a 500 echoing NaN)."""
    body = '{"metric": "posting_rate", "mde": 0.05, "weights": [NaN, 0.5]}'
    answer = _post_raw(client, "/api/v1/experiments/plan", body, viewer)
    assert answer.status_code == 422
    detail = json.loads(answer.text, parse_constant=pytest.fail)["detail"]
    assert detail[0]["loc"] == ["body", "weights", 0]
    assert "finite" in detail[0]["msg"]
    assert detail[0]["input"] == "nan"


def test_create_refuses_a_nan_weight_by_name(
    client: TestClient, app: FastAPI, editor: str
) -> None:
    """NaN is called not finite, not "more than 1", and the echo is valid JSON."""
    variants = [
        {"key": "control", "weight": float("nan"), "control": True},
        {"key": "treatment", "weight": 0.5},
    ]
    text = json.dumps(_experiment(variants=variants))
    answer = _post_raw(client, "/api/v1/experiments", text, editor)
    assert answer.status_code == 422
    detail = json.loads(answer.text, parse_constant=pytest.fail)["detail"]
    assert detail[0]["loc"] == ["body", "variants", 0, "weight"]
    assert "finite" in detail[0]["msg"]
    assert "hostile_probe" not in _stored(app)


def test_create_refuses_a_text_where_a_boolean_belongs(
    client: TestClient, app: FastAPI, editor: str
) -> None:
    """ "control": "yes" is refused by name, as in a definition file; before, the
    text was read as true and stored."""
    variants = [
        {"key": "control", "weight": 0.5, "control": "yes"},
        {"key": "treatment", "weight": 0.5},
    ]
    answer = _post_raw(
        client,
        "/api/v1/experiments",
        json.dumps(_experiment(variants=variants)),
        editor,
    )
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert detail[0]["loc"] == ["body", "variants", 0, "control"]
    assert "must be true or false" in detail[0]["msg"]
    assert detail[0]["input"] == "yes"
    assert "hostile_probe" not in _stored(app)


def test_a_huge_field_is_not_echoed_back(
    client: TestClient, app: FastAPI, editor: str
) -> None:
    """A 500 kB name gets a short 422 (the answer used to send it all back);
    a 2 MB body is past the request limit, a short 413."""
    text = json.dumps(_experiment(name="x" * 500_000))
    answer = _post_raw(client, "/api/v1/experiments", text, editor)
    assert answer.status_code == 422
    assert len(answer.content) < 1000
    assert answer.json()["detail"][0]["input"].endswith("(500000 characters)")

    text = json.dumps(_experiment(name="x" * 2_000_000))
    answer = _post_raw(client, "/api/v1/experiments", text, editor)
    assert answer.status_code == 413
    assert len(answer.content) < 1000
    assert answer.json()["code"] == "too_large"
    assert "hostile_probe" not in _stored(app)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"primary": ["posting_rate", "posting_rate"]}, "primary", "in primary"),
        (
            {"guardrails": [{"metric": "posting_rate", "margin": 0.1}]},
            "guardrails",
            "already listed in primary",
        ),
        (
            {
                "guardrails": [{"metric": "reports_per_user", "margin": 0.1}],
                "secondary": ["reports_per_user"],
            },
            "secondary",
            "already listed in guardrails",
        ),
    ],
)
def test_create_refuses_a_metric_in_two_roles(
    client: TestClient,
    app: FastAPI,
    editor: str,
    changes: dict[str, Any],
    field: str,
    words: str,
) -> None:
    """A metric listed twice, or as primary and guardrail, is refused (was stored)."""
    text = json.dumps(_experiment(**changes))
    answer = _post_raw(client, "/api/v1/experiments", text, editor)
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    repeated = changes[field][0]
    repeated = repeated["metric"] if isinstance(repeated, dict) else repeated
    assert (detail["field"], detail["value"]) == (field, repeated)
    assert words in detail["rule"]
    assert "hostile_probe" not in _stored(app)


def test_a_primary_metric_also_ticked_as_secondary_is_kept_once(
    client: TestClient, editor: str
) -> None:
    """Primary and secondary together is still accepted: it stays primary only."""
    text = json.dumps(_experiment(secondary=["posting_rate", "sessions_per_user"]))
    answer = _post_raw(client, "/api/v1/experiments", text, editor)
    assert answer.status_code == 201, answer.text
    assert answer.json()["metrics"]["secondary"] == ["sessions_per_user"]


@pytest.mark.parametrize(
    ("field", "value", "name"),
    [
        ("name", "a\x00b", "U+0000 at character 2"),
        ("owner", "pm\x1b[31m", "U+001B at character 3"),
        ("name", "two\nlines", "U+000A at character 4"),
        ("hypothesis", "bell\x07", "U+0007 at character 5"),
    ],
)
def test_create_refuses_control_characters(
    client: TestClient, app: FastAPI, editor: str, field: str, value: str, name: str
) -> None:
    """NUL, escapes and (in one-line fields) line breaks are refused by name."""
    text = json.dumps(_experiment(**{field: value}))
    answer = _post_raw(client, "/api/v1/experiments", text, editor)
    assert answer.status_code == 422, answer.text
    error = answer.json()["detail"][0]
    assert error["loc"] == ["body", field]
    assert name in error["msg"]
    assert "hostile_probe" not in _stored(app)


def test_unicode_rtl_and_emoji_text_is_kept_exactly(
    client: TestClient, editor: str
) -> None:
    """Honest non-ASCII text and a multi-line hypothesis are stored as typed."""
    name = "مرحبا 🎉 Grüße"
    hypothesis = "Line one.\nLine two\twith a tab."
    text = json.dumps(_experiment(name=name, hypothesis=hypothesis))
    answer = _post_raw(client, "/api/v1/experiments", text, editor)
    assert answer.status_code == 201, answer.text
    stored = client.get("/api/v1/experiments/hostile_probe").json()["definition"]
    assert (stored["name"], stored["hypothesis"]) == (name, hypothesis)


def test_thirds_get_a_fix_that_adds_up(client: TestClient, editor: str) -> None:
    """Three weights of 0.3333 are refused with a fix for three variants."""
    variants = [
        {"key": "control", "weight": 0.3333, "control": True},
        {"key": "a", "weight": 0.3333},
        {"key": "b", "weight": 0.3333},
    ]
    text = json.dumps(_experiment(variants=variants))
    answer = _post_raw(client, "/api/v1/experiments", text, editor)
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert (detail["field"], detail["value"]) == ("variants.weight", 0.9999)
    assert "0.34, 0.33 and 0.33" in detail["message"]


@pytest.mark.parametrize(
    ("username", "field", "words"),
    [("ed", "username", "must be unique"), ("a b", "username", "letters, digits")],
)
def test_admin_adding_a_bad_user_gets_a_422(
    client: TestClient, username: str, field: str, words: str
) -> None:
    """A taken or malformed user name is a 422 naming the rule (it was a 500)."""
    from web_helpers import sign_in

    csrf = sign_in(client, "ada")
    answer = client.post(
        "/api/v1/users",
        json={"username": username, "password": "long-enough", "role": "viewer"},
        headers={"X-CSRF-Token": csrf},
    )
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert (detail["field"], detail["value"]) == (field, username)
    assert words in detail["rule"]


def test_list_api_searches_the_hypothesis_like_the_page(
    client: TestClient, editor: str
) -> None:
    """A word found only in the hypothesis finds the experiment in the API too."""
    text = json.dumps(_experiment(hypothesis="Zebras post more."))
    assert _post_raw(client, "/api/v1/experiments", text, editor).status_code == 201
    rows = client.get("/api/v1/experiments", params={"q": "zebras"}).json()
    assert [row["key"] for row in rows] == ["hostile_probe"]


def test_list_api_refuses_an_unknown_status(client: TestClient, viewer: str) -> None:
    """An unknown status is a 422 naming the badges (it was an empty list)."""
    answer = client.get("/api/v1/experiments", params={"status": "shipped"})
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert (detail["field"], detail["value"]) == ("status", "shipped")
    assert "Ready for review" in detail["rule"]


def test_form_keeps_a_multi_line_hypothesis(
    client: TestClient, app: FastAPI, editor: str
) -> None:
    """A textarea's CR LF line breaks are accepted and stored as LF."""
    form = _form(
        editor, name="Probe <b>bold</b>", hypothesis="First line.\r\nSecond line."
    )
    answer = client.post("/experiments/new", data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    stored = {d.key: d for d in list_definitions(app.state.store)}["hostile_probe"]
    assert stored.hypothesis == "First line.\nSecond line."
    page = client.get("/experiments/hostile_probe").text
    assert "Probe &lt;b&gt;bold&lt;/b&gt;" in page


def test_signing_out_ends_the_session_on_the_server(app: FastAPI) -> None:
    """A copy of the cookie taken before sign-out stops working at once; a
    second session of the same user (another browser) keeps working."""
    from web_helpers import sign_in

    base = "https://testserver"
    with (
        TestClient(app, base_url=base) as first,
        TestClient(app, base_url=base) as other,
    ):
        csrf = sign_in(first, "ed")
        sign_in(other, "ed")
        copied = first.cookies.get("veedel_session")
        assert copied is not None

        signed_out = first.post(
            "/logout", data={"csrf_token": csrf}, follow_redirects=False
        )
        assert signed_out.status_code == 303

        with TestClient(app, base_url=base) as thief:
            thief.cookies.set("veedel_session", copied)
            assert thief.get("/api/v1/me").status_code == 401
            page = thief.get("/experiments", follow_redirects=False)
            assert page.headers["location"].startswith("/login")
        assert other.get("/api/v1/me").json() == {"username": "ed", "role": "editor"}


def test_a_cookie_without_a_session_id_is_refused(app: FastAPI) -> None:
    """A signed cookie of the old shape (no session id) cannot be signed out,
    so it is not accepted: its holder signs in again."""
    from veedel.accounts import authenticate
    from veedel.api.security import new_session

    user = authenticate(app.state.store, "ed", "ed-password")
    assert user is not None
    old = {k: v for k, v in new_session(user).items() if k != "sid"}
    with TestClient(app, base_url="https://testserver") as client:
        client.cookies.set("veedel_session", app.state.signer.dumps(old))
        assert client.get("/api/v1/me").status_code == 401


def _form(csrf: str, **changes: str) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "csrf_token": csrf,
        "key": "hostile_probe",
        "name": "Probe",
        "hypothesis": "H",
        "owner": "ed",
        "start": "2026-03-01",
        "variant_key_0": "control",
        "variant_weight_0": "0.5",
        "variant_key_1": "treatment",
        "variant_weight_1": "0.5",
        "control": "0",
        "primary": "posting_rate",
        "guardrail": "reports_per_user",
        "margin_reports_per_user": "5",
        "mde_percent": "5",
    }
    fields.update(changes)
    return fields


@pytest.mark.parametrize(
    ("field", "typed"),
    [
        ("margin_reports_per_user", "150"),
        ("margin_reports_per_user", "nan"),
        ("margin_reports_per_user", "-1"),
        ("mde_percent", "1e308"),
    ],
)
def test_form_reports_percent_fields_in_percent(
    client: TestClient, app: FastAPI, editor: str, field: str, typed: str
) -> None:
    """A margin of 150 is "over 100 %" with the value typed (it was "less than 1;
    got 1.5", in a unit the form never shows); nothing is stored."""
    answer = client.post("/experiments/new", data=_form(editor, **{field: typed}))
    assert answer.status_code == 422
    assert f'<li data-field="{field}">' in answer.text
    assert "must be a percentage from 0 to under" in answer.text
    assert f"got &#39;{typed}&#39;" in answer.text
    assert "hostile_probe" not in _stored(app)


def test_power_calculator_says_when_a_plan_is_out_of_reach(
    client: TestClient, editor: str
) -> None:
    """A 0.0001 % change needs centuries: the answer says it is not feasible and
    prints the day count with thousands separators."""
    answer = client.post(
        "/experiments/plan", data=_form(editor, action="plan", mde_percent="0.0001")
    )
    assert answer.status_code == 200
    days = re.search(r'data-days="(\d+)">([\d,]+) days', answer.text)
    assert days is not None
    assert int(days.group(1)) > 365
    assert days.group(2) == f"{int(days.group(1)):,}"
    assert "is not feasible" in answer.text


def test_a_proxy_basic_auth_header_keeps_the_session(
    client: TestClient, viewer: str
) -> None:
    """Behind a proxy with HTTP Basic auth every request carries
    'Authorization: Basic ...'; the session still counts (it was ignored, so
    sign-in looped back to the form). A wrong Bearer token is still a 401."""
    basic = {"Authorization": "Basic dXNlcjpwYXNz"}
    page = client.get("/experiments", headers=basic, follow_redirects=False)
    assert page.status_code == 200
    assert client.get("/api/v1/me", headers=basic).json()["username"] == "vera"
    wrong = {"Authorization": "Bearer vdl_not-a-token"}
    assert client.get("/api/v1/me", headers=wrong).status_code == 401


@pytest.mark.parametrize(
    "path", ["/experiments", "/api/v1/experiments", "/login", "/health"]
)
def test_no_answer_can_be_framed_or_sniffed(
    client: TestClient, viewer: str, path: str
) -> None:
    """Pages, JSON and the sign-in form refuse framing (clickjacking) and
    sniffing (JSON holding typed markup read as HTML)."""
    headers = client.get(path).headers
    assert headers["x-frame-options"] == "DENY"
    assert headers["content-security-policy"] == "frame-ancestors 'none'"
    assert headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("changes", "field", "label"),
    [
        ({"variant_weight_0": "-0.5"}, "variants.0.weight", "Variant 1, weight: "),
        ({"variant_weight_1": "0.6"}, "variants.weight", "Weights: "),
        ({"margin_reports_per_user": "150"}, "margin_reports_per_user",
         "Guardrail margin of reports_per_user: "),
    ],
)  # fmt: skip
def test_form_errors_open_with_the_forms_label(
    client: TestClient, editor: str, changes: dict[str, str], field: str, label: str
) -> None:
    """A form error opens with the label the form shows ("Variant 1, weight"),
    then names the field, rule and value as the API does."""
    answer = client.post("/experiments/new", data=_form(editor, **changes))
    assert answer.status_code == 422
    assert f'<li data-field="{field}">{label}{field} ' in answer.text


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"start": "0001-01-01"}, "start"), ({"end": "9999-12-31"}, "end")],
)
def test_create_refuses_dates_outside_this_century(
    client: TestClient, app: FastAPI, editor: str, changes: dict[str, str], field: str
) -> None:
    """Year 1 or 9999 is refused, naming the range (both were stored)."""
    text = json.dumps(_experiment(**changes))
    answer = _post_raw(client, "/api/v1/experiments", text, editor)
    assert answer.status_code == 422
    error = answer.json()["detail"][0]
    assert error["loc"] == ["body", field]
    assert error["msg"] == "must lie between 2000-01-01 and 2099-12-31"
    assert "hostile_probe" not in _stored(app)


def test_a_viewer_is_told_the_command_that_makes_them_an_editor(
    client: TestClient, viewer: str
) -> None:
    """The editors-only page names the command for this existing account
    ('users add' would only fail: the name is taken)."""
    answer = client.get("/experiments/new")
    assert answer.status_code == 403
    assert "<code>veedel users passwd vera --role editor</code>" in answer.text
    assert "users add" not in answer.text


def test_the_alpha_setting_reads_as_two_sentences(analysed: Any) -> None:
    """The alpha line was 'Intervals are 95% intervals; The false-alarm ...'."""
    from veedel.web.experiment_views import GLOSSARY, settings_rows

    _, result = analysed["onboarding_checklist"]
    row = next(r for r in settings_rows(result.definition) if r.key == "alpha")
    assert row.explanation == (
        f"{GLOSSARY['alpha']} The intervals shown are 95% intervals."
    )
