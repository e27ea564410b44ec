"""Search: embed the query (dense and BM25), one Qdrant query with payload filters, ranked results."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from keboola_vectorizer.embedding import sparse
from keboola_vectorizer.embedding.base import Embedder
from keboola_vectorizer.errors import EmptyIndexError
from keboola_vectorizer.store.base import Hit, QueryVectors, SearchFilters, SearchMode, VectorStore

SNIPPET_CHARS = 180
SEARCH_MODES: tuple[SearchMode, ...] = ("hybrid", "dense", "sparse")


@dataclass
class SearchResult:
    id: str
    kind: str
    name: str
    project_id: int
    project_name: str
    score: float
    url: str
    snippet: str
    component_id: str | None = None
    table_id: str | None = None
    bucket_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def snippet_for(payload: dict[str, Any], query: str) -> str:
    """The description if there is one, else the text line sharing most words with the query."""
    description = str(payload.get("description") or "").strip()
    if description:
        text = description
    else:
        lines = [ln for ln in str(payload.get("text") or "").splitlines() if ln.strip()]
        words = set(re.findall(r"\w+", query.lower()))
        text = max(lines[1:] or lines or [""],
                   key=lambda ln: len(words & set(re.findall(r"\w+", ln.lower()))))
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"


def to_result(hit: Hit, query: str) -> SearchResult:
    p = hit.payload
    return SearchResult(
        id=hit.document_id, kind=str(p.get("kind", "")), name=str(p.get("name", "")),
        project_id=int(p.get("project_id", 0)), project_name=str(p.get("project_name", "")),
        score=round(float(hit.score), 6), url=str(p.get("url", "")), snippet=snippet_for(p, query),
        component_id=p.get("component_id"), table_id=p.get("table_id"), bucket_id=p.get("bucket_id"),
    )


def ensure_searchable(store: VectorStore) -> None:
    if store.meta() is None or store.count() == 0:
        raise EmptyIndexError(
            f"the index {store.name!r} at {store.location} is empty or missing",
            "run `keboola-vectorizer index` first (or point QDRANT_PATH / QDRANT_URL at the index)",
        )


def query_vectors(query: str, mode: SearchMode, embedder: Callable[[], Embedder]) -> QueryVectors:
    dense = embedder().embed_query(query).tolist() if mode in ("dense", "hybrid") else None
    sparse_vector = sparse.encode_query(query) if mode in ("sparse", "hybrid") else None
    return QueryVectors(dense=dense, sparse=sparse_vector)


def search(store: VectorStore, embedder: Callable[[], Embedder], query: str, *,
           mode: SearchMode = "hybrid", filters: SearchFilters | None = None,
           limit: int = 10) -> list[SearchResult]:
    """Ranked results; `embedder` is a factory so sparse-only searches never load a model."""
    vectors = query_vectors(query, mode, embedder)
    hits = store.query(vectors, mode, filters or SearchFilters(), limit)
    return [to_result(hit, query) for hit in hits]
