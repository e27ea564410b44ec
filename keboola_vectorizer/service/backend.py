"""The service's side of the warm engine: engine calls on a bounded thread pool, behind the cache.

The engine (keboola_vectorizer/engine.py) is synchronous and thread-safe; model inference and store
reads run on a pool of at most one thread per core, so the event loop keeps accepting requests while
they run and a burst of clients cannot start more inference than the cores can do. Every read is
cached on (index generation, call, arguments): when an index run publishes a new generation the
engine swaps it in and the cache starts afresh, without a restart.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from keboola_vectorizer.service.cache import ResultCache
from keboola_vectorizer.service.facets import FACET_POOL, facet_counts, matched_on, project_names

T = TypeVar("T")


@dataclass(frozen=True)
class SearchQuery:
    """One search as the API and the page ask for it; hashable, so it is its own cache key."""

    q: str
    kinds: tuple[str, ...] = ()
    projects: tuple[int, ...] = ()
    buckets: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    mode: str = "hybrid"
    limit: int = 10
    explain: bool = False

    def engine_kwargs(self) -> dict[str, Any]:
        return {"kinds": list(self.kinds) or None, "project_ids": list(self.projects) or None,
                "bucket_id": list(self.buckets) or None, "component_id": list(self.components) or None,
                "stage": list(self.stages) or None, "mode": self.mode}


@dataclass
class SearchAnswer:
    results: list[dict[str, Any]]
    facets: dict[str, dict[str, int]]
    project_names: dict[str, str]
    took_ms: float
    cached: bool
    pool: int = 0  # how many results the facets count
    generation: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"results": self.results, "facets": self.facets, "took_ms": self.took_ms,
                "cached": self.cached, "facet_pool": self.pool, "generation": self.generation, **self.extra}


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


class Backend:
    def __init__(self, engine: Any, workers: int | None = None, cache_entries: int = 2048) -> None:
        self.engine = engine
        self.workers = workers or default_workers()
        self.pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="kv-engine")
        self.cache = ResultCache(cache_entries)

    async def run(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.pool, call)

    async def generation(self) -> Hashable:
        # On the pool: reading it may make the engine open a newly published generation.
        return await self.run(lambda: self.engine.generation)

    async def _cached(self, key: Hashable, call: Callable[[], T]) -> tuple[T, bool]:
        generation = await self.generation()
        return await self.cache.get_or_compute(generation, key, lambda: self.run(call))

    async def search(self, query: SearchQuery) -> SearchAnswer:
        """The first `limit` results, and facets over the best FACET_POOL (same filters, one search)."""
        started = time.perf_counter()
        pool_size = max(query.limit, FACET_POOL)
        body, cached = await self._cached(("search", query.q, query.kinds, query.projects, query.buckets,
                                           query.components, query.stages, query.mode, pool_size, query.explain),
                                          lambda: self.engine.search(query.q, limit=pool_size, explain=query.explain,
                                                                     **query.engine_kwargs()))
        ranked = body["results"]
        results = [{**r, "matched_on": matched_on(r, query.q)} for r in ranked[:query.limit]]
        extra = {k: body[k] for k in ("index_age_s",) if k in body}
        return SearchAnswer(results, facet_counts(ranked), project_names(ranked),
                            round((time.perf_counter() - started) * 1000, 2), cached, len(ranked),
                            body.get("generation"), extra)

    async def objects(self, ids: tuple[str, ...]) -> list[dict[str, Any]]:
        value, _ = await self._cached(("objects", ids), lambda: self.engine.get_objects(list(ids)))
        return value

    async def lineage(self, table: str, project_id: int | None, direction: str, depth: int) -> dict[str, Any]:
        value, _ = await self._cached(("lineage", table, project_id, direction, depth),
                                      lambda: self.engine.lineage(table, project_id=project_id,
                                                                  direction=direction, depth=depth))
        return value

    async def similar(self, document_id: str, query: SearchQuery) -> dict[str, Any]:
        kwargs = query.engine_kwargs()
        kwargs.pop("mode")
        value, _ = await self._cached(("similar", document_id, query),
                                      lambda: self.engine.similar(document_id, limit=query.limit, **kwargs))
        return value

    async def status(self) -> dict[str, Any]:
        return await self.run(self.engine.status)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
