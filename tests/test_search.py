"""Search through real parts: two demo projects indexed with the real model into a real Edge store.

Modes, every filter alone and combined, the column-to-table re-ranking, the boost, similar objects,
lineage (in process and through the CLI) and the eval command's JSON shape.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from keboola_vectorizer.evaluate import NameSubstringRanker, Question, evaluate, filters_from_json
from keboola_vectorizer.keboola.snapshot import Snapshot
from keboola_vectorizer.lineage_query import lineage
from keboola_vectorizer.pipeline import iter_documents, run_index
from keboola_vectorizer.search import rerank, search, similar
from keboola_vectorizer.store.base import Boost, Hit, SearchFilters
from keboola_vectorizer.store.edge import EdgeStore
from tests.conftest import DEMO, SMALL, copy_snapshot

CLI = [sys.executable, "-m", "keboola_vectorizer.cli"]
CRM = DEMO.project("crm").id
PROJECTS = [CRM, SMALL]  # the sales CRM project and the small sandbox
DEALS = f"{CRM}/table/in.c-salesforce.Opportunity"
DEALS_QUERY = "salesforce opportunity stage name, amount, probability and close date"
PIPELINE = f"{CRM}/table/out.c-crm_reporting.pipeline_by_stage"
TRANSFORMATION = f"{CRM}/configuration/keboola.snowflake-transformation/1049936397"
SALESFORCE = f"{CRM}/configuration/keboola.ex-salesforce-v2/946796494"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("search")
    snapshot = copy_snapshot(root / "snapshot", PROJECTS)
    store = EdgeStore(root / "qdrant")
    try:
        summary = run_index(Snapshot(snapshot), store, embedder)
    finally:
        store.close()
    assert summary.embedded == sum(DEMO.project(p).total for p in PROJECTS)
    return {"qdrant": root / "qdrant", "snapshot": snapshot, "embedder": embedder, "root": root}


@pytest.fixture
def store(index: dict[str, Any]) -> Iterator[EdgeStore]:
    opened = EdgeStore(index["qdrant"])
    yield opened
    opened.close()


def run_search(store: EdgeStore, index: dict[str, Any], query: str, **kwargs: Any) -> list[Any]:
    return search(store, lambda: index["embedder"], query, **kwargs)


def no_model() -> Any:
    raise AssertionError("a sparse search must not load the model")


def run_cli(index: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KBC_", "QDRANT_", "OPENAI_", "DD_"))}
    env["QDRANT_PATH"] = str(index["qdrant"])
    return subprocess.run(CLI + list(args), capture_output=True, text=True, env=env, timeout=300)


# -- modes and ranking ---------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["hybrid", "dense", "sparse"])
def test_every_mode_finds_the_table(store: EdgeStore, index: dict[str, Any], mode: str) -> None:
    embedder = no_model if mode == "sparse" else (lambda: index["embedder"])
    results = search(store, embedder, DEALS_QUERY, mode=mode, limit=5)
    assert DEALS in [r.id for r in results[:3]], [r.id for r in results]
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
    assert len({r.id for r in results}) == len(results)


def test_table_outranks_its_own_columns(store: EdgeStore, index: dict[str, Any]) -> None:
    results = run_search(store, index, DEALS_QUERY, limit=10)
    ids = [r.id for r in results]
    assert ids[0] == DEALS
    columns = [r for r in results if r.kind == "column" and r.table_id == "in.c-salesforce.Opportunity"]
    assert columns, "the matching columns are still listed, behind their table"


def test_results_carry_links_and_snippets(store: EdgeStore, index: dict[str, Any]) -> None:
    (result,) = run_search(store, index, "open pipeline value per sales stage and industry", limit=1,
                           filters=SearchFilters(kinds=["table"]))
    data = result.to_json()
    assert {"id", "kind", "name", "project_id", "score", "url", "snippet"} <= set(data)
    assert data["url"] == ("https://connection.keboola.com/admin/projects/"
                           f"{CRM}/storage/out.c-crm_reporting/table/pipeline_by_stage")


# -- filters ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("filters", "check"), [
    (SearchFilters(project_ids=[CRM]), lambda r: r.project_id == CRM),
    (SearchFilters(kinds=["configuration"]), lambda r: r.kind == "configuration"),
    (SearchFilters(kinds=["column"]), lambda r: r.kind == "column"),
    (SearchFilters(bucket_ids=["in.c-reference"]), lambda r: r.bucket_id == "in.c-reference"),
    (SearchFilters(component_ids=["keboola.snowflake-transformation"]),
     lambda r: r.component_id == "keboola.snowflake-transformation"),
    (SearchFilters(stages=["in"]), lambda r: r.bucket_id is not None and r.bucket_id.startswith("in.")),
    (SearchFilters(project_ids=[SMALL], kinds=["table"], stages=["out"]),
     lambda r: r.project_id == SMALL and r.kind == "table" and r.bucket_id.startswith("out.")),
    (SearchFilters(project_ids=[CRM], kinds=["configuration", "configuration_row"],
                   component_ids=["keboola.ex-salesforce-v2"]),
     lambda r: r.project_id == CRM and r.component_id == "keboola.ex-salesforce-v2"),
])
@pytest.mark.parametrize("mode", ["hybrid", "sparse"])
def test_filters(store: EdgeStore, index: dict[str, Any], filters: SearchFilters, check: Any, mode: str) -> None:
    embedder = no_model if mode == "sparse" else (lambda: index["embedder"])
    results = search(store, embedder, "campaign deals data tables", mode=mode, filters=filters, limit=15)
    assert results, filters
    assert all(check(r) for r in results), [(r.id, r.kind) for r in results]


def test_table_filter_still_counts_column_matches(store: EdgeStore, index: dict[str, Any]) -> None:
    results = run_search(store, index, "deals stage amount", filters=SearchFilters(kinds=["table"]), limit=3)
    assert results[0].id == DEALS
    assert all(r.kind == "table" for r in results)


def test_filters_from_questions_json() -> None:
    filters = filters_from_json({"project": 9001, "kind": ["table"], "bucket": "out.c-x", "stage": "out",
                                 "component_id": "keboola.ex-db-snowflake"})
    assert filters.by_field() == {"project_id": [9001], "kind": ["table"], "bucket_id": ["out.c-x"],
                                  "component_id": ["keboola.ex-db-snowflake"], "stage": ["out"]}


# -- re-ranking and boost --------------------------------------------------------------------------

def _hit(doc_id: str, score: float, **payload: Any) -> Hit:
    return Hit(doc_id, score, {"kind": doc_id.split("/")[1], "project_id": 1, **payload})


def test_rerank_lends_column_scores_to_tables_and_fetches_missing_ones() -> None:
    hits = [_hit("1/column/out.c-a.t.x", 0.5, table_id="out.c-a.t"),
            _hit("1/column/out.c-a.t.y", 0.4, table_id="out.c-a.t"),
            _hit("1/table/out.c-a.u", 0.45, table_id="out.c-a.u")]
    fetched: list[list[str]] = []

    def fetch(ids: list[str]) -> list[Hit]:
        fetched.append(ids)
        return [_hit(i, 0.0, table_id=i.split("/", 2)[2]) for i in ids]

    ranked = rerank(hits, rank_scores=False, rrf_k=20, fetch=fetch)
    assert fetched == [["1/table/out.c-a.t"]]
    assert ranked[0].document_id == "1/table/out.c-a.u"  # 0.45 vs 0.5 * 0.5 for the fetched table
    assert [h.document_id for h in ranked].index("1/column/out.c-a.t.y") == 3  # the second column decays
    only_tables = rerank(hits, rank_scores=True, rrf_k=20, fetch=fetch, kinds=["table"])
    assert {h.payload["kind"] for h in only_tables} == {"table"}


def test_boost_is_a_formula_query(store: EdgeStore, index: dict[str, Any]) -> None:
    query = "sales tables"
    plain = run_search(store, index, query, limit=10)
    neutral = run_search(store, index, query, limit=10, boost=Boost(recency_weight=0.0, usage_weight=0.0))
    # A neutral boost keeps the ranking; only equal scores may fall in another order (the boosted path
    # fuses inside Qdrant, which orders ties by storage position; plain search orders them by id).
    assert neutral[0].id == plain[0].id
    assert len({r.id for r in neutral[:10]} & {r.id for r in plain[:10]}) >= 8
    boosted = run_search(store, index, query, limit=10, boost=Boost(recency_weight=0.0, usage_weight=50.0))
    used = store.retrieve([r.id for r in boosted if r.kind == "table"])
    counts = [h.payload.get("consumer_count", 0) for h in used]
    assert counts and max(counts) > 0 and counts[0] == max(counts)
    recent = run_search(store, index, query, limit=5, mode="dense", boost=Boost(recency_weight=5.0, usage_weight=0))
    assert recent


# -- similar ---------------------------------------------------------------------------------------

def test_similar_objects(store: EdgeStore) -> None:
    adwords = DEALS
    results = similar(store, adwords, limit=5)
    assert results and adwords not in [r.id for r in results]
    tables = similar(store, adwords, filters=SearchFilters(kinds=["table"]), limit=3)
    assert all(r.kind == "table" and r.id != adwords for r in tables)
    assert tables[0].project_id == CRM


def test_similar_cli_json_and_unknown_id(index: dict[str, Any]) -> None:
    result = run_cli(index, "similar", PIPELINE, "--kind", "table", "--limit", "3", "--json")
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert 0 < len(hits) <= 3 and all(h["kind"] == "table" and h["id"] != PIPELINE for h in hits)
    missing = run_cli(index, "similar", f"{CRM}/table/nope")
    assert missing.returncode == 6 and "error:" in missing.stderr and "Traceback" not in missing.stderr


# -- lineage ---------------------------------------------------------------------------------------

def test_lineage_walks_producers_and_consumers(store: EdgeStore) -> None:
    one = lineage(store, PIPELINE)
    assert one.root.id == PIPELINE
    assert TRANSFORMATION in [n.id for n in one.upstream if n.kind == "configuration"]
    upstream_tables = [n for n in one.upstream if n.kind == "table"]
    assert DEALS in [n.id for n in upstream_tables]
    assert all(n.depth == 1 for n in one.upstream)
    downstream = {n.id for n in one.downstream}
    assert f"{CRM}/configuration/keboola.wr-google-sheets/1056442001" in downstream
    two = lineage(store, "out.c-crm_reporting.pipeline_by_stage", depth=2)
    extractors = [n for n in two.upstream if n.depth == 2 and n.kind == "configuration"]
    assert SALESFORCE in [n.id for n in extractors]
    for node in two.upstream:
        assert node.via == PIPELINE or node.via in {n.id for n in two.upstream}


def test_lineage_of_a_configuration(store: EdgeStore) -> None:
    result = lineage(store, TRANSFORMATION)
    assert PIPELINE in [n.id for n in result.downstream]
    assert all(n.kind == "table" for n in result.downstream + result.upstream)


def test_lineage_cli_json(index: dict[str, Any]) -> None:
    result = run_cli(index, "lineage", "out.c-crm_reporting.pipeline_by_stage", "--depth", "2", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"root", "upstream", "downstream"}
    assert data["root"]["id"] == PIPELINE
    for node in data["upstream"] + data["downstream"]:
        assert {"id", "kind", "name", "project_id", "url", "depth", "via", "indexed"} <= set(node)
    assert max(n["depth"] for n in data["upstream"]) == 2
    text = run_cli(index, "lineage", PIPELINE)
    assert text.returncode == 0 and "upstream" in text.stdout and "downstream" in text.stdout
    unknown = run_cli(index, "lineage", "out.c-nothing.here")
    assert unknown.returncode == 3 and "error:" in unknown.stderr


# -- eval ------------------------------------------------------------------------------------------

QUESTIONS = [
    {"query": DEALS_QUERY, "relevant": [DEALS]},
    {"query": "the salesforce extractor", "relevant": [SALESFORCE]},
    {"query": "gong call recordings data source", "relevant": [f"{CRM}/configuration/kds-team.ex-gong/552169313"],
     "filters": {"project_id": CRM}},
    {"query": "something nobody indexed", "relevant": [f"{CRM}/table/out.c-none.none"]},
]


@pytest.fixture(scope="module")
def questions_file(index: dict[str, Any]) -> Path:
    path = index["root"] / "questions.jsonl"
    path.write_text("\n".join(json.dumps(q) for q in QUESTIONS) + "\n")
    return path


def test_eval_cli_json_shape(index: dict[str, Any], questions_file: Path) -> None:
    result = run_cli(index, "eval", "--questions", str(questions_file), "--mode", "sparse", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    for key in ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10"):
        assert 0.0 <= data[key] <= 1.0
    assert data["queries"] == 4 and data["mode"] == "sparse"
    assert data["recall@10"] >= 0.5
    missed = [m["query"] for m in data["misses"]]
    assert "something nobody indexed" in missed
    for miss in data["misses"]:
        assert {"query", "relevant", "top", "rank", "recall@5"} <= set(miss)


def test_eval_in_process_hybrid_beats_name_baseline(store: EdgeStore, index: dict[str, Any]) -> None:
    questions = [Question(q["query"], q["relevant"], q.get("filters", {})) for q in QUESTIONS[:3]]

    def ranker(query: str, filters: SearchFilters, limit: int) -> list[str]:
        return [r.id for r in run_search(store, index, query, filters=filters, limit=limit)]

    hybrid = evaluate(questions, ranker)
    baseline = evaluate(questions, NameSubstringRanker(
        (d.id, d.payload) for d in iter_documents(Snapshot(index["snapshot"]))))
    assert hybrid["recall@5"] == 1.0
    assert hybrid["mrr@10"] >= baseline["mrr@10"]


def test_name_substring_baseline() -> None:
    ranker = NameSubstringRanker([("1/table/a.orders", {"name": "orders", "project_id": 1, "kind": "table"}),
                                  ("1/table/a.order_lines", {"name": "order_lines", "project_id": 1,
                                                             "kind": "table"}),
                                  ("2/table/a.orders", {"name": "orders", "project_id": 2, "kind": "table"})])
    assert ranker("order lines", SearchFilters(), 10)[0] == "1/table/a.order_lines"
    assert ranker("the orders", SearchFilters(project_ids=[2]), 10) == ["2/table/a.orders"]
    assert ranker("nothing", SearchFilters(), 10) == []


# -- the same ranking on the server backend ----------------------------------------------------------

def test_server_backend_ranks_like_edge(store: EdgeStore, index: dict[str, Any]) -> None:
    """qdrant-client (local mode) runs the same weighted RRF and boost formula as Edge."""
    from qdrant_client import QdrantClient

    from keboola_vectorizer.store.base import PointRecord, SparseVector
    from keboola_vectorizer.store.server import ServerStore

    server = ServerStore(client=QdrantClient(":memory:"))
    server.ensure(store.meta())
    ids = [hit.document_id for hit in store.scroll()]
    records = []
    for hit in store.retrieve(ids, with_vectors=True):
        vectors = hit.payload.pop("_vectors")
        records.append(PointRecord(hit.document_id, vectors["dense"],
                                   SparseVector(vectors["bm25"]["indices"], vectors["bm25"]["values"]), hit.payload))
    server.upsert(records)
    assert server.newest_change() == store.newest_change()
    for query, boost in ((DEALS_QUERY, None), ("gong call recordings data source", Boost())):
        for mode in ("hybrid", "sparse"):
            on_edge = [r.id for r in run_search(store, index, query, mode=mode, limit=3, boost=boost)]
            on_server = [r.id for r in run_search(server, index, query, mode=mode, limit=3, boost=boost)]
            assert on_server == on_edge, (query, mode, boost)


# -- determinism, explain, confidence and the eval's rankings --------------------------------------

DETERMINISM_QUERIES = ["deal value", "marketing tables", "extractor", "transformation that prepares data",
                       "flow", "email", "what produces the deals table", "campaign costs per day"]


def test_same_snapshot_in_a_fresh_store_ranks_identically(store: EdgeStore, index: dict[str, Any],
                                                          tmp_path: Path) -> None:
    """Equal inputs, equal rankings: ties, thread timing and build order must not decide."""
    fresh = EdgeStore(tmp_path / "again")
    try:
        run_index(Snapshot(index["snapshot"]), fresh, index["embedder"])
        for query in DETERMINISM_QUERIES:
            first = [(r.id, r.score) for r in run_search(store, index, query, limit=20)]
            second = [(r.id, r.score) for r in run_search(fresh, index, query, limit=20)]
            assert first == second, query
    finally:
        fresh.close()


def test_explain_and_confidence_in_json(index: dict[str, Any]) -> None:
    result = run_cli(index, "search", DEALS_QUERY, "--explain", "--json", "--limit", "3")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows[0]["id"] == DEALS
    why = rows[0]["explain"]
    assert why["dense_rank"] >= 1 and why["sparse_rank"] >= 1 and why["matched"]["name"]
    assert all(0.0 <= row["confidence"] <= 1.0 for row in rows)
    text = run_cli(index, "search", DEALS_QUERY, "--explain", "--limit", "1")
    assert "why: dense #" in text.stdout and "matched" in text.stdout


def test_excluding_the_answer_lowers_confidence(store: EdgeStore, index: dict[str, Any]) -> None:
    query = DEALS_QUERY
    answered = run_search(store, index, query, limit=1)
    removed = run_search(store, index, query, limit=1, exclude=[DEALS])
    assert answered[0].id == DEALS and removed[0].id != DEALS
    assert not removed[0].id.startswith(f"{CRM}/column/{DEALS.split('/table/')[1]}.")  # its columns go too
    assert removed[0].confidence is not None and answered[0].confidence is not None


def test_eval_rankings_and_paired_compare(index: dict[str, Any], questions_file: Path, tmp_path: Path) -> None:
    hybrid, sparse = tmp_path / "hybrid.jsonl", tmp_path / "sparse.jsonl"
    for mode, path in (("hybrid", hybrid), ("sparse", sparse)):
        done = run_cli(index, "eval", "--questions", str(questions_file), "--mode", mode, "--rankings", str(path),
                       "--json")
        assert done.returncode == 0, done.stderr
        data = json.loads(done.stdout)
        assert {"hit@1", "hit@5", "hit@10", "intervals", "by_group"} <= set(data)
        low, high = data["intervals"]["mrr@10"]
        assert low <= data["mrr@10"] <= high
        assert "kind:table" in data["by_group"] and "kind:configuration" in data["by_group"]
    rows = [json.loads(line) for line in hybrid.read_text().splitlines()]
    assert len(rows) == 4 and all(len(row["top"]) <= 10 for row in rows)
    compared = run_cli(index, "eval", "--compare", str(sparse), str(hybrid), "--json")
    assert compared.returncode == 0, compared.stderr
    mrr = json.loads(compared.stdout)["mrr@10"]
    assert set(mrr) >= {"before", "after", "delta", "delta_ci", "better", "worse", "significant"}
    mismatch = tmp_path / "other.jsonl"
    changed = [dict(row, query=row["query"] + " (reworded)") if n == 0 else row for n, row in enumerate(rows)]
    mismatch.write_text("".join(json.dumps(row) + "\n" for row in changed))
    refused = run_cli(index, "eval", "--compare", str(hybrid), str(mismatch))
    assert refused.returncode == 3 and "different questions" in refused.stderr


def test_the_query_vector_is_made_while_the_index_opens(mini_index_copy: Path, embedder) -> None:
    """A cold `search` loads the model on a second thread while the index opens: the model here
    embeds only once the index has opened, which only a concurrent load lets it see; its runtime is
    imported before the index opens."""
    import threading

    import numpy as np

    from keboola_vectorizer.errors import EmbeddingError
    from keboola_vectorizer.search import ensure_searchable, query_vector_aside

    store = EdgeStore(mini_index_copy)
    opened = threading.Event()
    count = store.count

    def counting(*args: Any, **kwargs: Any) -> int:
        opened.set()
        return count(*args, **kwargs)

    store.count = counting  # type: ignore[method-assign]

    order: list[str] = []

    class ModelOnceTheIndexOpens:
        """The runtime imports before the index opens (both hold the GIL); the session loads while it does."""

        def load_runtime(self) -> None:
            order.append("runtime imported" if not opened.is_set() else "runtime imported late")

        def embed_query(self, text: str) -> Any:
            assert opened.wait(30), "the model waited for the index: they did not load at once"
            return embedder.embed_query(text)

    try:
        with query_vector_aside(ModelOnceTheIndexOpens, "daily revenue per shop", "hybrid") as dense:
            ensure_searchable(store)
            vector = dense()
        np.testing.assert_allclose(vector, embedder.embed_query("daily revenue per shop"), atol=1e-6)
        assert order == ["runtime imported"]

        def broken() -> Any:
            raise EmbeddingError("the model is missing", "reinstall it")

        with query_vector_aside(broken, "daily revenue", "hybrid") as dense, pytest.raises(EmbeddingError):
            dense()
        with query_vector_aside(broken, "daily revenue", "sparse") as dense:
            assert dense() is None  # a keyword search never loads the model
    finally:
        store.close()
