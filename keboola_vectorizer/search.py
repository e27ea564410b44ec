"""Search: embed the query (dense and BM25), one Qdrant query with payload filters, ranked results.

Ranking in two steps:

1. Qdrant: dense and BM25 prefetches fused with reciprocal rank fusion (`--mode hybrid`, the default),
   or one of them alone; with `boost`, a formula query rescoring the candidates by recency and use.
2. Here, over the best `POOL` candidates: columns are parts of tables (and rows of configurations),
   so a table also scores a share of its best-matching column (a question about "deal value and
   currency" is usually a question about the deals table), columns step slightly behind an equally
   good table, and each further column of the same table counts less. A table that only its
   columns brought in is fetched by id. Without this, the 1,480 columns of the sample organisation
   crowd the 159 tables out of the first results.

Single modes are re-ranked from their rank positions the same way (1 / (k + position), the RRF
form), so `--mode` compares retrieval, not the re-ranking.
"""

from __future__ import annotations

import contextvars
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from keboola_vectorizer import ids
from keboola_vectorizer.errors import EmptyIndexError
from keboola_vectorizer.ranking import stages
from keboola_vectorizer.ranking.confidence import dense_pool, explanation, match_confidence, word_coverage
from keboola_vectorizer.ranking.fusion import candidates, rank_positions
from keboola_vectorizer.ranking.stages import Ranking
from keboola_vectorizer.search_result import SearchResult
from keboola_vectorizer.store.base import (
    Boost,
    Hit,
    QueryVectors,
    RankParams,
    SearchFilters,
    SearchMode,
    VectorStore,
)
from keboola_vectorizer.vectors import bm25

if TYPE_CHECKING:  # the model's runtime (numpy) is loaded only by a search that embeds
    from keboola_vectorizer.embedding.base import Embedder

SNIPPET_CHARS = 180
SEARCH_MODES: tuple[SearchMode, ...] = ("hybrid", "dense", "sparse")

# Tuned on the development questions over a grid; the ranking is flat around these values
# (RRF k 10-40, column share 0.4-0.6, column weight 0.7-0.85), so they are not a knife edge.
DEFAULT_RANK = RankParams(rrf_k=20, dense_weight=1.0, sparse_weight=1.0)
# part kind -> (share of the best part's score its whole gains, the whole's kind)
PART_SHARE = {"column": (0.5, "table"), "configuration_row": (0.3, "configuration")}
PART_WEIGHT = {"column": 0.85, "configuration_row": 0.85}  # a part's score relative to an equal whole
SIBLING_DECAY = 0.7  # each further part of the same whole counts this much less
POOL = 100  # candidates re-ranked per search (at least 3x the limit)
RUNTIME_IMPORT_WAIT_S = 5.0  # longest the store's open waits for the model runtime's imports
# What re-ranking reads of a candidate; full payloads (text included) are fetched for the results only.
RANK_FIELDS = ("kind", "project_id", "project_name", "table_id", "parent_id", "bucket_id", "name", "component_type",
               "configuration_id", "produced_by", "consumed_by", "flow_tasks")
DEFAULT_RANKING = Ranking()


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
        branch_id=p.get("branch_id"), branch_name=p.get("branch_name"),
    )


def ensure_searchable(store: VectorStore) -> None:
    if store.meta() is None or store.count() == 0:
        raise EmptyIndexError(
            f"the index {store.name!r} at {store.location} is empty or missing",
            "run `keboola-vectorizer index` first (or point QDRANT_PATH / QDRANT_URL at the index)",
        )


def query_vectors(query: str, mode: SearchMode, embedder: Callable[[], Embedder],
                  dense: list[float] | None = None) -> QueryVectors:
    if mode in ("dense", "hybrid") and dense is None:
        dense = embedder().embed_query(query).tolist()
    elif mode == "sparse":
        dense = None
    sparse_vector = bm25.encode_query(query) if mode in ("sparse", "hybrid") else None
    return QueryVectors(dense=dense, sparse=sparse_vector)


@contextmanager
def query_vector_aside(embedder: Callable[[], Embedder], query: str,
                       mode: SearchMode) -> Iterator[Callable[[], list[float] | None]]:
    """The query's dense vector, made on a second thread while the caller opens the store: a cold
    process then loads the model session and the index at once. Yields a callable that returns the
    vector, raising what embedding raised.

    The index's load holds the GIL (Qdrant Edge) and the session's load does not (ONNX Runtime), so
    the caller goes on only once the thread has imported the model runtime: the session then loads
    while the index does, instead of the imports waiting for the index."""
    if mode == "sparse":
        yield lambda: None
        return
    imported = threading.Event()

    def vector() -> list[float]:
        try:
            model = embedder()
            load_runtime = getattr(model, "load_runtime", None)
            if load_runtime is not None:
                load_runtime()
        finally:
            imported.set()
        return model.embed_query(query).tolist()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="query-vector") as pool:
        future = pool.submit(contextvars.copy_context().run, vector)
        imported.wait(RUNTIME_IMPORT_WAIT_S)
        yield future.result


