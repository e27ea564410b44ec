"""The index pipeline streams: its memory does not grow with the organisation (issue 8).

Measured with tracemalloc (Python allocations) over `run_index` with stand-in vectors and a store
that drops what it is given, so that only the pipeline's own memory is counted: the snapshot
reader, documents, diff, BM25, records and the upsert queue. The embedded store's memory grows with
the points it holds, as any database's does; docs/benchmarks.md reports it separately.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from keboola_vectorizer.embedding.base import EmbeddingUsage
from keboola_vectorizer.keboola.snapshot import Snapshot
from keboola_vectorizer.pipeline import iter_documents, run_index
from keboola_vectorizer.store.base import CollectionMeta, PointRecord

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def _gen_snapshot() -> Any:
    spec = importlib.util.spec_from_file_location("gen_snapshot", SCRIPTS / "gen_snapshot.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class StandIn:
    name = "local"
    id = "local/stand-in@8"
    dimension = 8

    def __init__(self) -> None:
        self.usage = EmbeddingUsage()

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        seeds = [int.from_bytes(hashlib.blake2b(t.encode(), digest_size=4).digest(), "little") for t in texts]
        vectors = np.array([np.random.default_rng(s).standard_normal(8) for s in seeds], dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


class DroppingStore:
    """A VectorStore that keeps nothing but a count."""

    name = "dropping"
    location = "memory"

    def __init__(self) -> None:
        self.points = 0

    def ensure(self, meta: CollectionMeta) -> None:
        return None

    def content_hashes(self, project_id: int | None = None) -> dict[str, str]:
        return {}

    def stored_hashes(self, project_id: int | None = None) -> dict[str, Any]:
        return {}

    def upsert(self, points: Sequence[PointRecord]) -> None:
        self.points += len(points)

    def delete(self, document_ids: Sequence[str]) -> None:
        return None

    def write_state(self, state: dict[str, Any]) -> None:
        return None


def _peak_bytes(snapshot: Path) -> tuple[int, int]:
    store = DroppingStore()
    tracemalloc.start()
    try:
        run_index(Snapshot(snapshot), store, StandIn(), batch_size=64)  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, store.points


def test_pipeline_memory_is_flat_from_one_to_five_organisations(tmp_path: Path, monkeypatch: Any) -> None:
    import keboola_vectorizer.pipeline as pipeline

    # The peak is the embed window plus the project that fills it, so it depends on how project
    # sizes happen to line up with the window; with a window of one project both organisations peak
    # on their largest project (the same one), and the peaks compare only what grows with the size.
    monkeypatch.setattr(pipeline, "EMBED_WINDOW", 1)
    gen = _gen_snapshot()
    small = gen.generate(tmp_path / "small", 2100)
    large = gen.generate(tmp_path / "large", 10500)
    assert abs(small - 2100) < 200 and abs(large - 10500) < 200
    _peak_bytes(tmp_path / "small")  # one-off caches (BM25 encoder, regexes) are not per document
    small_peak, small_points = _peak_bytes(tmp_path / "small")
    large_peak, large_points = _peak_bytes(tmp_path / "large")
    assert (small_points, large_points) == (small, large)
    assert large >= 4.5 * small
    # Five times the documents, at most 20% more memory: nothing is held per organisation.
    assert large_peak <= 1.2 * small_peak, (small_peak, large_peak)


def test_generated_snapshot_and_mutation(tmp_path: Path) -> None:
    gen = _gen_snapshot()
    count = gen.generate(tmp_path / "org", 3000)
    snapshot = Snapshot(tmp_path / "org")
    before = {d.id: d.content_hash for d in iter_documents(snapshot)}
    assert len(before) == count and abs(count - 3000) < 250
    assert json.loads((tmp_path / "org" / "generated.json").read_text())["documents"] == count
    changed = gen.mutate(tmp_path / "org", 0.01, tag="t1")
    after = {d.id: d.content_hash for d in iter_documents(Snapshot(tmp_path / "org"))}
    assert after.keys() == before.keys()
    assert sum(before[k] != after[k] for k in before) == changed == round(count * 0.01)
