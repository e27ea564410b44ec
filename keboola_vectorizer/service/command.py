"""`keboola-vectorizer serve`: the search service (page, API, MCP over HTTP) under uvicorn.

Only typer at import time: the CLI imports this module for every command, and the server's
dependencies (FastAPI, uvicorn, the model) load when `serve` runs.
"""

from __future__ import annotations

from typing import Annotated

import typer

from keboola_vectorizer.errors import ConfigError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on (0.0.0.0 in a container).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8080,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Threads for model inference "
                                                "and store reads (default: one per core).")] = None,
) -> None:
    """Serve the search page at /, the JSON API at /api (docs at /docs) and MCP at /mcp."""
    import uvicorn

    from keboola_vectorizer.config import load_settings
    from keboola_vectorizer.engine import SearchEngine
    from keboola_vectorizer.service.app import create_app
    from keboola_vectorizer.service.mcp_mount import mcp_mount_for

    settings = load_settings()
    api_key = settings.kv_api_key.get_secret_value() if settings.kv_api_key else None
    if not api_key and host not in LOOPBACK:
        # The same rule as `mcp --transport http`: an open catalogue is for this machine only.
        raise ConfigError(f"refusing to serve the index on {host} without an API key",
                          "set KV_API_KEY (or mount it as a secret file), or bind --host 127.0.0.1")
    engine = SearchEngine(settings)
    app = create_app(engine, api_key=api_key, mcp=mcp_mount_for(engine, api_key, host, settings.kv_mcp_max_chars),
                     workers=workers)
    # The app logs through the project's logging set-up; uvicorn's own access log would repeat every
    # request line (and query strings) at INFO.
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, lifespan="on")
    engine.close()
