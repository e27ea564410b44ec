"""No repeated work: a distinct text reaches the model once per run, and an unchanged rerun loads no
model and reads only the stored hashes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from keboola_vectorizer.embed_once import EmbedOnce
from keboola_vectorizer.keboola.snapshot import Snapshot
from keboola_vectorizer.pipeline import iter_documents, run_index
from keboola_vectorizer.stages import run_embed_stage
from keboola_vectorizer.store.edge import EdgeStore
from tests.mini_org import WEATHER, write_mini_org

TWIN = 703  # a copy of the weather project under another id: every text of it appears twice


class CountingEmbedder:
    """The real model, counting every text it is asked to embed."""

    def __init__(self, inner) -> None:
        self.inner, self.texts = inner, Counter()

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def embed_documents(self, texts):
        self.texts.update(texts)
        return self.inner.embed_documents(texts)


def _org_with_twin(root: Path) -> Path:
    snapshot = write_mini_org(root)
    shutil.copytree(snapshot / str(WEATHER), snapshot / str(TWIN))
    projects = json.loads((snapshot / "projects.json").read_text())
    twin = dict(next(p for p in projects if p["id"] == WEATHER), id=TWIN)
    (snapshot / "projects.json").write_text(json.dumps([*projects, twin]))
    tokens = json.loads((snapshot / str(TWIN) / "tokens-verify.json").read_text())
    tokens["owner"]["id"] = TWIN
    (snapshot / str(TWIN) / "tokens-verify.json").write_text(json.dumps(tokens))
    return snapshot


def test_each_distinct_text_is_embedded_once_and_fanned_out(tmp_path: Path, embedder) -> None:
    snapshot = Snapshot(_org_with_twin(tmp_path / "snap"))
    documents = list(iter_documents(snapshot))
    distinct = Counter(d.text for d in documents)
    assert len(distinct) < len(documents)  # the twin really repeats texts
    counting = CountingEmbedder(embedder)
    store = EdgeStore(tmp_path / "q")
    try:
        summary = run_index(snapshot, store, counting, batch_size=8)
        assert store.count() == summary.upserted == len(documents)
        assert set(counting.texts) == set(distinct)
        assert max(counting.texts.values()) == 1, counting.texts.most_common(1)
        # Both copies of a repeated text carry the same vector.
        weather_id = next(d.id for d in documents if d.id.startswith(f"{WEATHER}/table/"))
        twin_id = weather_id.replace(f"{WEATHER}/", f"{TWIN}/", 1)
        hits = {h.document_id: h.payload["_vectors"] for h in store.retrieve([weather_id, twin_id], with_vectors=True)}
        assert hits[weather_id] == hits[twin_id]
    finally:
        store.close()


def test_embed_stage_embeds_a_repeated_text_once(tmp_path: Path, embedder) -> None:
    snapshot = Snapshot(_org_with_twin(tmp_path / "snap"))
    counting = CountingEmbedder(embedder)
    run_embed_stage(snapshot, None, counting, tmp_path / "vectors.jsonl", batch_size=8)
    assert max(counting.texts.values()) == 1
    rows = (tmp_path / "vectors.jsonl").read_text().splitlines()[1:]
    assert len(rows) == len(list(iter_documents(snapshot)))


def test_memory_across_calls_is_bounded_and_still_correct(embedder) -> None:
    counting = CountingEmbedder(embedder)
    once = EmbedOnce(counting, memory=2)
    first = once.embed(["alpha", "beta", "alpha", "gamma"])
    assert counting.texts == Counter({"alpha": 1, "beta": 1, "gamma": 1})
    np.testing.assert_allclose(first[0], first[2])
    np.testing.assert_allclose(first, embedder.embed_documents(["alpha", "beta", "alpha", "gamma"]), atol=1e-5)
    once.embed(["gamma", "delta"])  # gamma is remembered; beta was forgotten
    once.embed(["beta"])
    assert counting.texts == Counter({"alpha": 1, "beta": 2, "gamma": 1, "delta": 1})
    assert len(once._recent) == 2


class ReadRecordingStore:
    """An Edge store that records which of its reads a run makes."""

    def __init__(self, inner: EdgeStore) -> None:
        self.inner, self.calls = inner, Counter()

    def __getattr__(self, name: str):
        attribute = getattr(self.inner, name)
        if callable(attribute):
            def recorded(*args, **kwargs):
                self.calls[name] += 1
                return attribute(*args, **kwargs)
            return recorded
        return attribute


def test_unchanged_rerun_reads_only_hashes_and_embeds_nothing(tmp_path: Path, embedder) -> None:
    """A project whose files changed is diffed on its stored hashes alone; an unchanged one is not even
    diffed (tests/test_unchanged_projects.py)."""
    root = write_mini_org(tmp_path / "snap")
    snapshot = Snapshot(root)
    store = EdgeStore(tmp_path / "q")
    try:
        run_index(snapshot, store, embedder)
        tables = root / str(WEATHER) / "tables.json"
        tables.write_text(tables.read_text() + "\n")  # new bytes, the same documents
        recording = ReadRecordingStore(store)
        counting = CountingEmbedder(embedder)
        summary = run_index(snapshot, recording, counting)
    finally:
        store.close()
    assert summary.embedded == summary.upserted == 0
    assert summary.projects_unchanged == 1
    assert not counting.texts
    reads = {"scroll", "retrieve", "search", "hybrid_search", "counts_by", "query"}
    assert not reads & set(recording.calls), recording.calls
    assert recording.calls["stored_hashes"] == 1  # the weather project only


def test_unchanged_rerun_does_not_load_the_model(tmp_path: Path) -> None:
    """The second `index` of the same snapshot, as a process: neither runtime is even imported."""
    snapshot = write_mini_org(tmp_path / "snap")
    env = {**os.environ, "QDRANT_PATH": str(tmp_path / "q"), "HF_HUB_OFFLINE": "1"}
    first = subprocess.run([sys.executable, "-m", "keboola_vectorizer.cli", "index", "--snapshot", str(snapshot)],
                           env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    probe = ("import sys; from keboola_vectorizer.cli.runner import run; "
             f"code = run(['index', '--snapshot', {str(snapshot)!r}]); "
             "print('MODULES', code, 'onnxruntime' in sys.modules, 'torch' in sys.modules, "
             "'sentence_transformers' in sys.modules)")
    second = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    line = next(x for x in second.stdout.splitlines() if x.startswith("MODULES"))
    assert line == "MODULES 0 False False False", line


def test_text_the_model_never_reads_is_cut_before_tokenizing(tmp_path: Path, embedder) -> None:
    """A 12k-character script is cut before the tokenizer sees it, and the vector is the one of the
    whole text (the window ends long before the cut)."""
    from keboola_vectorizer.embedding.onnx_backend import CHARS_PER_PIECE_CAP

    embedder.embed_documents(["warm up"])
    encoder = embedder._onnx
    assert encoder is not None
    long_text = "Transformation daily revenue per shop.\nCode:\n" + \
        "SELECT store_code, SUM(total) FROM receipts;\n" * 280
    assert len(long_text) > 256 * CHARS_PER_PIECE_CAP * 3
    seen: list[int] = []
    original = encoder._tokenizer

    class Recording:
        def __getattr__(self, name: str):
            return getattr(original, name)

        def encode_batch(self, texts):
            seen.extend(len(t) for t in texts)
            return original.encode_batch(texts)

    encoder._tokenizer = Recording()
    try:
        cut = encoder.encode([long_text])
        encoder._char_cap = 10**9
        whole = encoder.encode([long_text])
    finally:
        encoder._tokenizer = original
        encoder._char_cap = 256 * CHARS_PER_PIECE_CAP
    assert seen == [256 * CHARS_PER_PIECE_CAP, len(long_text)]
    np.testing.assert_allclose(cut, whole, atol=1e-6)
