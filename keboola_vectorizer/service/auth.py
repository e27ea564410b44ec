"""The bearer key (`KV_API_KEY`) for /api and /mcp, and the page's way of asking for it once.

Programs send `Authorization: Bearer <key>`. People type the key into the page once; the server
checks it and keeps it in an HttpOnly, SameSite=Strict cookie, so server-rendered pages (no script
needed) and the page's own requests carry it, and no script can read it. Everything the service
offers is read-only, so the key guards reading the catalogue, not changing it.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE = "kv_key"
COOKIE_MAX_AGE = 365 * 24 * 3600


def presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(COOKIE) or None


def key_matches(expected: str | None, given: str | None) -> bool:
    if not expected:
        return True
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def unauthorized(message: str) -> Response:
    return JSONResponse({"error": message}, status_code=401, headers={"WWW-Authenticate": "Bearer"})


class BearerKeyMiddleware:
    """Refuses /api/* and /mcp* without the key (401, JSON); the page handles its own asking."""

    def __init__(self, app: ASGIApp, api_key: str | None) -> None:
        self.app = app
        self.api_key = api_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        guarded = scope["type"] == "http" and (path.startswith("/api") or path.startswith("/mcp"))
        if self.api_key and guarded:
            request = Request(scope)
            given = presented_key(request)
            if not key_matches(self.api_key, given):
                message = ("this service needs its API key — send `Authorization: Bearer <KV_API_KEY>`"
                           if given is None else
                           "the API key is wrong — send the service's KV_API_KEY as `Authorization: Bearer`")
                await unauthorized(message)(scope, receive, send)
                return
        await self.app(scope, receive, send)
