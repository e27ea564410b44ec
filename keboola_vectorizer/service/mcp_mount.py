"""The MCP endpoint of keboola_vectorizer/mcp_server, for mounting at /mcp in the service.

Kept apart so that the service runs (page and API) on a branch or an install without the MCP server;
`serve` then says so in its log instead of failing.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def mcp_app_for(engine: Any, api_key: str | None) -> Any:
    try:
        from keboola_vectorizer.mcp_server import mcp_http_app  # type: ignore[attr-defined]
    except ImportError:
        log.warning("MCP server not available in this install: /mcp is not served")
        return None
    return mcp_http_app(engine, api_key)
