"""The HTTP API: classify uploads, claim and decide review items."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from image_review_helpers import sign_in
from image_samples import PHOTOS, jpeg_bytes

from veedel.accounts import create_token


def _bearer(app: FastAPI, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(app.state.store, name, 'test')}"}


def _classify(
    client: TestClient, headers: dict[str, str], data: bytes, **fields: str
) -> dict[str, object]:
    response = client.post(
        "/api/v1/images:classify",
        files={"file": ("photo.jpg", data, "image/jpeg")},
        data=fields,
        headers=headers,
    )
    return {"status": response.status_code, **response.json()}


def test_classify_scores_decides_and_queues(app: FastAPI, client: TestClient) -> None:
    """A benign photo scores as pinned; with review from 0.0 it is queued."""
    body = _classify(client, _bearer(app, "vera"), PHOTOS["rocket"].read_bytes())

    assert body["status"] == 200
    assert body["score"] == pytest.approx(0.00045836, rel=1e-3)
    assert (body["action"], body["queued_as"]) == ("review", "review")
    assert body["model_version"] == "open_nsfw-1.0+864bb37bf886"
    assert (body["review_threshold"], body["block_threshold"]) == (0.0, 0.9)


def test_classify_uses_the_named_surface(app: FastAPI, client: TestClient) -> None:
    """On profile_picture (review from 0.5) the same photo is allowed."""
    body = _classify(
        client,
        _bearer(app, "vera"),
        PHOTOS["rocket"].read_bytes(),
        surface="profile_picture",
    )

    assert (body["action"], body["queued_as"]) == ("allow", None)


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"", 422, "empty"),
        (b"hello, not a picture", 422, "not_an_image"),
        (jpeg_bytes("chelsea")[:5000], 422, "truncated"),
        (b"\xff" * 2_000_001, 413, "too_large"),
    ],
)
def test_bad_uploads_get_their_error_code(
    app: FastAPI, client: TestClient, data: bytes, status: int, code: str
) -> None:
    """Empty, non-image, truncated and oversized uploads: status and code."""
    body = _classify(client, _bearer(app, "vera"), data)

    assert (body["status"], body["code"]) == (status, code)


def test_oversized_chunked_upload_is_cut_off(app: FastAPI, client: TestClient) -> None:
    """An upload without Content-Length is refused once it passes the limit."""
    boundary = "b0undary"

    def body() -> Iterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="x.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        ).encode()
        for _ in range(100):
            yield b"\x00" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    response = client.post(
        "/api/v1/images:classify",
        content=body(),
        headers=_bearer(app, "vera")
        | {"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


def test_unknown_surface_and_missing_file(app: FastAPI, client: TestClient) -> None:
    """An unknown surface and a form without 'file' are 422 with a sentence."""
    headers = _bearer(app, "vera")

    unknown = _classify(
        client, headers, PHOTOS["rocket"].read_bytes(), surface="avatar"
    )
    missing = client.post("/api/v1/images:classify", data={"x": "1"}, headers=headers)

    assert (unknown["status"], unknown["code"]) == (422, "invalid")
    assert "post_image" in str(unknown["detail"])
    assert (missing.status_code, missing.json()["code"]) == (422, "no_file")


def test_classify_needs_sign_in(client: TestClient) -> None:
    """Anonymous uploads are refused with 401."""
    assert _classify(client, {}, b"x")["status"] == 401


def test_review_round_trip(app: FastAPI, client: TestClient) -> None:
    """Claim, view the image, decide; the same item cannot be decided twice."""
    upload = PHOTOS["rocket"].read_bytes()
    _classify(client, _bearer(app, "vera"), upload)
    ed = _bearer(app, "ed")

    claim = client.get("/api/v1/review/next", headers=ed).json()
    image = client.get(claim["image_url"], headers=ed)
    decided = client.post(
        f"/api/v1/review/{claim['item_id']}/decision",
        headers=ed,
        json={"verdict": "reject", "reason": "test", "token": claim["token"]},
    )
    again = client.post(
        f"/api/v1/review/{claim['item_id']}/decision",
        headers=ed,
        json={"verdict": "approve"},
    )

    assert claim["score"] == pytest.approx(0.00046, abs=2e-3) and not claim["blind"]
    assert (image.status_code, image.content) == (200, upload)
    assert image.headers["content-type"] == "image/jpeg"
    assert decided.status_code == 200
    assert (decided.json()["reviewer"], decided.json()["verdict"]) == ("ed", "reject")
    assert again.status_code == 409
    assert client.get("/api/v1/review/next", headers=ed).status_code == 204
    stats = client.get("/api/v1/images/stats", headers=ed).json()
    assert stats["reviewers"] == {"ed": {"decisions": 1, "approve": 0, "reject": 1}}


def test_review_rules(app: FastAPI, client: TestClient) -> None:
    """Viewers cannot review; others cannot see a held image; 404 and 422 hold."""
    _classify(client, _bearer(app, "vera"), PHOTOS["rocket"].read_bytes())
    ed, eve = _bearer(app, "ed"), _bearer(app, "eve")
    claim = client.get("/api/v1/review/next", headers=ed).json()

    assert (
        client.get("/api/v1/review/next", headers=_bearer(app, "vera")).status_code
        == 403
    )
    assert client.get(claim["image_url"], headers=eve).status_code == 403
    assert (
        client.get(claim["image_url"], headers=_bearer(app, "ada")).status_code == 200
    )
    assert client.get("/api/v1/review/next", headers=eve).status_code == 204
    assert (
        client.post(
            "/api/v1/review/999/decision", headers=ed, json={"verdict": "approve"}
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/api/v1/review/{claim['item_id']}/decision",
            headers=eve,
            json={"verdict": "approve"},
        ).status_code
        == 409
    )
    assert (
        client.post(
            f"/api/v1/review/{claim['item_id']}/decision",
            headers=ed,
            json={"verdict": "maybe"},
        ).status_code
        == 422
    )


def test_item_ids_beyond_64_bits_are_refused(app: FastAPI, client: TestClient) -> None:
    """An item id past 2**63 - 1 is a 422 naming item_id, not a store overflow 500."""
    ed, ada = _bearer(app, "ed"), _bearer(app, "ada")
    huge = 2**63

    decided = client.post(
        f"/api/v1/review/{huge}/decision", headers=ed, json={"verdict": "approve"}
    )
    image = client.get(f"/api/v1/review/{huge}/image", headers=ada)
    largest = client.get(f"/api/v1/review/{huge - 1}/image", headers=ada)

    assert decided.status_code == image.status_code == 422
    assert decided.json()["detail"][0]["loc"] == ["path", "item_id"]
    assert largest.status_code == 404


def test_session_decisions_need_the_csrf_token(
    app: FastAPI, client: TestClient
) -> None:
    """From the page (a session cookie) a decision needs X-CSRF-Token."""
    _classify(client, _bearer(app, "vera"), PHOTOS["rocket"].read_bytes())
    token = sign_in(client, "ed")
    claim = client.get("/api/v1/review/next").json()
    url = f"/api/v1/review/{claim['item_id']}/decision"

    refused = client.post(url, json={"verdict": "approve"})
    accepted = client.post(
        url, json={"verdict": "approve"}, headers={"X-CSRF-Token": token}
    )

    assert refused.status_code == 403
    assert accepted.status_code == 200


def test_review_page_renders_for_editors_only(app: FastAPI, client: TestClient) -> None:
    """Editors get the queue page; viewers a 403 page that says why."""
    sign_in(client, "ed")
    page = client.get("/review")
    assert page.status_code == 200 and 'id="review"' in page.text
    assert "/static/review.js" in page.text

    client.cookies.clear()
    sign_in(client, "vera")
    refused = client.get("/review")
    assert refused.status_code == 403 and "editor role" in refused.text


def test_figures_page_shows_stats_and_tuning(app: FastAPI, client: TestClient) -> None:
    """After one rejection the page shows the reviewer, kappa's reason, and
    thresholds tuned from that one label (review = block = its score)."""
    _classify(client, _bearer(app, "vera"), PHOTOS["rocket"].read_bytes())
    ed = _bearer(app, "ed")
    claim = client.get("/api/v1/review/next", headers=ed).json()
    client.post(
        f"/api/v1/review/{claim['item_id']}/decision",
        headers=ed,
        json={"verdict": "reject", "reason": "test"},
    )
    sign_in(client, "vera")

    page = client.get("/review/stats?target_precision=0.9&target_miss_rate=0")

    assert page.status_code == 200
    assert "<td>ed</td>" in page.text
    # Reasons in words; the codes stay in the JSON.
    assert "fewer than 2 items have both a first and a second review" in page.text
    assert "no audit sample of this kind has been decided yet" in page.text
    assert not re.search(r"too_few_pairs|no_audits|_unreachable|no_unsafe", page.text)
    assert f"Review from <strong>{claim['score']:.4f}</strong>" in page.text
    assert 'id="tuning-spec"' in page.text
    assert "NaN" not in page.text and "nan" not in page.text


def test_figures_page_without_reviews(app: FastAPI, client: TestClient) -> None:
    """With nothing reviewed the page says so and draws no chart."""
    sign_in(client, "vera")

    page = client.get("/review/stats")

    assert "No reviewed images yet" in page.text
    assert "tuning-spec" not in page.text
