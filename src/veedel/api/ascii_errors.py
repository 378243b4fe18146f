"""A route class whose 422 answers survive input that is not valid Unicode.

FastAPI's 422 answer echoes each offending input. A JSON body may hold a lone
surrogate escape (``"\\ud800"``); pydantic refuses it, rightly, but the echo
then cannot be encoded as UTF-8 and the client gets a 500 instead of the 422.
Routers that take free text use :class:`AsciiErrorRoute`, which writes the
same answer with every non-ASCII character escaped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["AsciiErrorRoute", "validation_error_handler"]

_NOT_TEXT = (
    "Input should be text in valid UTF-8; lone surrogate escapes "
    "(\\ud800 to \\udfff) and invalid bytes are not text"
)


class AsciiErrorRoute(APIRoute):
    """An APIRoute answering validation errors as ASCII-escaped JSON."""

    def get_route_handler(
        self,
    ) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return _unprocessable(exc.errors())

        return handle


async def validation_error_handler(request: Request, exc: Exception) -> Response:
    """The app-wide 422 handler: the same ASCII-escaped answer for every route."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return _unprocessable(errors)


def _unprocessable(errors: Any) -> Response:
    detail = []
    for error in jsonable_encoder(errors):
        error.pop("ctx", None)
        if error.get("type") == "string_unicode":
            error["msg"] = _NOT_TEXT
        detail.append(error)
    body = json.dumps({"detail": detail}, ensure_ascii=True)
    return Response(body, status_code=422, media_type="application/json")
