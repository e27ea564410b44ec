"""The MCP endpoint of keboola_vectorizer/mcp_server, served at /mcp by the service's process.

The MCP app is reached by path (`/mcp`, `/mcp/...`) in front of the FastAPI app rather than mounted
in it: mounted, it would see its requests with the prefix stripped and clients posting to `/mcp`
would get a redirect. Its lifespan (the SDK's session manager) runs inside the service's.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

MCP_PATH = "/mcp"


@dataclass
class McpMount:
    app: ASGIApp
    lifespan: Callable[[], AbstractAsyncContextManager[None]]


def mcp_mount_for(engine: Any, api_key: str | None, host: str = "127.0.0.1",
                  max_chars: int | None = None) -> McpMount:
    from keboola_vectorizer.mcp_server import mcp_http_app, mcp_lifespan

    # `host` is where the service listens: the SDK turns DNS-rebinding protection on for loopback only.
    app = mcp_http_app(engine, api_key, path=MCP_PATH, host=host, max_chars=max_chars)
    return McpMount(app, lambda: mcp_lifespan(app))


class McpDispatch:
    """ASGI: requests under /mcp go to the MCP app, everything else (lifespan included) to `main`."""

    def __init__(self, main: ASGIApp, mcp: ASGIApp) -> None:
        self.main = main
        self.mcp = mcp
        self.state = getattr(main, "state", None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] in ("http", "websocket") else ""
        if path == MCP_PATH or path.startswith(MCP_PATH + "/"):
            await self.mcp(scope, receive, send)
            return
        await self.main(scope, receive, send)
