"""The JSON API under /api: search with facets, objects, lineage, similar, status.

Every answer is the engine's JSON (the objects `search --json` prints); errors are `{"error": one
line}` with a 4xx code (see app.py), so a script can show them as they are.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from keboola_vectorizer.errors import ConfigError
from keboola_vectorizer.search_result import MAX_RESULTS
from keboola_vectorizer.service.backend import Backend, SearchQuery


class SearchResponse(BaseModel):
    results: list[dict[str, Any]] = Field(description="Best first; the objects of `search --json` plus "
                                          "`matched_on`.")
    facets: dict[str, dict[str, int]] = Field(description="Counts by kind, project, component and stage "
                                              "over the best `facet_pool` results with these filters.")
    took_ms: float
    cached: bool
    facet_pool: int = Field(description="How many of the best results the facets count.")
    generation: str | None = Field(None, description="The index generation that answered.")
    index_age_s: float | None = None


class ErrorResponse(BaseModel):
    error: str = Field(description="What went wrong and what to do, in one line.")


class NotFound(ConfigError):
    """An id the index does not hold (404 rather than 400)."""


ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (400, 401, 404, 422, 503)}
router = APIRouter(prefix="/api", responses=ERRORS)


def _split(values: list[str] | None) -> tuple[str, ...]:
    """Repeated parameters and comma lists alike (`kind=table&kind=column` or `kind=table,column`)."""
    out: list[str] = []
    for value in values or []:
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return tuple(dict.fromkeys(out))


def _projects(values: list[str] | None) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in _split(values))
    except ValueError:
        raise ConfigError(f"project must be a project id number, not {values!r}",
                          "pass project=9001 (see /api/status for the ids)") from None


def search_query(q: str, kind: list[str] | None, project: list[str] | None, bucket: list[str] | None,
                 component: list[str] | None, stage: list[str] | None, mode: str, limit: int,
                 explain: bool = False) -> SearchQuery:
    if not q.strip():
        raise ConfigError("the search query is empty", "pass q=<the words to search for>")
    return SearchQuery(q.strip(), _split(kind), _projects(project), _split(bucket), _split(component),
                       _split(stage), mode, limit, explain)


def backend(request: Request) -> Backend:
    return request.app.state.backend


ListParam = Annotated[list[str] | None, Query()]
Limit = Annotated[int, Query(ge=1, le=MAX_RESULTS)]


@router.get("/search", response_model=SearchResponse, summary="Search by meaning, with facet counts")
async def api_search(request: Request, q: str = "", kind: ListParam = None, project: ListParam = None,
                     bucket: ListParam = None, component: ListParam = None, stage: ListParam = None,
                     mode: Literal["hybrid", "dense", "sparse"] = "hybrid", limit: Limit = 10,
                     explain: bool = False) -> JSONResponse:
    """`explain=true` adds each result's `explain` (ranks, matched column, boosts), as `search --explain`."""
    query = search_query(q, kind, project, bucket, component, stage, mode, limit, explain)
    answer = await backend(request).search(query)
    # Returned as a response: the model above documents it; re-validating our own dicts on every
    # request would only cost time (they are the engine's JSON already).
    return JSONResponse(answer.to_json())


@router.get("/objects/{object_id:path}", summary="One object's full stored payload")
async def api_object(request: Request, object_id: str) -> dict[str, Any]:
    [found] = await backend(request).objects((object_id,))
    if not found.get("found"):
        raise NotFound(found.get("error") or f"no document {object_id!r} in the index — take ids from /api/search")
    return {"id": found["id"], **found["payload"]}


@router.get("/lineage/{table:path}", summary="Upstream and downstream of a table or configuration")
async def api_lineage(request: Request, table: str, project: int | None = None,
                      direction: Literal["upstream", "downstream", "both"] = "both",
                      depth: Annotated[int, Query(ge=1, le=5)] = 1) -> dict[str, Any]:
    return await backend(request).lineage(table, project, direction, depth)


@router.get("/similar/{object_id:path}", summary="Objects most like a stored one")
async def api_similar(request: Request, object_id: str, kind: ListParam = None, project: ListParam = None,
                      bucket: ListParam = None, component: ListParam = None, stage: ListParam = None,
                      limit: Limit = 10) -> dict[str, Any]:
    query = SearchQuery(object_id, _split(kind), _projects(project), _split(bucket), _split(component),
                        _split(stage), "hybrid", limit)
    return await backend(request).similar(object_id, query)


@router.get("/status", summary="Collection, model, counts, last run, generation, cache")
async def api_status(request: Request) -> dict[str, Any]:
    service = backend(request)
    status = await service.status()
    return {**status, "service": {"workers": service.workers, "cache": service.cache.stats.to_json(),
                                  "cache_entries": len(service.cache)}}
