"""JSON API of the image filter: classify uploads, work the review queue.

* ``POST /api/v1/images:classify``: a multipart upload (field ``file``, and
  optionally ``surface`` and ``ref``) is scored, decided and, if a human must
  look, queued. Uploads over ``[images] max_bytes`` are refused with 413
  before they are read in full; undecodable ones with 422 and an error code;
  a model that cannot be loaded or fails with 503 and a code.
* ``GET /api/v1/review/next``: claim the next item (204 if none).
* ``POST /api/v1/review/{id}/decision``: approve or reject a claimed item.
* ``GET /api/v1/review/{id}/image``: the image of an item you hold.
* ``GET /api/v1/images/stats``: queue, reviewers, agreement, error rates.

Reviewing needs the editor role; classifying any signed-in user or token.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import (
    APIRouter,
    Depends,
    HTTPException,
    Path,
    Request,
    Response,
)
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message

from veedel.api.ascii_errors import AsciiErrorRoute
from veedel.api.security import CurrentUser, require_role
from veedel.errors import ConfigError, InputError, NotFoundError
from veedel.imagefilter import (
    ImageDecodeError,
    ImageFilterSettings,
    ModelError,
    OnnxClassifier,
    ReviewQueue,
    decode_image,
    load_settings,
    queue_stats,
)
from veedel.imagefilter.queue import ClaimConflict

#: Media type stored and served for each decoded format.
MEDIA_TYPES = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
}

__all__ = ["router", "upload_limit"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["images"], route_class=AsciiErrorRoute)

_CHUNK = 1 << 16
# Multipart framing around the file: a generous allowance over max_bytes.
_FRAMING = 64 * 1024
_LOCK = threading.Lock()


@dataclass
class _ImageFilter:
    settings: ImageFilterSettings
    queue: ReviewQueue
    classifier: OnnxClassifier | None = None

    def model(self) -> OnnxClassifier:
        # Loaded on first use: a server that only reviews never loads it.
        with _LOCK:
            if self.classifier is None:
                self.classifier = self.settings.classifier()
            return self.classifier


def upload_limit() -> int:
    """The most bytes an upload request may carry: ``[images] max_bytes`` plus
    the multipart framing (the body limit's backstop for this endpoint)."""
    return load_settings().max_bytes + _FRAMING


def _image_filter(request: Request) -> _ImageFilter:
    state = request.app.state
    with _LOCK:
        found = getattr(state, "image_filter", None)
        if found is None:
            settings = load_settings()
            found = _ImageFilter(settings, settings.queue(state.store))
            state.image_filter = found
    return found


Filter = Annotated[_ImageFilter, Depends(_image_filter)]
Reviewer = Annotated[CurrentUser, Depends(require_role("editor"))]
Viewer = Annotated[CurrentUser, Depends(require_role("viewer"))]
# Queue ids are 64-bit store keys; a larger number is a 422, not a store overflow.
ItemId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class ClassifyOut(BaseModel):
    """The automatic decision on one upload."""

    score: float
    action: Literal["allow", "review", "block"]
    surface: str
    review_threshold: float
    block_threshold: float
    model_version: str
    decided_at: str
    frames: int
    decision_id: int
    queued_as: str | None = Field(description="review, audit, or null if not queued")


class ClaimOut(BaseModel):
    """An item held by the signed-in reviewer until ``lease_expires_at``.

    Blind items (audit samples, second reviews) come without score and reason.
    """

    item_id: int
    token: str
    reviewer: str
    lease_expires_at: str
    sha256: str
    media_type: str
    surface: str
    blind: bool
    score: float | None
    reason: str | None
    image_url: str


class DecisionIn(BaseModel):
    """A reviewer's decision on a claimed item."""

    verdict: Literal["approve", "reject"]
    reason: str = Field(default="", max_length=2000)
    token: str | None = Field(default=None, description="Claim token, if known.")


class DecisionOut(BaseModel):
    """A recorded decision."""

    item_id: int
    verdict: str
    reason: str
    reviewer: str
    decided_at: str


def _error(status: int, code: str, detail: str) -> JSONResponse:
    return JSONResponse({"code": code, "detail": detail}, status_code=status)


@router.post(
    "/images:classify",
    response_model=ClassifyOut,
    responses={
        413: {"description": "too_large"},
        422: {"description": "bad image"},
        503: {"description": "model_unavailable or model_failed"},
    },
)
async def classify(
    request: Request,
    image_filter: Filter,
    user: Viewer,
) -> Any:
    """Score an uploaded image, decide allow / review / block, queue if needed."""
    limit = image_filter.settings.max_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit + _FRAMING:
        return _error(413, "too_large", f"The upload exceeds {limit} bytes.")
    try:
        form = await _limited(request, limit + _FRAMING).form(max_files=1, max_fields=4)
    except _BodyTooLarge:
        return _error(413, "too_large", f"The upload exceeds {limit} bytes.")
    except StarletteHTTPException as exc:
        # Starlette turns any multipart parser failure into a bare 400.
        return _error(
            400,
            "bad_multipart",
            f"The body is not valid multipart/form-data ({exc.detail}). Send the "
            "image as the multipart field 'file' with a filename under 1,000 "
            "characters and at most 4 fields.",
        )
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        return _error(422, "no_file", "Send the image as the multipart field 'file'.")
    content = await _read_limited(upload, limit)
    if content is None:
        return _error(413, "too_large", f"The upload exceeds {limit} bytes.")
    surface = str(form.get("surface") or image_filter.settings.default_surface)
    ref = str(form.get("ref") or upload.filename or "upload")
    try:
        # Decoding and the model are CPU work: off the event loop.
        decided = await run_in_threadpool(
            _classify, image_filter, content, surface, ref
        )
    except ImageDecodeError as exc:
        return _error(422, exc.code, str(exc))
    except ConfigError as exc:
        # The server's model setup is wrong, not the upload: no retry helps.
        logger.error("Image model cannot be loaded: %s", exc)
        return _error(503, "model_unavailable", str(exc))
    except InputError as exc:
        return _error(422, "invalid", str(exc))
    except ModelError as exc:
        logger.error("Image model failed on %s: %s", ref, exc)
        return _error(503, "model_failed", str(exc))
    logger.debug("Classified %s for %s", ref, user.username)
    return decided


def _classify(
    image_filter: _ImageFilter,
    content: bytes,
    surface: str,
    ref: str,
) -> ClassifyOut:
    settings = image_filter.settings
    policy = settings.policy()
    policy.thresholds(surface)  # an unknown surface fails before the model runs
    image = decode_image(content, settings.limits())
    classifier = image_filter.model()
    score = float(classifier.score([image])[0])
    verdict = policy.decide(score, surface, classifier.model_version)
    # The stored type is the decoded format's, never the client's claim: it
    # is served back to reviewers, and "text/html" there would be stored XSS.
    submission = image_filter.queue.submit(
        verdict, content, ref=ref, media_type=MEDIA_TYPES[image.format]
    )
    return ClassifyOut(
        score=verdict.score,
        action=verdict.action.value,
        surface=surface,
        review_threshold=verdict.thresholds.review,
        block_threshold=verdict.thresholds.block,
        model_version=verdict.model_version,
        decided_at=verdict.decided_at.isoformat(),
        frames=len(image.frames),
        decision_id=submission.decision_id,
        queued_as=submission.kind,
    )


class _BodyTooLarge(Exception):
    """The request body grew past the limit while it was being received."""


def _limited(request: Request, limit: int) -> Request:
    """The request with a body that stops being read past ``limit`` bytes.

    A body without Content-Length (chunked) is counted as it arrives, so a
    client cannot make the server spool an unbounded upload to disk.
    """
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise _BodyTooLarge
        return message

    return Request(request.scope, receive)


async def _read_limited(upload: UploadFile, limit: int) -> bytes | None:
    """The upload's bytes, or None as soon as more than ``limit`` arrive."""
    parts: list[bytes] = []
    size = 0
    while chunk := await upload.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return b"".join(parts)


@router.get(
    "/review/next",
    response_model=ClaimOut,
    responses={204: {"description": "The queue is empty."}},
)
def review_next(image_filter: Filter, user: Reviewer) -> Any:
    """Claim the next item for the signed-in reviewer (the same one until decided)."""
    claim = image_filter.queue.claim(user.username)
    if claim is None:
        return Response(status_code=204)
    return claim.to_dict() | {"image_url": f"/api/v1/review/{claim.item_id}/image"}


@router.post("/review/{item_id}/decision", response_model=DecisionOut)
def review_decision(
    item_id: ItemId, body: DecisionIn, image_filter: Filter, user: Reviewer
) -> Any:
    """Approve or reject an item the signed-in reviewer holds."""
    try:
        decision = image_filter.queue.decide(
            item_id, user.username, body.verdict, body.reason, token=body.token
        )
    except NotFoundError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except ClaimConflict as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    return DecisionOut(
        item_id=decision.item_id,
        verdict=decision.verdict,
        reason=decision.reason,
        reviewer=decision.reviewer,
        decided_at=decision.decided_at.isoformat() + "Z",
    )


@router.get("/review/{item_id}/image", response_class=Response)
def review_image(item_id: ItemId, image_filter: Filter, user: Reviewer) -> Response:
    """The image of an item; only for the reviewer who holds it, or an admin."""
    if not (user.can("admin") or image_filter.queue.holds(item_id, user.username)):
        raise HTTPException(status_code=403, detail="Claim the item first.")
    try:
        content, media_type = image_filter.queue.image(item_id)
    except NotFoundError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    if media_type not in MEDIA_TYPES.values():
        media_type = "application/octet-stream"  # stored before types were checked
    return Response(
        content,
        media_type=media_type,
        headers={
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


@router.get("/images/stats")
def stats(image_filter: Filter, user: Viewer) -> dict[str, Any]:
    """Queue size, decisions per reviewer, agreement and estimated error rates."""
    return queue_stats(image_filter.queue.engine).to_dict()
