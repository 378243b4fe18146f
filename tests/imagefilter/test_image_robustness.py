"""Hostile uploads and review misuse through the HTTP API."""

from __future__ import annotations

import io
import struct
import threading
import zlib

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from image_samples import PHOTOS
from PIL import Image
from sqlalchemy import Engine, func, select

from veedel.accounts import create_token
from veedel.imagefilter import Policy, ReviewQueue
from veedel.imagefilter.tables import ImageBlob
from veedel.store import get_engine, init_store, session_scope


def _bearer(app: FastAPI, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(app.state.store, name, 'test')}"}


def _png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", pixels)
        + chunk(b"IEND", b"")
    )


def _gif_with_frames(n_frames: int) -> bytes:
    frames = [Image.new("P", (4, 4), color=i % 256) for i in range(n_frames)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


def _post(
    client: TestClient,
    app: FastAPI,
    data: bytes,
    *,
    field: str = "file",
    filename: str = "photo.png",
) -> tuple[int, dict[str, object]]:
    response = client.post(
        "/api/v1/images:classify",
        files={field: (filename, data, "image/png")},
        headers=_bearer(app, "vera"),
    )
    return response.status_code, response.json()


def test_png_declaring_100k_by_100k_is_a_pixel_limit(
    app: FastAPI, client: TestClient
) -> None:
    """A 10^10-pixel header is refused from the header, as 422 pixel_limit."""
    status, body = _post(client, app, _png_declaring(100_000, 100_000))

    assert (status, body["code"]) == (422, "pixel_limit")
    assert "10000000000 pixels" in str(body["detail"])


def test_gif_with_10000_frames_is_scored_from_a_sample(
    app: FastAPI, client: TestClient
) -> None:
    """10,000 frames: a few sampled frames scored, 200."""
    status, body = _post(client, app, _gif_with_frames(10_000), filename="a.gif")

    assert status == 200, body
    assert 1 <= int(str(body["frames"])) <= 8


def test_wrong_field_name_is_no_file(app: FastAPI, client: TestClient) -> None:
    """A file under another field name is 422 no_file naming the field."""
    status, body = _post(client, app, PHOTOS["rocket"].read_bytes(), field="image")

    assert (status, body["code"]) == (422, "no_file")
    assert "'file'" in str(body["detail"])


@pytest.mark.parametrize(
    "filename", ["x" * 1_000 + ".jpg", "Köln 🚀 фото.jpg", "../../etc/passwd"]
)
def test_odd_filenames_are_classified(
    app: FastAPI, client: TestClient, filename: str
) -> None:
    """Huge, unicode and traversal filenames neither crash nor leak."""
    status, body = _post(client, app, PHOTOS["rocket"].read_bytes(), filename=filename)

    assert status == 200, body


def test_review_image_type_comes_from_the_bytes_not_the_client(
    app: FastAPI, client: TestClient
) -> None:
    """An upload labelled text/html (or with a 200-character type) is served
    back to reviewers as the image/jpeg it decodes as, never as HTML."""
    ed = _bearer(app, "ed")
    for media_type in ("text/html", "image/" + "x" * 200):
        uploaded = client.post(
            "/api/v1/images:classify",
            files={"file": ("a.jpg", PHOTOS["rocket"].read_bytes(), media_type)},
            headers=_bearer(app, "vera"),
        )
        assert uploaded.status_code == 200, uploaded.text

    claim = client.get("/api/v1/review/next", headers=ed).json()
    image = client.get(claim["image_url"], headers=ed)

    assert image.headers["content-type"] == "image/jpeg"
    assert image.headers["x-content-type-options"] == "nosniff"


def test_unparsable_multipart_is_a_400_with_a_sentence(
    app: FastAPI, client: TestClient
) -> None:
    """A 10,000-character filename overflows the multipart parser: 400
    bad_multipart naming the form, not a bare 'Invalid multipart data.'"""
    status, body = _post(
        client, app, PHOTOS["rocket"].read_bytes(), filename="x" * 10_000 + ".jpg"
    )

    assert (status, body["code"]) == (400, "bad_multipart")
    assert "multipart/form-data" in str(body["detail"])
    assert "'file'" in str(body["detail"])


def test_decision_with_a_lone_surrogate_is_a_422(
    app: FastAPI, client: TestClient
) -> None:
    """A reason holding a lone surrogate escape is refused with 422, not 500."""
    ed = _bearer(app, "ed")
    client.post(
        "/api/v1/images:classify",
        files={"file": ("a.jpg", PHOTOS["rocket"].read_bytes(), "image/jpeg")},
        headers=_bearer(app, "vera"),
    )
    claim = client.get("/api/v1/review/next", headers=ed).json()

    response = client.post(
        f"/api/v1/review/{claim['item_id']}/decision",
        content=b'{"verdict": "approve", "reason": "ok \\ud800"}',
        headers=ed | {"Content-Type": "application/json"},
    )

    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "reason"]


def _same_image_at_once(engine: Engine, n_threads: int) -> list[object]:
    queue = ReviewQueue(
        engine,
        audit_allow_share=0.0,
        audit_block_share=0.0,
        second_review_share=0.0,
    )
    policy = Policy({"post_image": (0.3, 0.8)})
    barrier = threading.Barrier(n_threads)
    outcomes: list[object] = []

    def submit(n: int) -> None:
        barrier.wait()
        try:
            outcomes.append(
                queue.submit(
                    policy.decide(0.5, "post_image", "m"), b"same bytes", ref=str(n)
                ).kind
            )
        except Exception as exc:  # the defect: a duplicate blob
            outcomes.append(exc)

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.postgres
def test_the_same_image_uploaded_at_once_is_queued_every_time(
    postgres_url: str,
) -> None:
    """Eight concurrent uploads of identical bytes all queue; the blob is
    stored once (the second insert of the same sha256 was an IntegrityError)."""
    engine = get_engine(postgres_url)
    init_store(engine)

    outcomes = _same_image_at_once(engine, 8)

    assert outcomes == ["review"] * 8
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(ImageBlob)) == 1
    engine.dispose()


def test_the_same_image_uploaded_at_once_on_sqlite(sqlite_engine: Engine) -> None:
    """The same on the default SQLite store: every upload queued, one blob."""
    outcomes = _same_image_at_once(sqlite_engine, 8)

    assert outcomes == ["review"] * 8
    with session_scope(sqlite_engine) as session:
        assert session.scalar(select(func.count()).select_from(ImageBlob)) == 1
