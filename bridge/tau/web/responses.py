"""What the web page's handlers answer with: JSON and HTML, an error in the page's
`{"status": "error", "error": ...}` shape, the session cookie, the page a login may
return to, and a request's JSON body (or the 400 that refuses it).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from tau.web.auth import COOKIE, Session


def dumps(value: Any) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))


def html(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, content_type="text/html", status=status)


def error(status: int, message: str) -> web.Response:
    return web.json_response({"status": "error", "error": message}, status=status)


def set_cookie(response: web.StreamResponse, session: Session) -> None:
    response.set_cookie(
        COOKIE, session.token, httponly=True, samesite="Strict", path="/", max_age=7 * 24 * 3600
    )


def safe_next(target: str | None) -> str:
    """Only a page of this site (no `//host` or scheme): where the login returns to."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/overview"


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(
            text='{"status":"error","error":"the body must be JSON"}',
            content_type="application/json",
        ) from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(
            text='{"status":"error","error":"the body must be a JSON object"}',
            content_type="application/json",
        )
    return data
