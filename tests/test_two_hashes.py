"""Two hashes: the text hash decides embedding, the content hash a payload update in place.

A scheduled data load changes every table's row count, size and import dates; none of that is in
the embedded text, so the next run embeds nothing and the stored payloads show the new values.
Indexes written before text hashes existed are embedded once, then behave the same.
"""

from __future__ import annotations

import json
from pathlib import Path

from keboola_vectorizer.keboola.documents import project_documents
from keboola_vectorizer.keboola.snapshot import Snapshot
from keboola_vectorizer.pipeline import run_index
from keboola_vectorizer.stages import run_embed_stage, run_upsert_stage
from keboola_vectorizer.store.base import ALL_BRANCHES, SearchFilters
from keboola_vectorizer.store.edge import EdgeStore
from tests.conftest import SMALL, copy_snapshot

LOADED_AT = "2031-05-04T03:02:01+0200"


def _load_every_table(snapshot_dir: Path) -> dict[str, dict[str, object]]:
    """What a data load changes on every table of every project; returns table doc id -> new values."""
    changed: dict[str, dict[str, object]] = {}
    for project in json.loads((snapshot_dir / "projects.json").read_text()):
        tables_file = snapshot_dir / str(project["id"]) / "tables.json"
        tables = json.loads(tables_file.read_text())
        for position, table in enumerate(tables):
            table["rowsCount"] = int(table.get("rowsCount") or 0) + 1000 + position
            table["dataSizeBytes"] = int(table.get("dataSizeBytes") or 0) + 4096
            table["lastImportDate"] = LOADED_AT
            table["lastChangeDate"] = LOADED_AT
            changed[f"{project['id']}/table/{table['id']}"] = {
                "rows_count": table["rowsCount"], "data_size_bytes": table["dataSizeBytes"]}
        tables_file.write_text(json.dumps(tables))
    return changed


def test_data_load_embeds_nothing_and_updates_payloads(tmp_path: Path, full_index_copy: Path, embedder) -> None:
    snapshot_dir = copy_snapshot(tmp_path / "snap")
    loaded = _load_every_table(snapshot_dir)
    store = EdgeStore(full_index_copy)
    try:
        before = {h.document_id: h.payload["_vectors"]
                  for h in store.retrieve(list(loaded)[:5], with_vectors=True)}
        summary = run_index(Snapshot(snapshot_dir), store, embedder)
        assert (summary.embedded, summary.upserted, summary.deleted) == (0, 0, 0)
        assert summary.payload_updated == len(loaded)
        stored = {h.document_id: h for h in store.retrieve(list(loaded), with_vectors=True)}
        assert set(stored) == set(loaded)
        for doc_id, values in loaded.items():
            payload = stored[doc_id].payload
            assert payload["rows_count"] == values["rows_count"]
            assert payload["data_size_bytes"] == values["data_size_bytes"]
            assert payload["last_import_at"] == LOADED_AT and payload["last_changed_at"] == LOADED_AT
        for doc_id, vectors in before.items():
            assert stored[doc_id].payload["_vectors"] == vectors  # not re-embedded
        # Filters keep working on the rewritten payloads, and a second run has nothing to do.
        assert store.count(SearchFilters(kinds=["table"], branches=[ALL_BRANCHES])) == len(loaded)
        again = run_index(Snapshot(snapshot_dir), store, embedder)
        assert (again.embedded, again.payload_updated) == (0, 0)
    finally:
        store.close()


def test_index_without_text_hashes_embeds_once(tmp_path: Path, embedder) -> None:
    snapshot = Snapshot(copy_snapshot(tmp_path / "snap", [SMALL]))
    store = EdgeStore(tmp_path / "qdrant")
    try:
        first = run_index(snapshot, store, embedder)
        # An index written by an earlier version: points carry a content hash but no text hash.
        old = {h.document_id: {k: v for k, v in h.payload.items() if k != "text_hash"} for h in store.scroll()}
        store.overwrite_payload(old)
        store.write_state({})  # nor had it recorded its projects' sources
        assert all(not hashes.text_hash for hashes in store.stored_hashes().values())
        migrated = run_index(snapshot, store, embedder)
        assert migrated.embedded == first.embedded == first.extracted
        assert all(hashes.text_hash for hashes in store.stored_hashes().values())
        assert run_index(snapshot, store, embedder).embedded == 0
    finally:
        store.close()


def test_upsert_stage_updates_payloads_without_vectors(tmp_path: Path, embedder) -> None:
    snapshot_dir = copy_snapshot(tmp_path / "snap", [SMALL])
    snapshot = Snapshot(snapshot_dir)
    store = EdgeStore(tmp_path / "qdrant")
    try:
        run_index(snapshot, store, embedder)
        loaded = _load_every_table(snapshot_dir)
        vectors = tmp_path / "vectors.jsonl"
        assert run_embed_stage(Snapshot(snapshot_dir), store, embedder, vectors).embedded == 0
        summary = run_upsert_stage(Snapshot(snapshot_dir), store, vectors)
        assert (summary.upserted, summary.payload_updated) == (0, len(loaded))
        hit = store.retrieve([next(iter(loaded))])[0]
        assert hit.payload["rows_count"] == next(iter(loaded.values()))["rows_count"]
    finally:
        store.close()


def test_text_hash_ignores_payload_only_fields(tmp_path: Path) -> None:
    snapshot_dir = copy_snapshot(tmp_path / "snap", [SMALL])
    before = {d.id: d for p in Snapshot(snapshot_dir).iter_projects() for d in project_documents(p)}
    _load_every_table(snapshot_dir)
    after = {d.id: d for p in Snapshot(snapshot_dir).iter_projects() for d in project_documents(p)}
    tables = [doc_id for doc_id in after if "/table/" in doc_id]
    assert tables
    for doc_id in tables:
        assert after[doc_id].text_hash == before[doc_id].text_hash
        assert after[doc_id].content_hash != before[doc_id].content_hash