def parent_document_id(payload: dict[str, Any]) -> str | None:
    """The whole a part belongs to: a column's table, a configuration row's configuration."""
    if payload.get("kind") == "configuration_row":
        return str(payload.get("parent_id") or "") or None
    return ids.column_table_id(payload)


def shadowed_parts_last(ranked: list[Hit], asked_parts: frozenset[str], keep: int = 0) -> list[Hit]:
    """Parts that rank below their own whole, after its first `keep`, behind everything else: the
    whole already shows them (`--explain` names its matched column), and a question after several
    tables needs the next table more. Parts of a kind the question asks for stay where they rank."""
    shown: set[str] = set()
    kept: list[Hit] = []
    shadowed: list[Hit] = []
    kept_of: dict[str, int] = {}
    for hit in ranked:
        kind = hit.payload.get("kind")
        parent = parent_document_id(hit.payload)
        if kind in PART_SHARE and kind not in asked_parts and parent in shown:
            kept_of[parent] = kept_of.get(parent, 0) + 1
            (kept if kept_of[parent] <= keep else shadowed).append(hit)
        else:
            kept.append(hit)
            shown.add(hit.document_id)
    return kept + shadowed


def credit_parts(hits: list[Hit], *, rank_scores: bool, rrf_k: int, fetch: Callable[[list[str]], list[Hit]],
                 kinds: list[str] | None = None, part_decay: float = 0.0, whole_leads: bool = False,
                 notes: dict[str, dict] | None = None, asked_parts: frozenset[str] = frozenset()) -> list[Hit]:
    """`rerank` without the final kind filter: every whole and part, scored, best first.

    `asked_parts`: part kinds the question asks for ("which column holds ..."); those parts are
    answers, not evidence: they keep their whole score, and their wholes neither gain from them nor
    lead them.
    """
    notes = {} if notes is None else notes
    ranks = rank_positions(hits) if rank_scores else {}
    scored: dict[str, Hit] = {}
    for hit in hits:
        score = 1.0 / (rrf_k + ranks[hit.document_id]) if rank_scores else hit.score
        scored[hit.document_id] = Hit(hit.document_id, score, hit.payload)
    parts: dict[str, list[tuple[float, str, str]]] = {}
    for hit in scored.values():
        parent = parent_document_id(hit.payload)
        if parent is not None:
            parts.setdefault(parent, []).append((hit.score, hit.document_id, str(hit.payload.get("kind"))))
    allowed = {whole for _, whole in PART_SHARE.values()} if not kinds else set(kinds)
    missing = sorted(p for p, found in parts.items() if p not in scored and PART_SHARE[found[0][2]][1] in allowed)
    for hit in fetch(missing) if missing else []:
        scored[hit.document_id] = Hit(hit.document_id, 0.0, hit.payload)
    for parent, found in parts.items():
        if parent not in scored:
            continue
        found.sort(key=lambda f: (-f[0], f[1]))
        share, _ = PART_SHARE[found[0][2]]
        if found[0][2] in asked_parts:
            share = 0.0  # the part is the answer: its whole gains nothing from it
        # The best part counts fully, further parts less and less (a wide table must not win by width).
        evidence = sum(score * part_decay ** i for i, (score, _, _) in enumerate(found))
        whole = scored[parent]
        whole.score += share * evidence
        if whole_leads and found[0][2] not in asked_parts:
            # A whole is never behind its own best part: the part is evidence for it.
            whole.score = max(whole.score, found[0][0])
        notes.setdefault(parent, {}).update(matched_part=found[0][1],
                                            matched_part_name=scored[found[0][1]].payload.get("name"))
    for hit in scored.values():
        kind = str(hit.payload.get("kind"))
        hit.score *= 1.0 if kind in asked_parts else PART_WEIGHT.get(kind, 1.0)
    ranked = sorted(scored.values(), key=lambda h: (-h.score, h.document_id))
    siblings: dict[str, int] = {}
    for hit in ranked:
        parent = parent_document_id(hit.payload)
        if parent is not None:
            hit.score *= SIBLING_DECAY ** siblings.get(parent, 0)
            siblings[parent] = siblings.get(parent, 0) + 1
    return sorted(ranked, key=lambda h: (-h.score, h.document_id))


