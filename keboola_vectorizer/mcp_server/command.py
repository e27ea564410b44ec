"""`keboola-vectorizer mcp`: stdio (what desktop assistants launch) or streamable HTTP for a shared server."""

from __future__ import annotations

import logging
from enum import Enum
from typing import Annotated

import typer

from keboola_vectorizer.config import Settings
from keboola_vectorizer.errors import ConfigError

log = logging.getLogger(__name__)


class Transport(str, Enum):
    stdio = "stdio"
    http = "http"


def run_mcp(settings: Settings, transport: Transport, host: str, port: int) -> None:
    from keboola_vectorizer.engine import SearchEngine
    from keboola_vectorizer.mcp_server.server import build_mcp_server, mcp_http_app

    engine = SearchEngine(settings)
    try:
        if transport is Transport.stdio:
            # The SDK points fd 1 at stderr while it serves, so only protocol messages reach stdout.
            build_mcp_server(engine, max_chars=settings.kv_mcp_max_chars).run("stdio")
            return
        import uvicorn

        key = settings.kv_api_key.get_secret_value() if settings.kv_api_key else None
        if not key and host not in ("127.0.0.1", "localhost", "::1"):
            raise ConfigError(f"refusing to serve the index on {host} without an API key",
                              "set KV_API_KEY (or mount it as a secret file), or bind --host 127.0.0.1")
        app = mcp_http_app(engine, key, host=host, max_chars=settings.kv_mcp_max_chars)
        log.info("MCP over streamable HTTP at http://%s:%d/mcp (%s)", host, port,
                 "API key required" if key else "no API key: loopback only")
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        engine.close()


def mcp(
    transport: Annotated[Transport, typer.Option(help="stdio (for a desktop assistant) or http (a shared "
                                                 "server: streamable HTTP at /mcp).")] = Transport.stdio,
    host: Annotated[str, typer.Option(help="HTTP: address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="HTTP: port.")] = 8765,
) -> None:
    """Serve the index to AI assistants over MCP: read-only search, objects, lineage, similar, status."""
    from keboola_vectorizer.config import load_settings

    run_mcp(load_settings(), transport, host, port)
