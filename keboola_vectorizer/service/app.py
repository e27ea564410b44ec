"""The service's ASGI app: API, page, probes, static assets, OpenAPI docs and MCP in one process.

`create_app(engine, api_key)` wires an engine (keboola_vectorizer/engine.py) into FastAPI. The
engine is warmed in the background at start-up, so `/healthz` answers at once and `/readyz` turns
ready when the index is open and the model loaded (and turns ready later by itself when the first
index run finishes).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from keboola_vectorizer.errors import ConfigError, EmptyIndexError, VectorizerError
from keboola_vectorizer.logging_setup import scrub
from keboola_vectorizer.service import api, page
from keboola_vectorizer.service.auth import BearerKeyMiddleware
from keboola_vectorizer.service.backend import Backend
from keboola_vectorizer.service.mcp_mount import McpDispatch, McpMount

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
READY_RETRY_S = 5.0  # how often /readyz tries again to open an index that was not there


def status_for(error: VectorizerError) -> int:
    """4xx for what the caller can fix, 404 for unknown ids, 503 while the index is missing or down."""
    if isinstance(error, api.NotFound) or error.message.startswith(("no table or document", "no document")):
        return 404
    if isinstance(error, ConfigError):
        return 400
    return 503


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": scrub(" ".join(message.split()))}, status_code=status)


class Readiness:
    """Warms the engine once at start, and again in the background when /readyz is asked while it is
    not ready (at most every READY_RETRY_S)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.ready = False
        self.reason = "starting: opening the index and loading the model"
        self._tried_at = 0.0
        self._task: asyncio.Task[None] | None = None

    async def warm(self) -> None:
        self._tried_at = time.monotonic()
        try:
            await self.backend.run(self.backend.engine.warm)
            status = await self.backend.status()
        except VectorizerError as error:
            self.ready, self.reason = False, error.one_line()
            return
        except Exception as error:  # a probe must answer, whatever broke
            log.exception("warming the engine failed")
            self.ready, self.reason = False, f"warming failed ({type(error).__name__}) — see the service log"
            return
        if not status.get("exists") or not status.get("points"):
            self.ready = False
            self.reason = str(EmptyIndexError(f"the index at {status.get('location')} is empty or missing",
                                              "run `keboola-vectorizer index` first"))
            return
        self.ready, self.reason = True, "ready"

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.warm())

    async def check(self) -> bool:
        """Answers at once (a probe has a timeout of a second or so); a warm-up runs in the background."""
        if not self.ready and (self._task is None or self._task.done()) \
                and time.monotonic() - self._tried_at > READY_RETRY_S:
            self._task = asyncio.get_running_loop().create_task(self.warm())
        return self.ready


def create_app(engine: Any, api_key: str | None = None, mcp: McpMount | None = None,
               workers: int | None = None) -> Any:
    """The ASGI app; with `mcp`, requests under /mcp go to the MCP server (its own bearer guard)."""
    backend = Backend(engine, workers)
    readiness = Readiness(backend)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if mcp is not None:
                # The MCP app's own lifespan is not run by uvicorn (it sees only this app's): its
                # session manager starts here.
                await stack.enter_async_context(mcp.lifespan())
            readiness.start()
            try:
                yield
            finally:
                backend.close()

    app = FastAPIOffline(
        title="keboola-vectorizer search service",
        description="Search Keboola project metadata by meaning. Read-only. With KV_API_KEY set, /api and "
                    "/mcp want `Authorization: Bearer <key>`.",
        version="1",
        lifespan=lifespan,
    )
    app.state.backend = backend
    app.state.api_key = api_key or None
    app.state.readiness = readiness

    @app.exception_handler(VectorizerError)
    async def _vectorizer_error(request: Request, error: VectorizerError) -> Response:
        return _error(status_for(error), error.one_line())

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, error: RequestValidationError) -> Response:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
        return _error(422, f"invalid {where}: {first.get('msg', 'bad value')} — see /docs for the parameters")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
        message = "no such endpoint — see /docs" if error.status_code == 404 else str(error.detail)
        return _error(error.status_code, message)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> Response:
        log.error("unexpected %s on %s", type(error).__name__, request.url.path)
        return _error(500, f"unexpected {type(error).__name__} — see the service log")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        ready = await readiness.check()
        return JSONResponse({"ready": ready, "reason": readiness.reason}, status_code=200 if ready else 503)

    app.include_router(api.router)
    app.include_router(page.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(BearerKeyMiddleware, api_key=app.state.api_key)
    return app if mcp is None else McpDispatch(app, mcp.app)
