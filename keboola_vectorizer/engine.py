"""The warm search engine: the model and the read-only store loaded once, shared by every request.

Long-running readers (the MCP server, the HTTP service) hold one `SearchEngine`. It answers with
the CLI's own code paths (search.py, lineage_query.py, the store's retrieve / counts / state) and
returns plain JSON-able dicts, so every front end shows the same results as `search --json`.

New generations are picked up without a restart. At most every `refresh_s` seconds a call checks
what the index looks like now:
- Edge: the CURRENT pointer and the files of the generation it names (see edge_reader.py: the
  engine serves a private copy, because an open Edge shard would lock out `index` runs);
- server: which physical collection the alias points at, and the collection's metadata (model).
When it changed, the engine opens the new one (and reloads the model if the index was rebuilt with
another) and swaps it in between two requests; until then it serves the previous one.

Thread-safe: requests run one at a time against the store (an Edge shard is not safe to share
between threads), but a search embeds its query before taking the lock, so the model (most of a
search's time) runs for several requests at once; swapping happens under the same lock, and
copying a new generation outside it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from keboola_vectorizer.config import Settings, load_settings
from keboola_vectorizer.edge_reader import EdgeReaderCopy, edge_stamp, take_copy
from keboola_vectorizer.embedding.base import Embedder
from keboola_vectorizer.errors import ConfigError, EmbeddingError, EmptyIndexError, StoreError
from keboola_vectorizer.ids import KINDS, STAGES
from keboola_vectorizer.lineage_query import LineageResult, resolve, walk
from keboola_vectorizer.lineage_query import _node as lineage_node
from keboola_vectorizer.search import SEARCH_MODES, ensure_searchable
from keboola_vectorizer.search import search as run_search
from keboola_vectorizer.search import similar as run_similar
from keboola_vectorizer.store.base import CollectionMeta, SearchFilters, VectorStore

log = logging.getLogger(__name__)
MAX_QUERY_CHARS = 4096

DIRECTIONS = ("upstream", "downstream", "both")


def embedder_for_meta(meta: CollectionMeta, settings: Settings) -> Embedder:
    """The embedder that built a collection (its id is `provider/model@dimension`)."""
    from keboola_vectorizer.embedding.base import create_embedder

    provider, _, rest = meta.embedder_id.partition("/")
    model, _, dims = rest.rpartition("@")
    configured = settings.embedding_model
    chosen_model = configured if configured and Path(configured).name == model else model
    embedder = create_embedder(settings.embedding_settings(
        provider, chosen_model, int(dims) if provider != "local" and dims else None))
    if embedder.id != meta.embedder_id:
        raise EmbeddingError(
            f"the index was built with {meta.embedder_id} but that model is not available here "
            f"(got {embedder.id})",
            "set EMBEDDING_MODEL to the model the index was built with, or rebuild the index",
        )
    return embedder


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, int)):
        return [value]
    return list(value)


def make_filters(*, kinds: Any = None, project_ids: Any = None, bucket_id: Any = None,
                 component_id: Any = None, stage: Any = None) -> SearchFilters:
    """SearchFilters from the engine's keyword arguments (each one value or a list of them)."""
    kind_list = [str(k) for k in _as_list(kinds)]
    for kind in kind_list:
        if kind not in KINDS:
            raise ConfigError(f"unknown kind {kind!r}", f"use one of {', '.join(KINDS)}")
    stage_list = [str(s) for s in _as_list(stage)]
    for value in stage_list:
        if value not in STAGES:
            raise ConfigError(f"unknown stage {value!r}", "use in or out")
    try:
        projects = [int(p) for p in _as_list(project_ids)]
    except (TypeError, ValueError):
        raise ConfigError(f"project ids must be numbers, not {project_ids!r}",
                          "pass project ids like 9001 (see index_status)") from None
    return SearchFilters(project_ids=projects, kinds=kind_list, bucket_ids=[str(b) for b in _as_list(bucket_id)],
                         component_ids=[str(c) for c in _as_list(component_id)], stages=stage_list)


