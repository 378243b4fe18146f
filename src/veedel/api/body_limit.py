"""A size limit on request bodies: JSON and forms past ``max_request_bytes`` get
a 413 with a JSON error before the app holds them in memory.

The image upload has its own, larger limit (``[images] max_bytes``), which its
endpoint checks with its own error; here that path only gets a backstop at the
same size plus the multipart framing, so that no layer in front of the
endpoint (the sign-in check reading a form's CSRF token) reads an unbounded
body.

A body over the limit ends, for the app, as a client disconnect: whichever
layer was reading it (an endpoint, or the sign-in check reading a form's CSRF
token) stops, and this middleware answers in its place. FastAPI's own
``max_body_size`` answers a declared oversize body in plain text whatever the
app replies, hence this one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimitMiddleware"]


class BodyLimitMiddleware:
    """Refuse request bodies over ``limit`` bytes (``per_path`` overrides it).

    A declared Content-Length over the limit is refused before any byte is
    read; a body without one (chunked) is counted as it arrives.
    """

    def __init__(
        self, app: ASGIApp, limit: int, per_path: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.limit = limit
        self.per_path = dict(per_path or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        limit = self.per_path.get(scope["path"], self.limit)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(send, limit)
            return

        received = 0
        over = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit and not started:
                over = True
                return {"type": "http.disconnect"}
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if over:
                return  # the app's answer to the cut body; the 413 replaces it
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except Exception:
            if not over:
                raise
        if over:
            await self._refuse(send, limit)

    async def _refuse(self, send: Send, limit: int) -> None:
        if limit == self.limit:
            rule = (
                "the limit of JSON and form requests (setting max_request_bytes,"
                " VEEDEL_MAX_REQUEST_BYTES)"
            )
        else:
            rule = "the limit of this endpoint"
        detail = f"The request body exceeds {limit:,} bytes, {rule}."
        body = json.dumps({"code": "too_large", "detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
