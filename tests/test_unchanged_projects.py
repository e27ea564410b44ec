"""An index run skips a project whose snapshot files, document builders and embedder are unchanged
since the store took its documents, and reads every other one; nothing it skips may be stale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keboola_vectorizer.keboola import snapshot_digest
from keboola_vectorizer.keboola.snapshot import Snapshot
from keboola_vectorizer.pipeline import run_index
from keboola_vectorizer.stages import run_embed_stage, run_upsert_stage
from keboola_vectorizer.store.base import SOURCES_KEY
from keboola_vectorizer.store.edge import EdgeStore
from tests.mini_org import BAKERY, REVENUE_TABLE, WEATHER, write_mini_org


class LoadCounting(Snapshot):
    """The real snapshot reader, counting which projects are read."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.loaded: list[int] = []

    def load(self, entry):  # type: ignore[no-untyped-def]
        self.loaded.append(entry.id)
        return super().load(entry)


def _describe_revenue(root: Path, description: str) -> None:
    path = root / str(BAKERY) / "tables.json"
    tables = json.loads(path.read_text())
    table = next(t for t in tables if t["id"] == REVENUE_TABLE.rsplit("/", 1)[1])
    table["metadata"] = [{"key": "KBC.description", "value": description, "provider": "user"}]
    path.write_text(json.dumps(tables))


@pytest.fixture
def indexed(tmp_path: Path, embedder):
    root = write_mini_org(tmp_path / "snap")
    store = EdgeStore(tmp_path / "q")
    first = run_index(Snapshot(root), store, embedder)
    yield root, store, first
    store.close()


def test_an_unchanged_project_is_not_read_at_all(indexed, embedder) -> None:
    root, store, first = indexed
    snapshot = LoadCounting(root)
    summary = run_index(snapshot, store, embedder, validate=True)
    assert snapshot.loaded == []  # neither checked nor built into documents
    assert summary.projects_unchanged == summary.projects == 2
    assert summary.extracted == summary.skipped == first.extracted
    assert summary.embedded == summary.upserted == summary.deleted == summary.payload_updated == 0
    assert summary.per_project[str(BAKERY)]["skipped"] == first.per_project[str(BAKERY)]["extracted"]


def test_a_changed_project_is_read_and_stored_as_a_fresh_index_would_hold_it(indexed, tmp_path, embedder) -> None:
    root, store, _ = indexed
    _describe_revenue(root, "Takings of every shop, summed per day, for the weekly till report.")
    snapshot = LoadCounting(root)
    summary = run_index(snapshot, store, embedder)
    assert snapshot.loaded == [BAKERY]
    assert summary.projects_unchanged == 1
    assert summary.embedded >= 1
    fresh = EdgeStore(tmp_path / "fresh")
    try:
        run_index(Snapshot(root), fresh, embedder)
        assert store.content_hashes() == fresh.content_hashes()
    finally:
        fresh.close()
    # and the next run skips both again
    again = run_index(LoadCounting(root), store, embedder)
    assert again.projects_unchanged == 2


def test_changed_document_builders_read_every_project(indexed, embedder, monkeypatch) -> None:
    root, store, _ = indexed
    monkeypatch.setattr(snapshot_digest, "builder_version", lambda: "builders of another release")
    snapshot = LoadCounting(root)
    summary = run_index(snapshot, store, embedder)
    assert sorted(snapshot.loaded) == sorted([BAKERY, WEATHER])
    assert summary.projects_unchanged == 0
    assert summary.embedded == 0  # the same documents: read again, nothing to embed


def test_points_lost_since_the_last_run_are_stored_again(indexed, embedder) -> None:
    root, store, first = indexed
    store.delete([REVENUE_TABLE])
    summary = run_index(LoadCounting(root), store, embedder)
    assert summary.projects_unchanged == 1
    assert summary.embedded == 1
    assert [hit.document_id for hit in store.retrieve([REVENUE_TABLE])] == [REVENUE_TABLE]
    assert store.count() == first.upserted


def test_a_run_that_fails_half_way_leaves_its_projects_to_be_read_again(indexed, embedder) -> None:
    """Changed files, a run that dies after writing, then the old files back: the half-written
    project must not pass as unchanged."""
    root, store, _ = indexed
    original = (root / str(BAKERY) / "tables.json").read_bytes()
    _describe_revenue(root, "Takings of every shop, summed per day, for the weekly till report.")

    def fail_after_first_write(count: int) -> None:
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        run_index(Snapshot(root), store, embedder, before_upsert=fail_after_first_write)
    assert str(BAKERY) not in store.read_state()[SOURCES_KEY]
    assert str(WEATHER) in store.read_state()[SOURCES_KEY]
    (root / str(BAKERY) / "tables.json").write_bytes(original)
    snapshot = LoadCounting(root)
    summary = run_index(snapshot, store, embedder)
    assert snapshot.loaded == [BAKERY]
    assert summary.projects_unchanged == 1


def test_a_rebuild_reads_everything_and_records_afresh(indexed, embedder) -> None:
    root, store, _ = indexed
    snapshot = LoadCounting(root)
    summary = run_index(snapshot, store, embedder, rebuild=True, validate=True)
    assert summary.projects_unchanged == 0
    assert sorted(set(snapshot.loaded)) == sorted([BAKERY, WEATHER])
    assert set(store.read_state()[SOURCES_KEY]) == {str(BAKERY), str(WEATHER)}
    assert run_index(Snapshot(root), store, embedder).projects_unchanged == 2


def test_the_upsert_stage_and_a_restore_make_the_next_run_read_again(indexed, tmp_path, embedder) -> None:
    root, store, _ = indexed
    saved = store.create_snapshot()
    run_embed_stage(Snapshot(root), store, embedder, tmp_path / "vectors.jsonl")
    run_upsert_stage(Snapshot(root), store, tmp_path / "vectors.jsonl")
    assert store.read_state()[SOURCES_KEY] == {}
    assert run_index(Snapshot(root), store, embedder).projects_unchanged == 0
    assert run_index(Snapshot(root), store, embedder).projects_unchanged == 2
    store.restore_snapshot(saved.name)
    assert SOURCES_KEY not in store.read_state()
    assert run_index(Snapshot(root), store, embedder).projects_unchanged == 0


def test_the_digest_follows_the_files_bytes(tmp_path: Path) -> None:
    root = write_mini_org(tmp_path / "snap")
    entry = next(e for e in Snapshot(root).projects if e.id == WEATHER)
    before = snapshot_digest.project_digest(root, entry, "local/model")
    assert snapshot_digest.project_digest(root, entry, "local/model") == before
    assert snapshot_digest.project_digest(root, entry, "openai/model") != before
    components = root / str(WEATHER) / "components.json"
    components.write_text(components.read_text() + " ")
    assert snapshot_digest.project_digest(root, entry, "local/model") != before
