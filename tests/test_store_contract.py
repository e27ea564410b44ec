"""One contract for the VectorStore protocol, run against every backend.

The pipeline and search never branch on the backend, so both must behave the same on everything
here: Qdrant Edge (embedded), qdrant-client's local mode through ServerStore, and — when QDRANT_URL
is set — a real Qdrant server (marked `qdrant_server`).

The data is hand-made: 4-dimensional dense vectors whose nearest neighbours are obvious, and real
BM25 sparse vectors from Qdrant's own encoder, so every expected top hit is known in advance.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from qdrant_client import QdrantClient
from qdrant_edge import Bm25

from keboola_vectorizer.errors import StoreError
from keboola_vectorizer.store.base import (
    CollectionMeta,
    PointRecord,
    QueryVectors,
    RankParams,
    SearchFilters,
    SparseVector,
    StoredHashes,
    VectorStore,
)
from keboola_vectorizer.store.edge import EdgeStore
from keboola_vectorizer.store.server import ServerOptions, ServerStore

META = CollectionMeta(embedder_id="test/hand-made-4", dimension=4)
_BM25 = Bm25()

QDRANT_URL = os.environ.get("QDRANT_URL")
needs_server = [
    pytest.mark.qdrant_server,
    pytest.mark.skipif(not QDRANT_URL, reason="QDRANT_URL is not set: no Qdrant server to test against"),
]


def doc_sparse(text: str) -> SparseVector:
    vector = _BM25.embed_document(text)
    return SparseVector(list(vector.indices), [float(v) for v in vector.values])


def query_sparse(text: str) -> SparseVector:
    vector = _BM25.embed_query(text)
    return SparseVector(list(vector.indices), [float(v) for v in vector.values])


def record(document_id: str, dense: list[float], text: str, content_hash: str = "h1",
           **payload: Any) -> PointRecord:
    project_id, kind = document_id.split("/")[:2]
    body = {"project_id": int(project_id), "kind": kind, "name": text, "content_hash": content_hash,
            **payload}
    return PointRecord(document_id=document_id, dense=dense, sparse=doc_sparse(text), payload=body)


CUSTOMERS = "9001/table/in.c-crm.customers"
ORDERS_1 = "9001/table/out.c-sales.orders"
EXTRACTOR = "9001/configuration/keboola.ex-db-snowflake/7314"
ORDERS_2 = "9002/table/out.c-sales.orders"
TRANSFORM = "9002/configuration/keboola.snowflake-transformation/8812"
COLUMN = "9002/column/out.c-sales.orders.revenue"

POINTS = [
    record(CUSTOMERS, [1, 0, 0, 0], "customer accounts from the crm", bucket_id="in.c-crm",
           table_id="in.c-crm.customers", stage="in"),
    record(ORDERS_1, [0, 1, 0, 0], "sales orders with revenue", bucket_id="out.c-sales",
           table_id="out.c-sales.orders", stage="out"),
    record(EXTRACTOR, [0, 0, 1, 0], "snowflake database extractor", component_id="keboola.ex-db-snowflake",
           component_type="extractor"),
    record(ORDERS_2, [0, 0.9, 0.1, 0], "monthly orders and revenue", bucket_id="out.c-sales",
           table_id="out.c-sales.orders", stage="out"),
    record(TRANSFORM, [0.1, 0.2, 0.9, 0.1], "transformation computing revenue in snowflake",
           component_id="keboola.snowflake-transformation", component_type="transformation"),
    record(COLUMN, [0, 0.5, 0, 0.8], "revenue column in euros", bucket_id="out.c-sales",
           table_id="out.c-sales.orders", stage="out"),
]


@dataclass
class Backend:
    """How to open the backend's store; `open()` again after `close()` reaches the same data."""

    kind: str
    open: Callable[[], VectorStore]


def _server_remote(collection: str) -> ServerStore:
    assert QDRANT_URL
    return ServerStore(url=QDRANT_URL, api_key=os.environ.get("QDRANT_API_KEY"), collection=collection,
                       options=ServerOptions(replication_factor=1, shard_number=1))


