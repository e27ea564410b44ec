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


def settled(hits: list[Hit], requested: int, pool: int) -> list[Hit]:
    """The best `pool` hits, the same whatever order the store breaks ties in.

    Which of many equal scores (BM25 gives dozens of columns the same score) fill the last places of a
    full list depends on where points sit in the segments, which depends on upsert timing. So a full
    list loses its last group of equal scores (it may continue past the list), and what remains is
    cut at `pool` by (score, id). The store is asked for more than `pool` so the cut rarely bites.
    """
    ordered = sorted(hits, key=lambda h: (-h.score, h.document_id))
    if len(ordered) >= requested and ordered:
        boundary = ordered[-1].score
        kept = [h for h in ordered if h.score != boundary]
        ordered = kept or ordered  # one score throughout: nothing to settle on
    return ordered[:pool]


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
            return hits  # best first, equal scores by id (the store's query, store/core.py)
        return fuse({mode: hits}, {mode: 1.0}, params.rrf_k, notes)
    lists: dict[str, list[Hit]] = {}
    requested = pool + pool // 2
    if mode in ("dense", "hybrid") and vectors.dense is not None:
        lists["dense"] = settled(store.query(QueryVectors(vectors.dense, None), "dense", filters, requested, params,
                                             fields=fields), requested, pool)
    if mode in ("sparse", "hybrid") and vectors.sparse is not None and vectors.sparse.indices:
        lists["sparse"] = settled(store.query(QueryVectors(None, vectors.sparse), "sparse", filters, requested,
                                              params, fields=fields), requested, pool)
    return fuse(lists, {"dense": params.dense_weight, "sparse": params.sparse_weight}, params.rrf_k, notes)