def rerank(hits: list[Hit], *, rank_scores: bool, rrf_k: int, fetch: Callable[[list[str]], list[Hit]],
           kinds: list[str] | None = None, part_decay: float = 0.0, whole_leads: bool = False,
           notes: dict[str, dict] | None = None, asked_parts: frozenset[str] = frozenset()) -> list[Hit]:
    """Parts lend their wholes a share of their score, step behind them, and repeat less.

    A column gives its table a share of its score, a row its configuration (`PART_SHARE`; with
    `part_decay` 0 the best part only, else each further part `part_decay` times less; with
    `whole_leads` the whole is never behind its best part). Parts then weigh `PART_WEIGHT[kind]`, and
    each further part of the same whole `SIBLING_DECAY` less, so five columns of one table do not fill
    the first results.
    `rank_scores` first replaces scores by 1 / (k + rank) (single modes: cosine and BM25 scores are
    not on the fused scale; equal scores share a rank). `fetch` loads wholes that only their parts
    brought in; `kinds` (when given) is what the caller may see.
    """
    ranked = credit_parts(hits, rank_scores=rank_scores, rrf_k=rrf_k, fetch=fetch, kinds=kinds,
                          part_decay=part_decay, whole_leads=whole_leads, notes=notes, asked_parts=asked_parts)
    return [h for h in ranked if not kinds or h.payload.get("kind") in kinds]


def search(store: VectorStore, embedder: Callable[[], Embedder], query: str, *,
           mode: SearchMode = "hybrid", filters: SearchFilters | None = None,
           limit: int = 10, boost: Boost | None = None, params: RankParams | None = None,
           explain: bool = False, exclude: list[str] | None = None,
           ranking: Ranking | None = None, query_dense: list[float] | None = None) -> list[SearchResult]:
    """Ranked results; `embedder` is a factory so sparse-only searches never load a model.

    `explain` fills each result's `explain` (ranks, matched column, boosts); `exclude` drops these
    documents and their parts from the candidates (how the eval measures the no-good-match signal);
    `ranking` overrides the stage weights (`ranking.stages.Ranking`); `query_dense` is the query's
    vector when the caller has embedded it already (the warm engine, outside its store lock).
    """
    filters = filters or SearchFilters()
    params = params or DEFAULT_RANK
    ranking = ranking or DEFAULT_RANKING
    if boost is not None:
        params = replace(params, boost=boost)
    vectors = query_vectors(query, mode, embedder, query_dense)
    pool = max(POOL, 3 * limit)
    # A search for tables still looks at columns (for configurations, at rows): they vote for their
    # wholes, then are dropped.
    kinds = list(filters.kinds)
    pool_filters = filters
    parts = [part for part, (_, whole) in PART_SHARE.items() if kinds and whole in kinds and part not in kinds]
    if parts:
        pool_filters = replace(filters, kinds=[*kinds, *parts])
    notes: dict[str, dict] = {}
    hits = candidates(store, vectors, mode, pool_filters, pool, params, RANK_FIELDS, notes)
    excluded = set(exclude or [])

    def kept(found: list[Hit]) -> list[Hit]:
        return [h for h in found if h.document_id not in excluded and parent_document_id(h.payload) not in excluded]

    def fetch(ids: list[str]) -> list[Hit]:
        return kept(store.retrieve(ids, fields=RANK_FIELDS))

    hits = kept(hits)  # an excluded object's name must not shape the question's intent either
    scope, intent = stages.read_question(query, [h.payload for h in hits])
    asked_parts = frozenset(kind for kind in PART_SHARE if kind in intent.kinds)
    ranked = credit_parts(hits, rank_scores=False, rrf_k=params.rrf_k, fetch=fetch, kinds=kinds or None,
                          part_decay=ranking.part_decay, whole_leads=ranking.whole_leads, notes=notes,
                          asked_parts=asked_parts)
    ranked, _ = stages.apply(query, ranked, ranking, fetch, notes, intent, scope)
    if ranking.shadowed_parts_last:
        ranked = shadowed_parts_last(ranked, asked_parts, ranking.shadow_keep)
    ranked = [h for h in ranked if not kinds or h.payload.get("kind") in kinds][:limit]
    payloads = {hit.document_id: hit.payload for hit in store.retrieve([hit.document_id for hit in ranked])}
    results = []
    pool = dense_pool(notes)
    for hit in ranked:
        result = to_result(Hit(hit.document_id, hit.score, payloads.get(hit.document_id, hit.payload)), query)
        note = notes.get(hit.document_id, {})
        text = str(payloads.get(hit.document_id, {}).get("text") or "")
        result.confidence = match_confidence(note, notes, word_coverage(query, text), pool)
        if explain:
            result.explain = explanation(note, notes)
        results.append(result)
    return results


def similar(store: VectorStore, document_id: str, *, filters: SearchFilters | None = None,
            limit: int = 10) -> list[SearchResult]:
    """Objects most like a stored one (Qdrant recommend on the dense vectors), itself left out."""
    hits = store.recommend(document_id, filters or SearchFilters(), limit)
    return [to_result(hit, "") for hit in hits]
