"""What `status` reports about a collection: where it is, what built it, what it holds, the last run."""

from __future__ import annotations

from typing import Any

from keboola_vectorizer.store.base import SearchFilters, VectorStore


def collection_status(store: VectorStore) -> dict[str, Any]:
    meta = store.meta()
    state = store.read_state() if meta else {}
    return {
        "collection": store.name,
        "location": store.location,
        "exists": meta is not None,
        "model": meta.embedder_id if meta else None,
        "dimension": meta.dimension if meta else None,
        "points": store.count() if meta else 0,
        # Dev-branch objects are indexed but left out of searches unless --branch asks for them.
        "dev_branch_points": (store.count() - store.count(SearchFilters())) if meta else 0,
        "by_kind": store.counts_by("kind") if meta else {},
        "by_project": {str(k): v for k, v in sorted(store.counts_by("project_id").items())} if meta else {},
        "last_run": state.get("last_run"),
        # Merged into the state by `watch` (keboola_vectorizer/watch/cursor.py).
        "watch": (state.get("watch") or {}).get("projects") or {},
    }
