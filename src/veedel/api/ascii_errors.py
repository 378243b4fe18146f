"""A route class whose 422 answers survive input that is not valid Unicode.

FastAPI's 422 answer echoes each offending input. A JSON body may hold a lone
surrogate escape (``"\\ud800"``); pydantic refuses it, rightly, but the echo
then cannot be encoded as UTF-8 and the client gets a 500 instead of the 422.
Routers that take free text use :class:`AsciiErrorRoute`, which writes the
same answer with every non-ASCII character escaped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["AsciiErrorRoute", "echo_value", "validation_error_handler"]

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


# Echoed inputs are cut to this many characters: a 5 MB field is refused for
# its length, and the answer must not send the 5 MB back.
MAX_ECHO = 80


def echo_value(value: Any) -> Any:
    """The offending input as the answer shows it: short, and valid JSON."""
    if isinstance(value, str) and len(value) > MAX_ECHO:
        return f"{value[:MAX_ECHO]}… ({len(value)} characters)"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict | list):
        try:
            text = json.dumps(value, allow_nan=False)
        except ValueError:  # a NaN somewhere inside
            text = ""
        if not text or len(text) > MAX_ECHO:
            return f"({type(value).__name__} of {len(value)} items, not shown)"
    return value


def _unprocessable(errors: Any) -> Response:
    detail = []
    for error in jsonable_encoder(errors):
        error.pop("ctx", None)
        if error.get("type") == "string_unicode":
            error["msg"] = _NOT_TEXT
        elif isinstance(error.get("msg"), str):
            error["msg"] = error["msg"].removeprefix("Value error, ")
        if "input" in error:
            error["input"] = echo_value(error["input"])
        detail.append(error)
    body = json.dumps({"detail": detail}, ensure_ascii=True, allow_nan=False)
    return Response(body, status_code=422, media_type="application/json")