@pytest.fixture(params=["edge", "server-memory", pytest.param("server-remote", marks=needs_server)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    kind = request.param
    cleanup: list[Callable[[], None]] = []
    if kind == "edge":
        yield Backend(kind, lambda: EdgeStore(tmp_path / "edge"))
    elif kind == "server-memory":
        # One in-memory client for the test: persistence tests reopen through the same client.
        client = QdrantClient(":memory:")
        cleanup.append(client.close)
        yield Backend(kind, lambda: ServerStore(client=client))
    else:
        collection = f"kv-test-{uuid.uuid4().hex[:12]}"

        def drop_remote() -> None:
            store = _server_remote(collection)
            store.drop()
            for orphan in store.orphan_collections():
                store.client.delete_collection(orphan)
            store.close()

        cleanup.append(drop_remote)
        yield Backend(kind, lambda: _server_remote(collection))
    for step in cleanup:
        step()


@pytest.fixture
def store(backend: Backend) -> Iterator[VectorStore]:
    opened = backend.open()
    yield opened
    opened.close()


@pytest.fixture
def filled(store: VectorStore) -> VectorStore:
    store.ensure(META)
    store.upsert(POINTS)
    return store


def ids(hits: list[Any]) -> list[str]:
    return [hit.document_id for hit in hits]


def dense_query(vector: list[float]) -> QueryVectors:
    return QueryVectors(dense=vector, sparse=None)


# ----- collection lifecycle -------------------------------------------------------------------

def test_store_satisfies_protocol(store: VectorStore) -> None:
    assert isinstance(store, VectorStore)
    assert store.name == "keboola-metadata" or store.name.startswith("kv-test-")
    assert store.location


def test_ensure_creates_collection_with_meta(store: VectorStore) -> None:
    assert store.meta() is None
    assert store.content_hashes() == {}
    store.ensure(META)
    assert store.meta() == META
    assert store.count() == 0
    store.ensure(META)  # idempotent with the same settings
    assert store.meta() == META


@pytest.mark.parametrize("other", [replace(META, dimension=8), replace(META, embedder_id="openai/other-4")])
def test_ensure_refuses_other_embedder_or_dimension(store: VectorStore, other: CollectionMeta) -> None:
    store.ensure(META)
    with pytest.raises(StoreError) as excinfo:
        store.ensure(other)
    assert "--rebuild" in excinfo.value.one_line()
    assert store.meta() == META  # nothing changed


def test_drop_removes_collection(filled: VectorStore) -> None:
    filled.drop()
    assert filled.meta() is None


# ----- points ---------------------------------------------------------------------------------

def test_upsert_is_idempotent_by_document_id(filled: VectorStore) -> None:
    assert filled.count() == len(POINTS)
    changed = record(CUSTOMERS, [1, 0, 0, 0], "customer accounts from the crm", content_hash="h2",
                     bucket_id="in.c-crm", stage="in")
    filled.upsert([changed])
    filled.upsert([changed])
    assert filled.count() == len(POINTS)
    assert filled.content_hashes(9001)[CUSTOMERS] == "h2"


def test_content_hashes_per_project(filled: VectorStore) -> None:
    assert filled.content_hashes(9001) == {CUSTOMERS: "h1", ORDERS_1: "h1", EXTRACTOR: "h1"}
    assert set(filled.content_hashes(9002)) == {ORDERS_2, TRANSFORM, COLUMN}
    assert set(filled.content_hashes()) == {p.document_id for p in POINTS}
    assert filled.content_hashes(4242) == {}


def test_stored_hashes_carry_text_hash_and_tolerate_points_without_one(filled: VectorStore) -> None:
    filled.upsert([record(CUSTOMERS, [1, 0, 0, 0], "customer accounts from the crm", content_hash="h2",
                          text_hash="t2")])
    hashes = filled.stored_hashes(9001)
    assert hashes[CUSTOMERS] == StoredHashes("h2", "t2")
    assert hashes[ORDERS_1] == StoredHashes("h1", "")  # written before text hashes: embed once
    assert set(filled.stored_hashes()) == {p.document_id for p in POINTS}


def _vectors(store: VectorStore, document_id: str) -> dict[str, Any]:
    return store.retrieve([document_id], with_vectors=True)[0].payload["_vectors"]


def test_overwrite_payload_replaces_payload_keeps_vectors(filled: VectorStore) -> None:
    before = _vectors(filled, ORDERS_1)
    filled.overwrite_payload({
        ORDERS_1: {"project_id": 9001, "kind": "table", "name": "sales orders", "rows_count": 42,
                   "table_id": "out.c-sales.orders", "content_hash": "h9"},
        "9001/table/never.stored": {"project_id": 9001, "kind": "table"},
    })
    hit = filled.retrieve([ORDERS_1])[0]
    assert hit.payload["rows_count"] == 42 and hit.payload["content_hash"] == "h9"
    assert "stage" not in hit.payload and "bucket_id" not in hit.payload  # replaced, not merged
    assert hit.payload["document_id"] == ORDERS_1
    assert _vectors(filled, ORDERS_1) == before
    assert filled.count() == len(POINTS)  # a missing id is not created
    assert not filled.retrieve(["9001/table/never.stored"])
    # Filters and searches see the new payload.
    assert ids(filled.query(dense_query([0, 1, 0, 0]), "dense", SearchFilters(project_ids=[9001]), 1)) == [ORDERS_1]
    assert filled.count(SearchFilters(stages=["out"], project_ids=[9001])) == 0
    filled.overwrite_payload({})


def test_set_payload_merges_keys_keeps_vectors(filled: VectorStore) -> None:
    before = _vectors(filled, CUSTOMERS)
    filled.set_payload({CUSTOMERS: {"rows_count": 7, "content_hash": "h3"}, "9001/table/never.stored": {"x": 1}})
    hit = filled.retrieve([CUSTOMERS])[0]
    assert hit.payload["rows_count"] == 7 and hit.payload["content_hash"] == "h3"
    assert hit.payload["stage"] == "in" and hit.payload["name"] == "customer accounts from the crm"
    assert _vectors(filled, CUSTOMERS) == before
    assert filled.count() == len(POINTS)
    assert filled.content_hashes(9001)[CUSTOMERS] == "h3"


def test_delete(filled: VectorStore) -> None:
    filled.delete([ORDERS_1, "9001/table/never.existed"])
    assert filled.count() == len(POINTS) - 1
    assert ORDERS_1 not in filled.content_hashes(9001)
    filled.delete([])
    assert filled.count() == len(POINTS) - 1


def test_retrieve(filled: VectorStore) -> None:
    hits = filled.retrieve([ORDERS_2, "9001/table/missing", CUSTOMERS])
    assert ids(hits) == [ORDERS_2, CUSTOMERS]
    assert hits[0].payload["project_id"] == 9002
    assert hits[0].payload["document_id"] == ORDERS_2
    assert hits[0].score == 0
    assert "_vectors" not in hits[0].payload
    with_vectors = filled.retrieve([CUSTOMERS], with_vectors=True)[0]
    dense = with_vectors.payload["_vectors"]["dense"]
    assert [round(float(x), 3) for x in dense] == [1.0, 0.0, 0.0, 0.0]  # cosine: stored normalised
    assert filled.retrieve([]) == []


def test_payload_fields_select_what_comes_back(filled: VectorStore) -> None:
    light = filled.retrieve([ORDERS_2, CUSTOMERS], fields=["kind", "project_id"])
    assert ids(light) == [ORDERS_2, CUSTOMERS]
    assert light[0].payload == {"document_id": ORDERS_2, "kind": "table", "project_id": 9002}
    # No two points tie in either branch: Qdrant fuses the branches itself, and the order of tied
    # candidates inside a branch (and so their fused scores) can differ between two queries.
    vectors = QueryVectors(dense=[0.05, 0.1, 1, 0.05], sparse=query_sparse("snowflake"))
    for params in (None, RankParams(rrf_k=20)):
        full = filled.query(vectors, "hybrid", SearchFilters(), 3, params)
        selected = filled.query(vectors, "hybrid", SearchFilters(), 3, params, fields=["name"])
        assert ids(selected) == ids(full)
        assert all(set(hit.payload) == {"document_id", "name"} for hit in selected)


def test_tied_scores_are_ordered_by_document_id(store: VectorStore) -> None:
    # Ten points with the same vectors tie; written in reverse id order, so an answer that follows
    # the store's own order of equals would not come out sorted. (Ties running further past the cut
    # than TIE_MARGIN are not settled; a hybrid query is fused by Qdrant, whose branches order their
    # ties as they come; search fuses on its side, ranking/fusion.py.)
    twins = [record(f"9003/table/out.c-twin.t{n:02d}", [0, 1, 0, 0], "twin orders table") for n in range(10)]
    store.ensure(META)
    store.upsert(list(reversed(twins)))
    by_id = sorted(ids(twins))
    vectors = QueryVectors(dense=[0, 1, 0, 0], sparse=query_sparse("twin orders"))
    for mode in ("dense", "sparse"):
        for limit in (1, 3, 10):
            assert ids(store.query(vectors, mode, SearchFilters(), limit)) == by_id[:limit], (mode, limit)


def test_scroll_yields_every_point(filled: VectorStore) -> None:
    assert sorted(ids(list(filled.scroll(batch=2)))) == sorted(p.document_id for p in POINTS)
    assert sorted(ids(list(filled.scroll(SearchFilters(project_ids=[9001]))))) == sorted(
        [CUSTOMERS, ORDERS_1, EXTRACTOR])


# ----- search ---------------------------------------------------------------------------------

def test_query_dense(filled: VectorStore) -> None:
    hits = filled.query(dense_query([0, 1, 0, 0]), "dense", SearchFilters(), 3)
    assert ids(hits)[:2] == [ORDERS_1, ORDERS_2]
    assert hits[0].score >= hits[1].score
    assert hits[0].payload["name"] == "sales orders with revenue"


def test_query_sparse(filled: VectorStore) -> None:
    hits = filled.query(QueryVectors(dense=None, sparse=query_sparse("snowflake extractor")), "sparse",
                        SearchFilters(), 5)
    assert ids(hits)[0] == EXTRACTOR
    assert COLUMN not in ids(hits)  # no shared term


def test_query_sparse_without_known_terms_is_empty(filled: VectorStore) -> None:
    vectors = QueryVectors(dense=None, sparse=query_sparse("zzzqqq"))
    assert filled.query(vectors, "sparse", SearchFilters(), 5) == []


def test_query_hybrid_fuses_both(filled: VectorStore) -> None:
    # Dense alone prefers the extractor, BM25 alone the transformation ("revenue", "snowflake");
    # the transformation is second on dense, so fusion puts it first.
    vectors = QueryVectors(dense=[0.05, 0.1, 1, 0.05], sparse=query_sparse("revenue transformation"))
    dense_only = ids(filled.query(vectors, "dense", SearchFilters(), 3))
    assert dense_only[:2] == [EXTRACTOR, TRANSFORM]
    hybrid = filled.query(vectors, "hybrid", SearchFilters(), 3)
    assert ids(hybrid)[0] == TRANSFORM
    assert len(hybrid) == 3


def test_query_hybrid_without_sparse_terms_is_dense(filled: VectorStore) -> None:
    vectors = QueryVectors(dense=[1, 0, 0, 0], sparse=query_sparse("zzzqqq"))
    assert ids(filled.query(vectors, "hybrid", SearchFilters(), 1)) == [CUSTOMERS]


@pytest.mark.parametrize(("filters", "expected"), [
    (SearchFilters(project_ids=[9002]), {ORDERS_2, TRANSFORM, COLUMN}),
    (SearchFilters(project_ids=[9001, 9002]), {p.document_id for p in POINTS}),
    (SearchFilters(kinds=["configuration"]), {EXTRACTOR, TRANSFORM}),
    (SearchFilters(bucket_ids=["in.c-crm"]), {CUSTOMERS}),
    (SearchFilters(component_ids=["keboola.snowflake-transformation"]), {TRANSFORM}),
    (SearchFilters(stages=["out"]), {ORDERS_1, ORDERS_2, COLUMN}),
    (SearchFilters(table_ids=["out.c-sales.orders"]), {ORDERS_1, ORDERS_2, COLUMN}),
    (SearchFilters(project_ids=[9002], kinds=["table", "column"], stages=["out"]), {ORDERS_2, COLUMN}),
    (SearchFilters(project_ids=[9001], component_ids=["keboola.snowflake-transformation"]), set()),
], ids=["project", "projects-or", "kind", "bucket", "component", "stage", "table", "combined", "empty"])
def test_filters(filled: VectorStore, filters: SearchFilters, expected: set[str]) -> None:
    for mode, vectors in [("dense", dense_query([0.3, 0.3, 0.3, 0.3])),
                          ("hybrid", QueryVectors(dense=[0.3, 0.3, 0.3, 0.3],
                                                  sparse=query_sparse("revenue orders snowflake crm")))]:
        assert set(ids(filled.query(vectors, mode, filters, 10))) == expected, mode  # type: ignore[arg-type]
    assert filled.count(filters) == len(expected)


def test_recommend_excludes_itself(filled: VectorStore) -> None:
    hits = filled.recommend(ORDERS_1, SearchFilters(), 3)
    assert ORDERS_1 not in ids(hits)
    assert ids(hits)[0] == ORDERS_2
    filtered = filled.recommend(ORDERS_1, SearchFilters(kinds=["configuration"]), 5)
    assert set(ids(filtered)) == {EXTRACTOR, TRANSFORM}


def test_recommend_unknown_document(filled: VectorStore) -> None:
    with pytest.raises(StoreError):
        filled.recommend("9001/table/missing", SearchFilters(), 3)


def test_count_and_counts_by(filled: VectorStore) -> None:
    assert filled.count() == 6
    assert filled.count(SearchFilters(kinds=["table"])) == 3
    assert filled.counts_by("kind") == {"table": 3, "configuration": 2, "column": 1}
    assert filled.counts_by("project_id") == {9001: 3, 9002: 3}
    assert filled.counts_by("component_type") == {"extractor": 1, "transformation": 1}


# ----- state, rebuild, persistence ------------------------------------------------------------

def test_state_round_trip(filled: VectorStore) -> None:
    assert filled.read_state() == {}
    state = {"last_run": {"extracted": 6, "upserted": 6, "seconds": 1.5, "per_project": {"9001": 3}}}
    filled.write_state(state)
    assert filled.read_state() == state
    filled.write_state({"last_run": {"extracted": 1}})
    assert filled.read_state() == {"last_run": {"extracted": 1}}  # replaced, not merged


def test_rebuild_and_promote(filled: VectorStore) -> None:
    new_meta = CollectionMeta(embedder_id="test/other-3", dimension=3)
    staging = filled.start_rebuild(new_meta)
    assert staging.meta() == new_meta
    staging.upsert([PointRecord(document_id="9003/bucket/in.c-new", dense=[1, 0, 0],
                                sparse=doc_sparse("new bucket"),
                                payload={"project_id": 9003, "kind": "bucket", "content_hash": "n1"})])
    # Searches through the alias still see the old collection until promote.
    assert filled.meta() == META
    assert filled.count() == len(POINTS)
    assert staging.count() == 1

    filled.promote(staging)
    assert filled.meta() == new_meta
    assert filled.count() == 1
    assert filled.content_hashes() == {"9003/bucket/in.c-new": "n1"}
    assert ids(filled.query(dense_query([1, 0, 0]), "dense", SearchFilters(), 5)) == ["9003/bucket/in.c-new"]
    filled.write_state({"last_run": {"rebuilt": True}})
    assert filled.read_state() == {"last_run": {"rebuilt": True}}
    with pytest.raises(StoreError):  # the old settings are the ones refused now
        filled.ensure(META)


def test_promote_refuses_empty_rebuild(filled: VectorStore) -> None:
    staging = filled.start_rebuild(replace(META, embedder_id="test/empty"))
    with pytest.raises(StoreError):
        filled.promote(staging)
    assert filled.meta() == META
    assert filled.count() == len(POINTS)
    staging.drop()


def test_close_and_reopen_keeps_data(backend: Backend) -> None:
    first = backend.open()
    first.ensure(META)
    first.upsert(POINTS)
    first.write_state({"last_run": {"upserted": 6}})
    first.close()
    second = backend.open()
    try:
        assert second.meta() == META
        assert second.count() == len(POINTS)
        assert second.read_state() == {"last_run": {"upserted": 6}}
        assert ids(second.query(dense_query([1, 0, 0, 0]), "dense", SearchFilters(), 1)) == [CUSTOMERS]
    finally:
        second.close()



def test_dev_branch_points_only_when_asked(filled: VectorStore) -> None:
    dev = "9001/table/in.c-77-crm.customers"
    filled.upsert([record(dev, [1, 0, 0, 0], "customer accounts from the crm", bucket_id="in.c-77-crm",
                          table_id="in.c-77-crm.customers", stage="in", branch_id="77", branch_name="fix-crm",
                          branch_kind="dev")])
    everything = len(POINTS) + 1
    assert filled.count() == everything  # no filter: every point
    assert filled.count(SearchFilters()) == len(POINTS)  # production only
    assert filled.count(SearchFilters(branches=["77"])) == everything
    assert filled.count(SearchFilters(branches=["fix-crm"])) == everything
    assert filled.count(SearchFilters(branches=["all"])) == everything
    assert filled.count(SearchFilters(branches=["78"])) == len(POINTS)
    near = dense_query([1, 0, 0, 0])
    assert dev not in ids(filled.query(near, "dense", SearchFilters(project_ids=[9001]), 5))
    assert dev in ids(filled.query(near, "dense", SearchFilters(project_ids=[9001], branches=["77"]), 5))
    assert dev not in ids(filled.recommend(CUSTOMERS, SearchFilters(), 5))
    assert dev in ids(list(filled.scroll(SearchFilters(branches=["all"], stages=["in"]))))
    assert dev in filled.stored_hashes(9001)  # the index run sees every branch
