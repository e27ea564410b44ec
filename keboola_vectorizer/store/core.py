"""The one implementation of what both stores mean, over a few primitives each backend provides.

`StoreCore` owns the shared half of the `VectorStore` contract: query planning, recommend, counts
(with the scroll fallback when a facet cannot answer), content hashes, retrieve ordering and the
compatibility check of `ensure`. A backend implements the primitives (run a plan, a scroll page, a
count, a facet, a retrieve, create a collection) in its own client's terms, like qdrant-client's
local and remote clients behind one `QdrantBase`.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from keboola_vectorizer.errors import StoreError
from keboola_vectorizer.store.plan import (
    FACET_LIMIT,
    FilterSpec,
    QueryPlan,
    check_compatible,
    filter_spec,
    plan_query,
    plan_recommend,
)
from keboola_vectorizer.store.protocol import Capabilities
from keboola_vectorizer.store.types import (
    DENSE_VECTOR,
    HASH_FIELDS,
    CollectionMeta,
    Hit,
    QueryVectors,
    RankParams,
    SearchFilters,
    SearchMode,
    StoredHashes,
    every_branch,
    payload_selection,
    point_id,
    stored_hashes_of,
)

# Hits fetched past a query's limit so that scores tied at the cut are settled by id.
TIE_MARGIN = 10

log = logging.getLogger(__name__)


class StoreCore(ABC):
    """The backend-neutral half of a store; subclasses translate the primitives."""

    capabilities: Capabilities

    @property
    @abstractmethod
    def name(self) -> str: ...

    @property
    @abstractmethod
    def location(self) -> str: ...

    # -- primitives each backend implements ----------------------------------------------------

    @abstractmethod
    def meta(self) -> CollectionMeta | None: ...

    @abstractmethod
    def _exists(self) -> bool:
        """Whether the collection exists (reads of a missing one answer empty)."""

    @abstractmethod
    def _create(self, meta: CollectionMeta) -> None:
        """Create the missing collection with its payload indexes and `meta`."""

    @abstractmethod
    def _execute(self, plan: QueryPlan) -> list[Hit]:
        """Run one query plan; hits best first, with the plan's payload."""

    @abstractmethod
    def _retrieve_points(self, point_ids: list[str], payload: bool | list[str],
                         vectors: bool | list[str]) -> list[Hit]:
        """Stored points by point id, in any order; plain vectors under payload['_vectors']."""

    @abstractmethod
    def _scroll_page(self, flt: FilterSpec, payload: bool | list[str], batch: int,
                     offset: Any) -> tuple[list[Hit], Any]:
        """One page of points and the offset of the next (None after the last)."""

    @abstractmethod
    def _count(self, flt: FilterSpec) -> int: ...

    @abstractmethod
    def _write_payloads(self, payloads: dict[str, dict[str, Any]], *, overwrite: bool) -> None:
        """Set (or, with `overwrite`, replace) the payloads of stored points, by document id."""

    @abstractmethod
    def _facet(self, key: str, limit: int) -> dict[Any, int]:
        """Counts per value of an indexed payload field; StoreError when the backend cannot facet it."""

    @abstractmethod
    def newest_change(self) -> str | None:
        """The newest `last_changed_at` in the collection (the boost's default "now")."""

    # -- the shared contract -------------------------------------------------------------------

    def ensure(self, meta: CollectionMeta) -> None:
        existing = self.meta()
        if existing is None:
            self._create(meta)
        else:
            check_compatible(existing, meta, self.name, self.location)

    def query(self, vectors: QueryVectors, mode: SearchMode, filters: SearchFilters,
              limit: int, params: RankParams | None = None, fields: Sequence[str] | None = None) -> list[Hit]:
        boosted = params is not None and params.boost is not None and params.boost.reference is None
        plan = plan_query(vectors, mode, filters, limit, params, fields,
                          newest_change=self.newest_change() if boosted else None)
        return [] if plan is None else self._settled(plan)

    def _settled(self, plan: QueryPlan) -> list[Hit]:
        """The plan's hits with equal scores ordered by document id.

        Qdrant orders equal scores as its segments happen to yield them, so the same query could
        return a different answer at a tie. `TIE_MARGIN` hits past the limit let a tie at the cut be
        cut by id, unless more equal scores than that run past it (BM25 gives dozens of columns one
        score): fetching all of them would double the cost of a search, and search's own fusion drops
        such a boundary group anyway (ranking/fusion.py). A hybrid query's branches are fused inside
        Qdrant, which orders their ties itself; search fuses the two lists on its side."""
        hits = self._execute(replace(plan, limit=plan.limit + TIE_MARGIN))
        hits.sort(key=lambda hit: (-hit.score, hit.document_id))
        return hits[:plan.limit]

    def recommend(self, document_id: str, filters: SearchFilters, limit: int) -> list[Hit]:
        found = self._retrieve_points([point_id(document_id)], payload=["document_id"], vectors=[DENSE_VECTOR])
        dense = found[0].payload.get("_vectors", {}).get(DENSE_VECTOR) if found else None
        if dense is None:
            raise StoreError(f"no document {document_id!r} in the index",
                             "check the id with `keboola-vectorizer search --json`")
        hits = self._settled(plan_recommend(document_id, dense, filters, limit))
        return [hit for hit in hits if hit.document_id != document_id][:limit]

    def retrieve(self, document_ids: Sequence[str], with_vectors: bool = False,
                 fields: Sequence[str] | None = None) -> list[Hit]:
        if not document_ids:
            return []
        found: dict[str, Hit] = {}
        for hit in self._retrieve_points([point_id(d) for d in dict.fromkeys(document_ids)],
                                         payload_selection(fields), with_vectors):
            hit.score = 0.0
            found[hit.document_id] = hit
        return [found[d] for d in dict.fromkeys(document_ids) if d in found]

    def count(self, filters: SearchFilters | None = None) -> int:
        return self._count(filter_spec(filters))

    def counts_by(self, key: str) -> dict[Any, int]:
        try:
            counts: dict[Any, int] | None = self._facet(key, FACET_LIMIT)
        except StoreError as exc:
            # A backend facets only indexed fields; count by scrolling instead.
            log.debug("facet on %s failed (%s); counting by scroll", key, exc.message)
            counts = None
        if counts is not None and len(counts) < FACET_LIMIT:
            return counts
        counted: dict[Any, int] = {}
        for hit in self._scroll(None, [key], 1000):
            values = hit.payload.get(key)
            for value in values if isinstance(values, list) else [values]:
                if value is not None:
                    counted[value] = counted.get(value, 0) + 1
        return counted

    def _scroll(self, filters: SearchFilters | None, payload: bool | list[str], batch: int) -> Iterator[Hit]:
        flt = filter_spec(filters)
        offset: Any = None
        while True:
            hits, offset = self._scroll_page(flt, payload, batch, offset)
            yield from hits
            if offset is None:
                return

    def scroll(self, filters: SearchFilters | None = None, batch: int = 1000) -> Iterator[Hit]:
        return self._scroll(filters, True, batch)

    def content_hashes(self, project_id: int | None = None) -> dict[str, str]:
        return {doc_id: hashes.content_hash for doc_id, hashes in self.stored_hashes(project_id).items()}

    def stored_hashes(self, project_id: int | None = None) -> dict[str, StoredHashes]:
        if not self._exists():
            return {}
        # Every branch: the index run diffs dev-branch documents too.
        filters = every_branch(project_ids=[project_id]) if project_id is not None else None
        return {hit.document_id: stored_hashes_of(hit) for hit in self._scroll(filters, HASH_FIELDS, 2000)}

    def set_payload(self, payloads: Mapping[str, dict[str, Any]]) -> None:
        self._update_payloads(payloads, overwrite=False)

    def overwrite_payload(self, payloads: Mapping[str, dict[str, Any]]) -> None:
        self._update_payloads(payloads, overwrite=True)

    def _update_payloads(self, payloads: Mapping[str, dict[str, Any]], *, overwrite: bool) -> None:
        if not payloads:
            return
        # Only stored points: a payload operation on a missing id would create a vectorless point
        # (Edge) or fail the whole batch (server).
        stored = [hit.document_id for hit in self.retrieve(list(payloads), fields=[])]
        if stored:
            self._write_payloads({doc_id: {**payloads[doc_id], "document_id": doc_id} for doc_id in stored},
                                 overwrite=overwrite)
