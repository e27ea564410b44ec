"""The warm search engine over a real index of the small test organisation (tests/mini_org.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from keboola_vectorizer.config import load_settings
from keboola_vectorizer.engine import SearchEngine
from keboola_vectorizer.errors import ConfigError, EmptyIndexError
from keboola_vectorizer.keboola.snapshot import Snapshot
from keboola_vectorizer.pipeline import iter_documents, run_index
from keboola_vectorizer.search import SearchResult
from keboola_vectorizer.store.edge import EdgeStore
from tests.mini_org import BAKERY, REVENUE_QUESTION, REVENUE_TABLE, TRANSFORMATION, WEATHER, write_mini_org

ROOT = Path(__file__).resolve().parents[1]


def _engine(root: Path, embedder, **kwargs) -> SearchEngine:
    return SearchEngine(load_settings(qdrant_path=root), embedder_factory=lambda meta: embedder, **kwargs)


@pytest.fixture
def engine(mini_index: Path, embedder):
    with _engine(mini_index, embedder) as warm:
        yield warm


def test_search_answers_the_question_in_the_cli_shape(engine: SearchEngine) -> None:
    answer = engine.search(REVENUE_QUESTION, limit=5)
    ids = [r["id"] for r in answer["results"]]
    assert REVENUE_TABLE in ids
    assert set(answer["results"][0]) == set(SearchResult.__dataclass_fields__)
    assert answer["generation"] == engine.generation and answer["generation"].startswith("gen-")
    assert answer["index_age_s"] is not None and answer["index_age_s"] >= 0


def test_pages_do_not_overlap_and_has_more_is_honest(engine: SearchEngine) -> None:
    first = engine.search("shop sales", limit=3)
    second = engine.search("shop sales", limit=3, offset=3)
    whole = engine.search("shop sales", limit=6)
    assert first["has_more"] and len(first["results"]) == 3
    assert [r["id"] for r in first["results"] + second["results"]] == [r["id"] for r in whole["results"]]
    last = engine.search("shop sales", kinds="bucket", limit=10)
    assert not last["has_more"] and len(last["results"]) == 3


def test_filters_reach_the_store(engine: SearchEngine) -> None:
    tables = engine.search("readings", kinds=["table"], limit=20)["results"]
    assert tables and {r["kind"] for r in tables} == {"table"}
    weather = engine.search("temperature", project_ids="702", limit=20)["results"]
    assert weather and {r["project_id"] for r in weather} == {WEATHER}
    outputs = engine.search("revenue", stage="out", limit=20)["results"]
    assert outputs and all("/out.c-" in r["id"] for r in outputs)
    assert {r["bucket_id"] for r in engine.search("money", bucket_id="in.c-pos", limit=20)["results"]} == {"in.c-pos"}
    configs = engine.search("spreadsheet", component_id="keboola.wr-google-sheets", limit=5)["results"]
    assert [r["component_id"] for r in configs] == ["keboola.wr-google-sheets"]


@pytest.mark.parametrize("kwargs", [{"query": "  "}, {"query": "x", "mode": "fuzzy"}, {"query": "x", "kinds": "view"},
                                    {"query": "x", "stage": "middle"}, {"query": "x", "project_ids": "abc"},
                                    {"query": "x", "limit": 0}])
def test_bad_arguments_are_config_errors(engine: SearchEngine, kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        engine.search(**kwargs)


def test_get_objects_full_payloads_table_ids_and_unknown_ids(engine: SearchEngine) -> None:
    found, by_table_id, missing = engine.get_objects([REVENUE_TABLE, "in.c-pos.receipts", "701/table/in.c-pos.nope"])
    assert found["found"] and found["payload"]["columns"] == ["day", "store_code", "revenue_czk"]
    assert found["payload"]["produced_by"] == [TRANSFORMATION]
    assert by_table_id["found"] and by_table_id["id"] == f"{BAKERY}/table/in.c-pos.receipts"
    assert not missing["found"] and "in.c-pos.nope" in missing["error"]


def test_lineage_directions(engine: SearchEngine) -> None:
    both = engine.lineage("out.c-sales.daily_revenue")
    up = {n["id"] for n in both["upstream"]}
    assert {TRANSFORMATION, f"{BAKERY}/table/in.c-pos.receipts", f"{BAKERY}/table/in.c-pos.stores"} <= up
    assert [n["id"] for n in both["downstream"]] == [f"{BAKERY}/configuration/keboola.wr-google-sheets/6001"]
    down = engine.lineage(REVENUE_TABLE, direction="downstream")
    assert down["upstream"] == [] and down["downstream"] == both["downstream"]
    deeper = engine.lineage("in.c-pos.receipts", direction="downstream", depth=2)
    assert f"{BAKERY}/configuration/keboola.wr-google-sheets/6001" in {n["id"] for n in deeper["downstream"]}
    with pytest.raises(ConfigError):
        engine.lineage("out.c-none.nothing")
    with pytest.raises(ConfigError):
        engine.lineage(REVENUE_TABLE, direction="sideways")


def test_similar_leaves_itself_out_and_filters(engine: SearchEngine) -> None:
    answer = engine.similar(REVENUE_TABLE, kinds="table", limit=3)
    ids = [r["id"] for r in answer["results"]]
    assert REVENUE_TABLE not in ids and len(ids) == 3 and all("/table/" in i for i in ids)
    assert engine.similar("out.c-sales.daily_revenue", limit=2)["document_id"] == REVENUE_TABLE
    with pytest.raises(ConfigError):
        engine.similar("701/table/in.c-pos.nope")


def test_status_counts_match_the_documents(engine: SearchEngine, mini_snapshot: Path) -> None:
    documents = list(iter_documents(Snapshot(mini_snapshot)))
    status = engine.status()
    assert status["exists"] and status["points"] == len(documents)
    assert status["by_project"] == {str(BAKERY): sum(d.id.startswith("701/") for d in documents),
                                    str(WEATHER): sum(d.id.startswith("702/") for d in documents)}
    assert status["model"].startswith("local/") and status["last_run"]["embedded"] == len(documents)


def test_missing_index_is_an_error_naming_the_fix(tmp_path: Path, embedder) -> None:
    with _engine(tmp_path / "nothing", embedder) as empty:
        assert empty.status()["exists"] is False and empty.generation is None
        with pytest.raises(EmptyIndexError, match="keboola-vectorizer index"):
            empty.search("anything")
        with pytest.raises(EmptyIndexError):
            empty.get_objects([REVENUE_TABLE])


def test_new_generations_are_picked_up_without_restart(mini_index_copy: Path, tmp_path: Path, embedder) -> None:
    with _engine(mini_index_copy, embedder, refresh_s=0, settle_s=0) as warm:
        first = warm.generation
        assert warm.search("wind speed per station", limit=3)["results"][0]["id"] != f"{WEATHER}/table/in.c-meteo.wind"
        # An incremental run writes the real store while the engine is serving it.
        changed = write_mini_org(tmp_path / "changed", extra_table="in.c-meteo.wind")
        store = EdgeStore(mini_index_copy)
        try:
            summary = run_index(Snapshot(changed), store, embedder)
        finally:
            store.close()
        assert summary.embedded >= 1
        answer = warm.search("wind speed per station", limit=3)
        assert answer["results"][0]["id"] == f"{WEATHER}/table/in.c-meteo.wind"
        second = answer["generation"]
        assert second != first and second.split("+")[0] == first.split("+")[0]
        # A rebuild switches CURRENT to a new generation directory.
        store = EdgeStore(mini_index_copy)
        try:
            run_index(Snapshot(changed), store, embedder, rebuild=True)
        finally:
            store.close()
        assert warm.generation.split("+")[0] != first.split("+")[0]
        assert warm.status()["points"] == len(list(iter_documents(Snapshot(changed))))
        assert warm.get_objects([f"{WEATHER}/table/in.c-meteo.wind"])[0]["found"]


def test_generation_is_checked_at_most_every_refresh_s(mini_index_copy: Path, tmp_path: Path, embedder) -> None:
    with _engine(mini_index_copy, embedder, refresh_s=3600, settle_s=0) as warm:
        first = warm.generation
        store = EdgeStore(mini_index_copy)
        try:
            run_index(Snapshot(write_mini_org(tmp_path / "changed", extra_table="in.c-meteo.wind")), store, embedder)
        finally:
            store.close()
        assert warm.generation == first  # not looked at yet
        assert warm.refresh() and warm.generation != first


def test_concurrent_callers_while_a_new_generation_arrives(mini_index_copy: Path, tmp_path: Path, embedder) -> None:
    with _engine(mini_index_copy, embedder, refresh_s=0, settle_s=0) as warm:
        changed = write_mini_org(tmp_path / "changed", extra_table="in.c-meteo.wind")

        def ask(i: int) -> list[str]:
            if i == 10:
                store = EdgeStore(mini_index_copy)
                try:
                    run_index(Snapshot(changed), store, embedder, rebuild=True)
                finally:
                    store.close()
            return [r["id"] for r in warm.search(REVENUE_QUESTION, limit=5)["results"]]

        with ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(pool.map(ask, range(24)))
        assert all(REVENUE_TABLE in ids for ids in answers)


def test_a_serving_engine_does_not_lock_out_other_processes(engine: SearchEngine, mini_index: Path) -> None:
    """An open Edge shard locks its write-ahead log; the engine serves a copy, so CLI commands still run."""
    assert engine.search(REVENUE_QUESTION, limit=1)["results"]
    env = {**os.environ, "QDRANT_PATH": str(mini_index), "HF_HUB_OFFLINE": "1"}
    env.pop("QDRANT_URL", None)
    done = subprocess.run([sys.executable, "-m", "keboola_vectorizer.cli", "status", "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["points"] == engine.status()["points"]


def test_server_backend_alias_switch_is_picked_up(mini_snapshot: Path, tmp_path: Path, embedder) -> None:
    """The server backend (qdrant-client's local mode): a rebuild moves the alias to a new physical
    collection; the engine notices and serves it."""
    from qdrant_client import QdrantClient

    from keboola_vectorizer.store.server import ServerStore

    client = QdrantClient(":memory:")
    writer = ServerStore(client=client)
    run_index(Snapshot(mini_snapshot), writer, embedder)
    engine = SearchEngine(load_settings(qdrant_path=tmp_path), embedder_factory=lambda meta: embedder,
                          server_store=ServerStore(client=client), refresh_s=0)
    with engine:
        first = engine.generation
        assert engine.backend == "server" and first and first.startswith("keboola-metadata")
        assert REVENUE_TABLE in [r["id"] for r in engine.search(REVENUE_QUESTION, limit=5)["results"]]
        run_index(Snapshot(write_mini_org(tmp_path / "changed", extra_table="in.c-meteo.wind")), writer, embedder,
                  rebuild=True)
        answer = engine.search("wind speed per station", limit=3)
        assert answer["generation"] != first and answer["results"][0]["id"] == f"{WEATHER}/table/in.c-meteo.wind"
        assert engine.status()["backend"] == "server"


def test_index_copies_live_beside_the_store_and_dead_readers_copies_go(mini_index_copy: Path, embedder) -> None:
    readers = mini_index_copy / ".readers"
    readers.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    leftover = readers / f"kv-reader-{dead.stdout.strip()}-abc"
    (leftover / "keboola-metadata").mkdir(parents=True)
    with _engine(mini_index_copy, embedder) as warm:
        assert warm.status()["exists"]
        assert not leftover.exists()
        assert [p.name.split("-")[2] for p in readers.iterdir()] == [str(os.getpid())]
    assert list(readers.iterdir()) == []


class _SlowQueries:
    """The real embedder, with query embedding slowed and watched: how many run at once."""

    def __init__(self, embedder) -> None:
        import threading

        self._embedder = embedder
        self._guard = threading.Lock()
        self.running = self.most = 0

    def embed_query(self, query: str):
        import time

        with self._guard:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(0.2)
            return self._embedder.embed_query(query)
        finally:
            with self._guard:
                self.running -= 1

    def __getattr__(self, name: str):
        return getattr(self._embedder, name)


def test_concurrent_searches_run_the_model_at_once_and_answer_as_alone(mini_index: Path, embedder) -> None:
    slow = _SlowQueries(embedder)
    queries = [REVENUE_QUESTION, "oven temperature", "shop sales", "weather readings"]
    with _engine(mini_index, slow) as warm:
        alone = [[r["id"] for r in warm.search(q, limit=5)["results"]] for q in queries]
        with ThreadPoolExecutor(4) as pool:
            together = list(pool.map(lambda q: [r["id"] for r in warm.search(q, limit=5)["results"]], queries))
    assert together == alone
    assert slow.most >= 2  # the store lock is not held across the model call


def test_a_local_read_does_not_change_the_served_stamp_but_a_write_does(mini_index_copy: Path, embedder) -> None:
    """A read-only shard load rewrites some files unchanged; a running service must not copy the
    index again for that, and must for a delete made directly through the store. (The first load
    after a write also folds the segments' tracker journals in: that one counts as the write's.)"""
    from keboola_vectorizer.edge_reader import edge_stamp
    from keboola_vectorizer.store.base import DEFAULT_COLLECTION

    def local_search() -> None:
        reading = subprocess.run(
            [sys.executable, "-m", "keboola_vectorizer.cli", "search", REVENUE_QUESTION, "--json"],
            env={**{k: v for k, v in os.environ.items() if not k.startswith(("KV_", "QDRANT_"))},
                 "QDRANT_PATH": str(mini_index_copy), "HF_HUB_OFFLINE": "1"},
            capture_output=True, text=True, timeout=300)
        assert reading.returncode == 0, reading.stderr

    collection_dir = mini_index_copy / DEFAULT_COLLECTION
    local_search()
    before = edge_stamp(collection_dir)
    local_search()
    assert edge_stamp(collection_dir) == before
    store = EdgeStore(mini_index_copy)
    try:
        store.delete([REVENUE_TABLE])
    finally:
        store.close()
    assert edge_stamp(collection_dir) != before
