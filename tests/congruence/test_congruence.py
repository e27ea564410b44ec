"""Edge and the server backend (qdrant-client's local mode) hold the same generated points and must
answer every query, filter, recommend, count and delete the same way: the answers are compared with
each other, not with fixed expectations, so any drift between the two translations of the store
core shows here (qdrant-client's tests/congruence_tests, for our store)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from keboola_vectorizer.errors import StoreError
from keboola_vectorizer.store.base import Boost, QueryVectors, RankParams, SearchFilters, VectorStore
from keboola_vectorizer.store.edge import EdgeStore
from keboola_vectorizer.store.server import ServerStore
from tests.congruence.compare import compare_results
from tests.congruence.fixtures import (
    COMPONENTS,
    META,
    PROJECTS,
    WORDS,
    generate_points,
    random_dense,
    sparse_query,
)

POINTS = generate_points()
FILTERS = {
    "none": SearchFilters(),
    "project": SearchFilters(project_ids=[PROJECTS[1]]),
    "projects-or": SearchFilters(project_ids=[PROJECTS[0], PROJECTS[2]]),
    "kind": SearchFilters(kinds=["table", "column"]),
    "stage": SearchFilters(stages=["out"]),
    "component": SearchFilters(component_ids=[COMPONENTS[0]]),
    "combined": SearchFilters(project_ids=[PROJECTS[0]], kinds=["configuration"], stages=["in"]),
    "bucket-table": SearchFilters(bucket_ids=["in.c-b1", "out.c-b1"], table_ids=["in.c-b1.t1", "out.c-b1.t1"]),
    "nothing": SearchFilters(project_ids=[1]),
    "branch-by-id": SearchFilters(branches=["4101"]),
    "branch-by-name": SearchFilters(kinds=["table", "column", "bucket"], branches=["feature-b"]),
    "every-branch": SearchFilters(branches=["all"]),
}


def _open(tmp: Path, client: QdrantClient) -> dict[str, VectorStore]:
    return {"edge": EdgeStore(tmp / "edge"), "server-memory": ServerStore(client=client)}


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, VectorStore]]:
    """Both backends filled with the same points (read-only tests share them)."""
    client = QdrantClient(":memory:")
    opened = _open(tmp_path_factory.mktemp("congruence"), client)
    for store in opened.values():
        store.ensure(META)
        store.upsert(POINTS)
    yield opened
    for store in opened.values():
        store.close()
    client.close()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[dict[str, VectorStore]]:
    """Both backends filled afresh, for tests that write."""
    client = QdrantClient(":memory:")
    opened = _open(tmp_path, client)
    for store in opened.values():
        store.ensure(META)
        store.upsert(POINTS)
    yield opened
    for store in opened.values():
        store.close()
    client.close()


def _queries(seed: int) -> list[QueryVectors]:
    rng = random.Random(seed)
    return [QueryVectors(dense=random_dense(rng), sparse=sparse_query(" ".join(rng.sample(WORDS, 2))))
            for _ in range(5)]


@pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
@pytest.mark.parametrize("filter_name", list(FILTERS))
def test_queries_agree(stores: dict[str, VectorStore], mode: str, filter_name: str) -> None:
    for i, vectors in enumerate(_queries(seed=len(filter_name))):
        hits = compare_results(stores, lambda s, v=vectors: s.query(v, mode, FILTERS[filter_name], 10),  # type: ignore[arg-type]
                               f"{mode} query {i} / {filter_name}")
        if filter_name not in ("nothing",) and mode != "sparse":
            assert hits, "the generated data has matches for every filter but 'nothing'"


@pytest.mark.parametrize("params", [
    RankParams(),
    RankParams(rrf_k=2, dense_weight=1.0, sparse_weight=0.2, prefetch=15),
    RankParams(boost=Boost(reference="2026-04-01T00:00:00+00:00")),
    RankParams(boost=Boost(recency_weight=2.0, half_life_days=7, usage_weight=1.0)),  # newest change as "now"
], ids=["default", "weighted", "boost", "boost-newest"])
@pytest.mark.parametrize("mode", ["dense", "hybrid"])
def test_ranking_params_agree(stores: dict[str, VectorStore], params: RankParams, mode: str) -> None:
    for i, vectors in enumerate(_queries(seed=7)):
        for filter_name in ("none", "kind"):
            compare_results(stores, lambda s, v=vectors, f=filter_name: s.query(v, mode, FILTERS[f], 7, params),  # type: ignore[arg-type]
                            f"{mode} {params} query {i} / {filter_name}")


def test_hybrid_falls_back_the_same_way(stores: dict[str, VectorStore]) -> None:
    dense = random_dense(random.Random(3))
    no_terms = QueryVectors(dense=dense, sparse=sparse_query("zzzqqq"))
    assert compare_results(stores, lambda s: s.query(no_terms, "hybrid", SearchFilters(), 5), "hybrid, no terms")
    only_sparse = QueryVectors(dense=None, sparse=sparse_query("orders revenue"))
    assert compare_results(stores, lambda s: s.query(only_sparse, "hybrid", SearchFilters(), 5), "hybrid, no dense")
    assert compare_results(stores, lambda s: s.query(no_terms, "sparse", SearchFilters(), 5), "no terms") == []
    for name, store in stores.items():
        with pytest.raises(StoreError, match="dense vector"):
            store.query(QueryVectors(dense=None, sparse=None), "dense", SearchFilters(), 5)
        assert name


def test_payload_selection_agrees(stores: dict[str, VectorStore]) -> None:
    vectors = _queries(seed=11)[0]
    compare_results(stores, lambda s: s.query(vectors, "hybrid", SearchFilters(), 5, fields=["name", "kind"]),
                    "hybrid with fields")
    ids = [p.document_id for p in POINTS[:7]] + ["7101/table/missing"]
    compare_results(stores, lambda s: s.retrieve(list(reversed(ids))), "retrieve")
    compare_results(stores, lambda s: s.retrieve(ids, fields=["project_id"]), "retrieve fields")
    vectors_by_store = [[h.payload["_vectors"]["dense"] for h in store.retrieve(ids[:2], with_vectors=True)]
                        for store in stores.values()]
    assert [len(v) for v in vectors_by_store] == [2, 2]
    first, second = vectors_by_store
    assert all(abs(a - b) < 1e-6 for x, y in zip(first, second, strict=True) for a, b in zip(x, y, strict=True))


@pytest.mark.parametrize("filter_name", ["none", "kind", "combined"])
def test_recommend_agrees(stores: dict[str, VectorStore], filter_name: str) -> None:
    for point in POINTS[:6]:
        hits = compare_results(stores, lambda s, d=point.document_id: s.recommend(d, FILTERS[filter_name], 6),
                               f"recommend {point.document_id} / {filter_name}")
        assert point.document_id not in [hit.document_id for hit in hits]
    for store in stores.values():
        with pytest.raises(StoreError, match="no document"):
            store.recommend("7101/table/missing", SearchFilters(), 3)


def test_counts_agree(stores: dict[str, VectorStore]) -> None:
    for name, filters in FILTERS.items():
        compare_results(stores, lambda s, f=filters: s.count(f), f"count {name}")
    production = compare_results(stores, lambda s: s.count(SearchFilters()), "count production")
    every = compare_results(stores, lambda s: s.count(SearchFilters(branches=["all"])), "count every branch")
    assert every == len(POINTS) > production  # dev-branch points are left out unless asked for
    for key in ("kind", "project_id", "stage", "component_id", "bucket_id"):
        counts = compare_results(stores, lambda s, k=key: s.counts_by(k), f"counts_by {key}")
        assert sum(counts.values()) > 0
    # Not indexed on either backend: both count it by scrolling.
    names = compare_results(stores, lambda s: s.counts_by("content_hash"), "counts_by an unindexed field")
    assert sum(names.values()) == len(POINTS)


def test_hashes_and_scroll_agree(stores: dict[str, VectorStore]) -> None:
    compare_results(stores, lambda s: s.content_hashes(), "content hashes")
    for project in PROJECTS:
        compare_results(stores, lambda s, p=project: s.content_hashes(p), f"content hashes {project}")
    compare_results(stores, lambda s: sorted(h.document_id for h in s.scroll(FILTERS["stage"], batch=7)), "scroll")


def test_deletes_and_upserts_agree(fresh: dict[str, VectorStore]) -> None:
    gone = [p.document_id for p in POINTS[::4]]
    for store in fresh.values():
        store.delete(gone + ["7101/table/never-existed"])
    assert compare_results(fresh, lambda s: s.count(), "count after delete") == len(POINTS) - len(gone)
    compare_results(fresh, lambda s: s.counts_by("kind"), "counts_by after delete")
    changed = [p for p in POINTS[1:12]]
    for point in changed:
        point.payload = {**point.payload, "content_hash": "changed"}
    for store in fresh.values():
        store.upsert(changed)
    compare_results(fresh, lambda s: s.content_hashes(), "hashes after upsert")
    # Dense only: BM25's IDF statistics after deletes are the engine's own (Edge counts deleted
    # points until a segment is optimised), so lexical scores may legitimately differ here.
    for vectors in _queries(seed=5):
        compare_results(fresh, lambda s, v=vectors: s.query(v, "dense", SearchFilters(), 10), "dense after writes")


def test_compatibility_check_agrees(fresh: dict[str, VectorStore]) -> None:
    from dataclasses import replace

    for other in (replace(META, dimension=4), replace(META, sparse="other"), replace(META, schema_version=2)):
        messages = {}
        for name, store in fresh.items():
            with pytest.raises(StoreError) as excinfo:
                store.ensure(other)
            messages[name] = excinfo.value.one_line().replace(store.location, "<location>")
        assert len(set(messages.values())) == 1, messages
        assert "--rebuild" in messages["edge"]
