"""The MCP server on the official SDK (2.x): five read-only tools over one warm SearchEngine.

- `build_mcp_server(engine)` -> the `MCPServer` (in-process clients, stdio, or your own transport);
- `mcp_http_app(engine, api_key)` -> an ASGI app serving streamable HTTP at `/mcp`, with
  `Authorization: Bearer <key>` required when a key is given. To mount it inside another ASGI app,
  run `mcp_lifespan(app)` in the host's lifespan (the SDK's session manager lives there; a mounted
  Starlette app's own lifespan never runs).
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse

from keboola_vectorizer.engine import SearchEngine
from keboola_vectorizer.mcp_server.budget import DEFAULT_MAX_CHARS, dumps
from keboola_vectorizer.mcp_server.tools import COLUMNS_PAGE, MAX_DEPTH, MAX_IDS, MAX_LIMIT, Tools

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "Search the metadata of Keboola projects (buckets, tables, columns, configurations such as "
    "extractors, transformations, writers and flows) by meaning. Start with semantic_search; open "
    "results with get_objects; follow data with get_lineage; find look-alikes with find_similar; "
    "index_status says what is indexed and how fresh it is. Results carry Keboola's own ids "
    "(table_id, bucket_id, component_id, configuration_id) for Keboola's own MCP server and API."
)
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                            open_world_hint=False)

Kinds = Annotated[list[str] | str | None, Field(
    description="Only these kinds: bucket, table, column, configuration, configuration_row (flows and "
                "transformations are configurations).")]
Projects = Annotated[list[int] | int | str | None, Field(description="Only these Keboola project ids.")]
Bucket = Annotated[list[str] | str | None, Field(description="Only this bucket id, e.g. out.c-crm.")]
Component = Annotated[list[str] | str | None, Field(
    description="Only this component id, e.g. keboola.snowflake-transformation.")]
Stage = Annotated[str | None, Field(description="Only the in or out storage stage.")]
Limit = Annotated[int | str | None, Field(description=f"Number of results, 1 to {MAX_LIMIT}.")]


def _result(body: dict[str, Any]) -> CallToolResult:
    """The body as compact JSON text (what the budget measured) and as structured content."""
    return CallToolResult(content=[TextContent(type="text", text=dumps(body))], structured_content=body)


def build_mcp_server(engine: SearchEngine, *, max_chars: int | None = None, warm: bool = True) -> MCPServer:
    """The MCP server over `engine`; with `warm`, the index and model load when the server starts."""
    tools = Tools(engine, max_chars or DEFAULT_MAX_CHARS)

    @asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[None]:
        if warm:
            try:
                await anyio.to_thread.run_sync(engine.warm)
            except Exception as error:  # a missing index is reported per call, with its fix
                log.warning("index not loaded at start: %s", getattr(error, "message", type(error).__name__))
        yield

    server = MCPServer("keboola-vectorizer", instructions=INSTRUCTIONS, lifespan=lifespan)

    @server.tool(annotations=READ_ONLY, structured_output=False)
    def semantic_search(
        query: Annotated[str, Field(description="What you look for, in your own words.")],
        kinds: Kinds = None, project_ids: Projects = None, bucket_id: Bucket = None,
        component_id: Component = None, stage: Stage = None,
        mode: Annotated[str | None, Field(description="hybrid (default: meaning + keywords), dense or sparse.")] = None,
        limit: Limit = 10,
        cursor: Annotated[str | None, Field(description="next_cursor of the previous call, for more results.")] = None,
    ) -> CallToolResult:
        """Find Keboola tables, columns, buckets, configurations and flows by meaning, best first.

        Returns ids, names, snippets, links and Keboola ids, whether more results exist (has_more,
        next_cursor) and how old the index is."""
        return _result(tools.semantic_search(query, kinds, project_ids, bucket_id, component_id, stage, mode,
                                             limit, cursor))

    @server.tool(annotations=READ_ONLY, structured_output=False)
    def get_objects(
        ids: Annotated[list[str] | str, Field(description=f"Up to {MAX_IDS} document ids from search results "
                                                          "(a table id like out.c-crm.company works too).")],
        columns_offset: Annotated[int | str | None, Field(description="First column to list (paging).")] = 0,
        columns_limit: Annotated[int | str | None, Field(description="Columns per table, 1 to 200.")] = COLUMNS_PAGE,
    ) -> CallToolResult:
        """Full stored details of objects: description, columns (paged, with types), produced_by /
        consumed_by, code excerpts, links. Unknown ids get an error entry each."""
        return _result(tools.get_objects(ids, columns_offset, columns_limit))

    @server.tool(annotations=READ_ONLY, structured_output=False)
    def get_lineage(
        table: Annotated[str, Field(description="Table id (out.c-crm.company) or a document id of a table "
                                                "or configuration.")],
        project_id: Annotated[int | str | None, Field(description="Project id, when several hold the table.")] = None,
        direction: Annotated[str | None, Field(description="upstream, downstream or both (default).")] = "both",
        depth: Annotated[int | str | None, Field(description=f"Configuration steps to follow, 1 to {MAX_DEPTH}.")] = 1,
    ) -> CallToolResult:
        """What produces a table (upstream) and what uses it (downstream): configurations and tables."""
        return _result(tools.get_lineage(table, project_id, direction, depth))

    @server.tool(annotations=READ_ONLY, structured_output=False)
    def find_similar(
        id: Annotated[str, Field(description="Document id of the object to compare with.")],  # noqa: A002
        kinds: Kinds = None, project_ids: Projects = None, bucket_id: Bucket = None,
        component_id: Component = None, stage: Stage = None, limit: Limit = 10,
    ) -> CallToolResult:
        """Objects most like a given one (duplicates, copies in other projects, alternatives)."""
        return _result(tools.find_similar(id, kinds, project_ids, bucket_id, component_id, stage, limit))

    @server.tool(annotations=READ_ONLY, structured_output=False)
    def index_status() -> CallToolResult:
        """What is indexed: collection, model, counts by kind and project, the last run and its age."""
        return _result(tools.index_status())

    @server.custom_route("/healthz", methods=["GET"])
    async def healthz(_: Request) -> JSONResponse:
        status = await anyio.to_thread.run_sync(engine.status)
        return JSONResponse({"ok": True, "index": status["exists"], "generation": status["generation"]})

    return server


class ApiKeyGuard:
    """Pure ASGI: every HTTP request but /healthz needs `Authorization: Bearer <key>`, else 401.

    Pure ASGI rather than Starlette middleware so streamed responses pass untouched; the key is
    compared in constant time and never logged or echoed."""

    def __init__(self, app: Any, api_key: str, open_paths: tuple[str, ...] = ("/healthz",)) -> None:
        self.app = app
        self._expected = f"Bearer {api_key}".encode()
        self._open_paths = open_paths

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path", "").rstrip("/") in self._open_paths:
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"authorization", b"")
        if hmac.compare_digest(given, self._expected):
            await self.app(scope, receive, send)
            return
        body = json.dumps({"error": "missing or wrong API key — send the header "
                                    "'Authorization: Bearer <KV_API_KEY>'"}).encode()
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def mcp_http_app(engine: SearchEngine, api_key: str | None, *, path: str = "/mcp", host: str = "127.0.0.1",
                 max_chars: int | None = None, warm: bool = True) -> Any:
    """ASGI app: streamable HTTP at `path` (stateless JSON responses, so any replica can answer)."""
    server = build_mcp_server(engine, max_chars=max_chars, warm=warm)
    # `host` decides the SDK's DNS-rebinding protection: on for loopback, off when bound to all interfaces.
    app = server.streamable_http_app(streamable_http_path=path, stateless_http=True, json_response=True, host=host)
    return ApiKeyGuard(app, api_key) if api_key else app


def mcp_lifespan(app: Any) -> AbstractAsyncContextManager[None]:
    """The MCP app's lifespan (session manager, warm-up), for a host app that mounts it."""
    inner = app.app if isinstance(app, ApiKeyGuard) else app
    return inner.router.lifespan_context(inner)
