"""The one FastAPI app: JSON API under /api/v1 and server-rendered pages."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles

from veedel import __version__
from veedel.api.ascii_errors import validation_error_handler
from veedel.api.body_limit import BodyLimitMiddleware
from veedel.api.security import SessionSigner, make_auth_middleware
from veedel.api.state import open_store
from veedel.settings import Settings, get_settings, secret_key

__all__ = ["create_app", "plain_http_warning"]

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for ``settings`` (default: the resolved settings).

    Examples
    --------
    ``uvicorn --factory veedel.api.app:create_app``
    """
    settings = settings or get_settings()
    engine = open_store(settings.resolved_store_url())
    signer = SessionSigner(secret_key(settings))

    app = FastAPI(
        title="veedel",
        version=__version__,
        description="Data products for location-based community apps.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = engine
    app.state.signer = signer
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.middleware("http")(make_auth_middleware(engine, signer))
    # Outside the sign-in check, which reads a form for its CSRF token.
    from veedel.api import images as images_api

    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.max_request_bytes,
        per_path={"/api/v1/images:classify": images_api.upload_limit()},
    )
    # Added last, so it runs first and also marks the sign-in redirects and 401s.
    app.middleware("http")(_security_headers)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/health", tags=["meta"])
    def health() -> dict[str, str]:
        """Liveness: answers without sign-in."""
        return {"status": "ok", "version": __version__}

    _include_routers(app)
    return app


# No page is meant to be framed: another site framing the forms could trick a
# signed-in user into clicking them (clickjacking). nosniff keeps a browser
# from reading JSON that holds typed markup as HTML.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "same-origin",
}


async def _security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def plain_http_warning(host: str) -> str | None:
    """The warning for serving plain HTTP on ``host``, or None on loopback.

    The session cookie is ``Secure``: browsers keep it over ``http://`` only
    for loopback addresses (``localhost``, ``127.0.0.1``, ``::1``). Reached
    from another machine over plain HTTP, sign-in succeeds on the server but
    the browser drops the cookie, and the user is sent back to the form.
    """
    name = host.strip().strip("[]")
    if name.lower() == "localhost":
        return None
    try:
        if ipaddress.ip_address(name).is_loopback:
            return None
    except ValueError:
        pass  # a host name other than localhost: assume it is reached remotely
    return (
        f"Serving plain HTTP on {host}, which is not a loopback address: browsers"
        " drop the Secure session cookie over http:// from other machines, so"
        " signing in will fail. Put a reverse proxy with TLS (https) in front, or"
        " bind 127.0.0.1."
    )


def _include_routers(app: FastAPI) -> None:
    # One line per product; the pages come last so /api paths win.
    from veedel.api import accounts as accounts_api
    from veedel.api import assignment as assignment_api
    from veedel.api import experiments as experiments_api
    from veedel.api import images as images_api
    from veedel.api import text as text_api
    from veedel.web import experiments as experiments_pages
    from veedel.web import pages as web_pages
    from veedel.web import review as review_pages
    from veedel.web import text as text_pages

    app.include_router(accounts_api.router)
    app.include_router(images_api.router)
    app.include_router(review_pages.router)
    app.include_router(experiments_api.router)
    app.include_router(assignment_api.router)
    app.include_router(experiments_pages.router)
    app.include_router(text_api.router)
    app.include_router(text_pages.router)
    app.include_router(web_pages.router)