@dataclass
class _Served:
    """What the engine serves now: one store, the generation it holds, its model."""

    store: VectorStore
    generation: str | None
    meta: CollectionMeta | None
    copy: EdgeReaderCopy | None = None
    owns_store: bool = True  # False once a newer record shares the same server client

    def close(self) -> None:
        if self.copy is not None:
            self.copy.close()
        elif self.owns_store:
            self.store.close()


class SearchEngine:
    """See the module docstring. `settings` chooses the backend like every command (QDRANT_PATH,
    QDRANT_URL); `embedder_factory` (tests, benchmarks) replaces loading the collection's model;
    `server_store` (tests) is a server-backend store to serve instead of one opened from QDRANT_URL."""

    def __init__(self, settings: Settings | None = None, *, refresh_s: float = 2.0, settle_s: float = 1.0,
                 embedder_factory: Callable[[CollectionMeta], Embedder] | None = None,
                 server_store: VectorStore | None = None) -> None:
        self._settings = settings or load_settings()
        self._server_store = server_store
        self._refresh_s = refresh_s
        self._settle_s = settle_s
        self._embedder_factory = embedder_factory or (lambda meta: embedder_for_meta(meta, self._settings))
        self._lock = threading.RLock()  # one request at a time on the store; swaps between them
        self._refresh_lock = threading.Lock()  # one thread copies/opens a new generation
        self._served: _Served | None = None
        self._checked_at = float("-inf")
        self._embedder: Embedder | None = None
        self._embedder_id: str | None = None
        self._closed = False

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def backend(self) -> str:
        return "server" if self._settings.qdrant_url or self._server_store is not None else "edge"

    @property
    def location(self) -> str:
        if self._server_store is not None:
            return self._server_store.location
        if self._settings.qdrant_url:
            from keboola_vectorizer.store.server import redact_url

            return redact_url(self._settings.qdrant_url)
        return str(Path(self._settings.qdrant_path).expanduser() / self._settings.qdrant_collection)

    @property
    def generation(self) -> str | None:
        """The generation being served (Edge: directory + content digest; server: physical collection)."""
        self._maybe_refresh()
        served = self._served
        return served.generation if served else None

    def warm(self) -> None:
        """Open the index and load its model now, so the first request does not pay for them."""
        self.refresh(force=True)
        with self._lock:
            if self._served is not None and self._served.meta is not None:
                self._embedder_for(self._served.meta)

    def refresh(self, force: bool = True) -> bool:
        """Check for a new generation now; True when one was swapped in."""
        if force:
            self._checked_at = float("-inf")
        return self._maybe_refresh()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._served is not None:
                self._served.close()
                self._served = None

    def __enter__(self) -> SearchEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _maybe_refresh(self) -> bool:
        if self._closed or time.monotonic() - self._checked_at < self._refresh_s:
            return False
        if not self._refresh_lock.acquire(blocking=self._served is None):
            return False  # another thread is opening a new generation; serve the current one
        try:
            if time.monotonic() - self._checked_at < self._refresh_s:
                return False
            fresh = self._open_if_changed()
            self._checked_at = time.monotonic()
            if fresh is None:
                return False
            with self._lock:
                old, self._served = self._served, fresh
            if old is not None:
                with self._lock:
                    old.close()
            log.info("serving generation %s of %s", fresh.generation, self.location)
            return True
        finally:
            self._refresh_lock.release()

    def _open_if_changed(self) -> _Served | None:
        served = self._served
        if self.backend == "server":
            if served is not None:
                store = served.store
            elif self._server_store is not None:
                store = self._server_store
            else:
                from keboola_vectorizer.store.factory import open_store

                store = open_store(self._settings)
            physical = store.physical_name()  # type: ignore[attr-defined]
            meta = store.meta() if physical else None
            if served is not None and physical == served.generation and meta == served.meta:
                return None
            if served is not None:
                served.owns_store = False  # the alias moved: same client, a new record
            return _Served(store, physical, meta)
        root = Path(self._settings.qdrant_path).expanduser()
        collection = self._settings.qdrant_collection
        if served is not None and served.copy is not None:
            stamp = edge_stamp(root / collection)
            if stamp == served.copy.stamp:
                return None
        copy = take_copy(root, collection, 0.0 if served is None else self._settle_s)
        if copy is None:
            return None
        return _Served(copy.store, copy.stamp.label, copy.store.meta(), copy)

    def _current(self) -> _Served:
        """The served store, or EmptyIndexError naming the fix (call under self._lock)."""
        served = self._served
        if served is None or served.meta is None:
            raise EmptyIndexError(
                f"the index {self._settings.qdrant_collection!r} at {self.location} is empty or missing",
                "run `keboola-vectorizer index` first (or point QDRANT_PATH / QDRANT_URL at the index)",
            )
        ensure_searchable(served.store)
        return served

    def _embedder_for(self, meta: CollectionMeta) -> Embedder:
        if self._embedder is None or self._embedder_id != meta.embedder_id:
            self._embedder = self._embedder_factory(meta)
            self._embedder_id = meta.embedder_id
        return self._embedder

    def _embed_query(self, query: str) -> tuple[str, list[float]]:
        """The query's vector and the model it came from, computed outside the store lock so concurrent
        searches run the model in parallel (the session is thread-safe; an Edge shard is not). A
        generation swapped in meanwhile with another model embeds the query again."""
        with self._lock:
            served = self._current()
            assert served.meta is not None
            embedder, model_id = self._embedder_for(served.meta), served.meta.embedder_id
        return model_id, embedder.embed_query(query).tolist()

    def _answer(self, served: _Served, body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "generation": served.generation, "index_age_s": _age_seconds(served.store)}

    # -- reads ----------------------------------------------------------------------------------

    def search(self, query: str, *, kinds: Any = None, project_ids: Any = None, bucket_id: Any = None,
               component_id: Any = None, stage: Any = None, mode: str = "hybrid", limit: int = 10,
               offset: int = 0, explain: bool = False) -> dict[str, Any]:
        """Ranked results as `search --json` prints them, one page (`offset`, `limit`) and `has_more`."""
        if not str(query or "").strip():
            raise ConfigError("the search query is empty", "pass the words to search for")
        if len(query) > MAX_QUERY_CHARS:
            # The model reads ~256 tokens; a longer query only costs time (and a 1 MB one, memory).
            raise ConfigError(f"the search query is too long ({len(query):,} characters)",
                              f"pass at most {MAX_QUERY_CHARS:,}: the words that describe what you look for")
        if mode not in SEARCH_MODES:
            raise ConfigError(f"unknown search mode {mode!r}", f"use one of {', '.join(SEARCH_MODES)}")
        if limit < 1 or offset < 0:
            raise ConfigError(f"limit {limit} / offset {offset} out of range", "pass limit >= 1 and offset >= 0")
        filters = make_filters(kinds=kinds, project_ids=project_ids, bucket_id=bucket_id,
                               component_id=component_id, stage=stage)
        self._maybe_refresh()
        query_vector = self._embed_query(query) if mode != "sparse" else None
        with self._lock:
            served = self._current()
            meta = served.meta
            assert meta is not None
            dense = query_vector[1] if query_vector and query_vector[0] == meta.embedder_id else None
            ranked = run_search(served.store, lambda: self._embedder_for(meta), query, mode=mode,  # type: ignore[arg-type]
                                filters=filters, limit=offset + limit + 1, query_dense=dense, explain=explain)
            page = ranked[offset:offset + limit]
            return self._answer(served, {
                "query": query, "mode": mode, "offset": offset, "limit": limit,
                "results": [r.to_json() for r in page], "has_more": len(ranked) > offset + limit,
            })

    def get_objects(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """Full stored payloads by document id (a table id works too); `found` False with an `error`."""
        self._maybe_refresh()
        with self._lock:
            served = self._current()
            wanted = [str(i) for i in ids]
            found = {hit.document_id: hit for hit in served.store.retrieve(wanted)}
            objects: list[dict[str, Any]] = []
            for ref in wanted:
                hit = found.get(ref)
                if hit is None and "/" not in ref:
                    try:
                        hit = resolve(served.store, ref)
                    except ConfigError as error:
                        objects.append({"id": ref, "found": False, "error": error.one_line()})
                        continue
                if hit is None:
                    objects.append({"id": ref, "found": False,
                                    "error": f"no document {ref!r} in the index — take ids from search results"})
                    continue
                payload = {k: v for k, v in hit.payload.items() if k != "document_id"}
                objects.append({"id": hit.document_id, "found": True, "payload": payload})
            return objects

    def lineage(self, table: str, project_id: int | None = None, direction: str = "both",
                depth: int = 1) -> dict[str, Any]:
        """Upstream and/or downstream of a table or configuration, as `lineage --json` prints it."""
        if direction not in DIRECTIONS:
            raise ConfigError(f"unknown direction {direction!r}", "use upstream, downstream or both")
        if depth < 1:
            raise ConfigError(f"depth {depth} is below 1", "pass depth 1 or more")
        self._maybe_refresh()
        with self._lock:
            served = self._current()
            root = resolve(served.store, str(table), project_id)
            result = LineageResult(lineage_node(root))
            if direction in ("upstream", "both"):
                result.upstream = walk(served.store, root, "upstream", depth)
            if direction in ("downstream", "both"):
                result.downstream = walk(served.store, root, "downstream", depth)
            return self._answer(served, {**result.to_json(), "direction": direction, "depth": depth})

    def similar(self, document_id: str, *, kinds: Any = None, project_ids: Any = None, bucket_id: Any = None,
                component_id: Any = None, stage: Any = None, limit: int = 10) -> dict[str, Any]:
        """Objects most like a stored one, with the search filters; results as `similar --json`."""
        if limit < 1:
            raise ConfigError(f"limit {limit} is below 1", "pass limit 1 or more")
        filters = make_filters(kinds=kinds, project_ids=project_ids, bucket_id=bucket_id,
                               component_id=component_id, stage=stage)
        self._maybe_refresh()
        with self._lock:
            served = self._current()
            ref = str(document_id)
            if "/" not in ref:  # a table id: the document it names
                ref = resolve(served.store, ref).document_id
            try:
                results = run_similar(served.store, ref, filters=filters, limit=limit)
            except StoreError as error:
                raise ConfigError(error.message, "take ids from search results") from None
            return self._answer(served, {"document_id": ref, "limit": limit,
                                         "results": [r.to_json() for r in results]})

    def status(self) -> dict[str, Any]:
        """What `status --json` prints, plus the generation served, the backend and the index's age."""
        self._maybe_refresh()
        with self._lock:
            served = self._served
            base: dict[str, Any] = {"collection": self._settings.qdrant_collection, "location": self.location,
                                    "backend": self.backend}
            if served is None or served.meta is None:
                return {**base, "exists": False, "model": None, "dimension": None, "points": 0, "by_kind": {},
                        "by_project": {}, "last_run": None, "generation": None, "index_age_s": None}
            store, meta = served.store, served.meta
            return self._answer(served, {
                **base, "exists": True, "model": meta.embedder_id, "dimension": meta.dimension,
                "points": store.count(), "by_kind": store.counts_by("kind"),
                "by_project": {str(k): v for k, v in sorted(store.counts_by("project_id").items())},
                "last_run": store.read_state().get("last_run"),
            })


def _age_seconds(store: VectorStore) -> float | None:
    """Seconds since the last index run finished, from the collection's state; None if unknown."""
    finished = (store.read_state().get("last_run") or {}).get("finished_at")
    if not finished:
        return None
    try:
        when = datetime.fromisoformat(str(finished).replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return round(max(0.0, (datetime.now(timezone.utc) - when).total_seconds()), 1)
