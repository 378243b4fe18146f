"""The Jinja2 environment every page renders with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from veedel.api.security import csrf_token

__all__ = ["NAV", "render", "templates"]

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
templates = Jinja2Templates(directory=TEMPLATE_DIR)
templates.env.filters["tojson_pretty"] = lambda value: json.dumps(value, indent=2)
# Counts shown to people get thousands separators: 18,085 posts, 1,403 days.
templates.env.filters["count"] = lambda value: f"{int(value):,}"

# The navigation bar: (label, path). Products add their pages here.
NAV: list[tuple[str, str]] = [
    ("Home", "/"),
    ("Text", "/text"),
    ("Image review", "/review"),
    ("Experiments", "/experiments"),
    ("Metric library", "/metrics"),
]


def render(
    request: Request, name: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """Render template ``name`` with the user, the CSRF token and the nav bar."""
    context.update(
        request=request,
        user=getattr(request.state, "user", None),
        csrf_token=csrf_token(request),
        nav=NAV,
    )
    return templates.TemplateResponse(request, name, context, status_code=status_code)
