"""How the embedded store lays out a shard: mapped tiers, and when it seals its appendable segment."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

import keboola_vectorizer.store.edge.page_cache as page_cache
import keboola_vectorizer.store.edge.shard_config as shard_config
from keboola_vectorizer.store.base import CollectionMeta, PointRecord, SparseVector
from keboola_vectorizer.store.edge import EdgeStore
from tests.test_cli import run_cli

META = CollectionMeta(embedder_id="test/random-384", dimension=384)  # segment caps are in KB: real sizes


def records(start: int, count: int) -> list[PointRecord]:
    rng = random.Random(start)
    return [
        PointRecord(
            document_id=f"9001/table/in.c-test.t{i}",
            dense=[rng.uniform(-1, 1) for _ in range(META.dimension)],
            sparse=SparseVector([i % 50, 50 + i % 7], [1.0, 0.5]),
            payload={"project_id": 9001, "kind": "table", "name": f"t{i}", "content_hash": str(i)},
        )
        for i in range(start, start + count)
    ]


def unsealed(store: EdgeStore) -> int:
    info = store._open().info()
    return 2 * info.points_count - info.indexed_vectors_count


def test_new_shards_map_every_tier_and_index_only_what_queries_use(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path)
    try:
        store.ensure(META)
        store.upsert(records(0, 3))
        config = json.loads((tmp_path / "keboola-metadata" / store.generation / "shard" / "edge_config.json")
                            .read_text())
        assert config["vectors"]["dense"]["memory"] == "cold"
        assert config["sparse_vectors"]["bm25"]["memory"] == "cold"
        assert config["hnsw_config"]["memory"] == "cold"
        assert config["payload_memory"] == "cold"
        assert config["optimizers"]["max_segment_size"] > 0
        indexed = store._open().info().payload_schema
        assert {"project_id", "kind", "table_id", "last_changed_at", "branch_kind"} <= set(indexed)
        assert not {"document_id", "content_hash", "indexed_at"} & set(indexed)
        # Read from payloads, never filtered on: their indexes would only slow every shard's open.
        assert not {"produced_by", "consumed_by", "component_type"} & set(indexed)
        assert all(str(info.params.memory) == "Memory.Cold" for info in indexed.values())
    finally:
        store.close()


def test_a_shard_with_indexes_no_query_uses_drops_them_on_its_next_write(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    retired = ("produced_by", "consumed_by", "component_type")
    monkeypatch.setattr(shard_config, "KEYWORD_FIELDS", (*shard_config.KEYWORD_FIELDS, *retired))
    store = EdgeStore(tmp_path)
    try:
        store.ensure(META)
        store.upsert(records(0, 3))
        assert set(retired) <= set(store._open().info().payload_schema)
    finally:
        store.close()
    monkeypatch.undo()
    store = EdgeStore(tmp_path)
    try:
        assert set(retired) <= set(store._open().info().payload_schema)  # a read changes nothing
        store.upsert(records(3, 2))
        indexed = set(store._open().info().payload_schema)
        assert not set(retired) & indexed and set(shard_config.indexed_fields()) <= indexed
        assert store.count() == 5
    finally:
        store.close()


def test_a_shard_built_without_the_branch_index_gains_it_on_its_next_write(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # Every default search filters out dev-branch points by `branch_kind`; unindexed, that filter makes
    # Qdrant scan all vectors instead of walking the graph.
    older = tuple(f for f in shard_config.KEYWORD_FIELDS if f != "branch_kind")
    monkeypatch.setattr(shard_config, "KEYWORD_FIELDS", older)
    store = EdgeStore(tmp_path)
    try:
        store.ensure(META)
        store.upsert(records(0, 3))
        assert "branch_kind" not in store._open().info().payload_schema
    finally:
        store.close()
    monkeypatch.undo()
    store = EdgeStore(tmp_path)
    try:
        store.upsert(records(3, 2))
        assert "branch_kind" in store._open().info().payload_schema
        assert store.count() == 5
    finally:
        store.close()


def test_small_runs_add_up_until_they_are_worth_sealing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shard_config, "SEAL_POINTS", 1000)
    monkeypatch.setattr(shard_config, "MIN_SEAL_POINTS", 30)
    first = EdgeStore(tmp_path)
    try:
        first.ensure(META)
        first.upsert(records(0, 20))
        assert not first.should_optimize()  # 20 unsealed: below the minimum, left appendable
        assert unsealed(first) == 20
    finally:
        first.close()
    second = EdgeStore(tmp_path)  # a later run: counts what the earlier one left, not only its own
    try:
        second.upsert(records(20, 15))
        assert second.should_optimize()
        second.optimize()
        assert unsealed(second) == 0
        assert second.count() == 35
        assert second.content_hashes()["9001/table/in.c-test.t7"] == "7"
    finally:
        second.close()


def test_writes_seal_every_seal_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shard_config, "SEAL_POINTS", 25)
    monkeypatch.setattr(shard_config, "MIN_SEAL_POINTS", 5)
    store = EdgeStore(tmp_path)
    try:
        store.ensure(META)
        for start in range(0, 60, 10):
            store.upsert(records(start, 10))
        # Sealed after 30 and 60 points; segments stay apart (capped near SEAL_POINTS).
        info = store._open().info()
        assert unsealed(store) == 0
        assert info.segments_count >= 3
        assert store.count() == 60
    finally:
        store.close()


def test_a_read_only_close_can_keep_the_shard_for_the_rest_of_the_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = EdgeStore(tmp_path)
    writer.ensure(META)
    writer.upsert(records(0, 10))
    writer.close()
    monkeypatch.setattr(page_cache, "_keeping_read_shards", True)
    monkeypatch.setattr(page_cache, "_kept_shards", {})
    reader = EdgeStore(tmp_path)
    assert reader.count() == 10
    reader.close()
    assert len(page_cache._kept_shards) == 1  # left open: a close would evict its pages from the OS cache
    again = EdgeStore(tmp_path)  # a later open in the process reuses it (the shard holds its WAL lock)
    try:
        again.upsert(records(10, 5))
        assert not page_cache._kept_shards
    finally:
        again.close()  # it wrote: closed for real
    assert not page_cache._kept_shards
    final = EdgeStore(tmp_path)
    monkeypatch.setattr(page_cache, "_keeping_read_shards", False)
    try:
        assert final.count() == 15
    finally:
        final.close()


def _resident_bytes(files: list[Path]) -> int:
    result = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", *map(str, files)],
                            capture_output=True, text=True, check=True)
    return sum(int(value) for value in result.stdout.split())


@pytest.mark.skipif(shutil.which("fincore") is None, reason="fincore (util-linux) is not installed")
def test_search_leaves_the_index_in_the_os_page_cache(full_index_copy: Path) -> None:
    # The dense vectors and the payloads: files Qdrant evicts when a cold shard closes.
    files = [path for path in full_index_copy.rglob("*") if path.is_file()
             and ("vector_storage-dense" in path.parts or "payload_storage" in path.parts)
             and path.name.startswith(("chunk_", "matrix", "page_"))]
    assert files
    for path in files:
        path.read_bytes()  # what an index run or an earlier search leaves cached
    assert _resident_bytes(files) > 0
    result = run_cli("search", "customer orders", "--json", env={"QDRANT_PATH": str(full_index_copy)})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)
    # Closing the shard would have evicted its cold files (Qdrant drops them from the page cache).
    assert _resident_bytes(files) > 0
