"""MCP server: read-only search, objects, lineage, similar and status tools for AI assistants.

Never named `mcp`: a package of that name would shadow the SDK it is built on. The SDK is imported
on first use only, so registering the `mcp` command costs the other CLI commands nothing."""

from __future__ import annotations

from typing import Any

__all__ = ["build_mcp_server", "mcp_http_app", "mcp_lifespan"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from keboola_vectorizer.mcp_server import server

        return getattr(server, name)
    raise AttributeError(name)
