"""Candidates: the dense and the BM25 lists, fused here with reciprocal rank fusion.

Fusing on this side (two store queries instead of one fused query) keeps each retriever's rank and
raw score for `--explain` and the confidence signal, and makes ties deterministic: equal scores share
a rank and are ordered by document id, never by the order points happen to sit in a segment (which
depends on upsert timing). With a boost, the store's fused formula query is used as before.
"""

from __future__ import annotations

from dataclasses import replace

from keboola_vectorizer.store.base import Hit, QueryVectors, RankParams, SearchFilters, SearchMode, VectorStore


def rank_positions(hits: list[Hit]) -> dict[str, int]:
    """0-based ranks; equal scores share one."""
    ordered = sorted(hits, key=lambda h: (-h.score, h.document_id))
    ranks: dict[str, int] = {}
    rank, previous = 0, None
    for position, hit in enumerate(ordered):
        if hit.score != previous:
            rank, previous = position, hit.score
        ranks[hit.document_id] = rank
    return ranks


def fuse(lists: dict[str, list[Hit]], weights: dict[str, float], rrf_k: int,
         notes: dict[str, dict]) -> list[Hit]:
    """Weighted RRF over named ranked lists; notes record each list's rank (1-based) and raw score."""
    fused: dict[str, Hit] = {}
    for name, hits in lists.items():
        ranks = rank_positions(hits)
        for hit in hits:
            rank = ranks[hit.document_id]
            entry = fused.setdefault(hit.document_id, Hit(hit.document_id, 0.0, hit.payload))
            entry.score += weights[name] / (rrf_k + rank)
            note = notes.setdefault(hit.document_id, {})
            note[f"{name}_rank"] = rank + 1
            note[f"{name}_score"] = round(float(hit.score), 6)
    return sorted(fused.values(), key=lambda h: (-h.score, h.document_id))


def candidates(store: VectorStore, vectors: QueryVectors, mode: SearchMode, filters: SearchFilters, pool: int,
               params: RankParams, fields: tuple[str, ...], notes: dict[str, dict]) -> list[Hit]:
    """The pool to re-rank, scored on the fused RRF scale whatever the mode."""
    if params.boost is not None:
        hits = store.query(vectors, mode, filters, pool, replace(params, prefetch=params.prefetch or pool),
                           fields=fields)
        if mode == "hybrid":
            return sorted(hits, key=lambda h: (-h.score, h.document_id))
        return fuse({mode: hits}, {mode: 1.0}, params.rrf_k, notes)
    lists: dict[str, list[Hit]] = {}
    if mode in ("dense", "hybrid") and vectors.dense is not None:
        lists["dense"] = store.query(QueryVectors(vectors.dense, None), "dense", filters, pool, params,
                                     fields=fields)
    if mode in ("sparse", "hybrid") and vectors.sparse is not None and vectors.sparse.indices:
        lists["sparse"] = store.query(QueryVectors(None, vectors.sparse), "sparse", filters, pool, params,
                                      fields=fields)
    return fuse(lists, {"dense": params.dense_weight, "sparse": params.sparse_weight}, params.rrf_k, notes)
