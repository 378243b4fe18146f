"""A size limit on request bodies: JSON and forms past ``max_request_bytes`` get
a 413 with a JSON error before the app holds them in memory.

The image upload has its own, larger limit (``[images] max_bytes``), checked
by its endpoint, and is left alone here.

A body over the limit ends, for the app, as a client disconnect: whichever
layer was reading it (an endpoint, or the sign-in check reading a form's CSRF
token) stops, and this middleware answers in its place. FastAPI's own
``max_body_size`` answers a declared oversize body in plain text whatever the
app replies, hence this one.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimitMiddleware"]


class BodyLimitMiddleware:
    """Refuse request bodies over ``limit`` bytes, except on ``exempt`` paths.

    A declared Content-Length over the limit is refused before any byte is
    read; a body without one (chunked) is counted as it arrives.
    """

    def __init__(
        self, app: ASGIApp, limit: int, exempt: frozenset[str] = frozenset()
    ) -> None:
        self.app = app
        self.limit = limit
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return

        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
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
            if received > self.limit and not started:
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
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        detail = (
            f"The request body exceeds {self.limit:,} bytes, the limit of JSON and"
            " form requests (setting max_request_bytes, VEEDEL_MAX_REQUEST_BYTES)."
        )
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
