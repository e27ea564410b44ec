"""The ONNX Runtime path of the local model gives the PyTorch vectors, and a query needs no torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from keboola_vectorizer.embedding import onnx_backend
from keboola_vectorizer.embedding.local import SentenceTransformerEmbedder, bundled_model_path
from keboola_vectorizer.keboola.snapshot import Snapshot
from keboola_vectorizer.pipeline import iter_documents
from tests.conftest import DEMO_ORG

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

QUERIES = [
    "customer churn",
    "Which table holds revenue by country and month?",
    "where do we load Google Analytics sessions",
    "snowflake transformation joining orders and customers",
    "email",
    "Kde jsou data o zákaznících?",  # not English: the tokenizer still has to agree
    "x " * 400,  # longer than the model's 256 tokens: truncation has to agree
]


@pytest.fixture(scope="module")
def exported() -> Path:
    return onnx_backend.export(bundled_model_path())


@pytest.fixture(scope="module")
def torch_model():
    onnx_backend.quiet_offline_env()
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(bundled_model_path()), device="cpu")


def _torch_vectors(model, texts: list[str]) -> np.ndarray:
    return np.asarray(model.encode(texts, normalize_embeddings=True, convert_to_numpy=True,
                                   show_progress_bar=False), dtype=np.float32)


def test_query_vectors_match_pytorch(exported: Path, torch_model) -> None:
    encoder = onnx_backend.OnnxEncoder(bundled_model_path(), exported)
    expected = _torch_vectors(torch_model, QUERIES)
    for query, reference in zip(QUERIES, expected, strict=True):
        vector = encoder.encode([query])[0]  # one at a time, as a search embeds its query
        assert vector.shape == (384,) and vector.dtype == np.float32
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-4
        assert float(vector @ reference) >= 0.999, query


def test_document_vectors_match_pytorch_in_input_order(exported: Path, torch_model) -> None:
    documents = list(iter_documents(Snapshot(DEMO_ORG)))
    by_kind: dict[str, list[str]] = {}
    for document in documents:
        by_kind.setdefault(document.kind, []).append(document.text)
    texts = [text for kind in sorted(by_kind) for text in by_kind[kind][:12]]  # short and long ones mixed
    encoder = onnx_backend.OnnxEncoder(bundled_model_path(), exported)
    cosines = (encoder.encode(texts) * _torch_vectors(torch_model, texts)).sum(axis=1)
    assert float(cosines.min()) >= 0.999


def test_embedder_uses_onnx_by_default_and_torch_on_request(exported: Path, monkeypatch) -> None:
    from keboola_vectorizer.config import load_settings
    from keboola_vectorizer.embedding.base import create_embedder

    monkeypatch.delenv("KEBOOLA_VECTORIZER_EMBEDDING_BACKEND", raising=False)
    default = create_embedder(load_settings().embedding_settings(provider="local"))
    query = default.embed_query("customer churn")
    assert default.backend == "onnx"
    monkeypatch.setenv("KEBOOLA_VECTORIZER_EMBEDDING_BACKEND", "torch")
    forced = create_embedder(load_settings().embedding_settings(provider="local"))
    assert isinstance(forced, SentenceTransformerEmbedder)
    assert float(forced.embed_query("customer churn") @ query) >= 0.999
    assert forced.backend == "torch"
    assert forced.id == default.id  # one vector space: an index built by either serves the other


def test_unsupported_model_shape_stays_on_pytorch(tmp_path: Path) -> None:
    (tmp_path / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
    ]))
    with pytest.raises(onnx_backend.OnnxUnavailable):
        onnx_backend.model_shape(tmp_path)
    assert onnx_backend.cached_export(tmp_path) is None


def test_fingerprint_follows_the_model_files(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    first = onnx_backend.fingerprint(tmp_path)
    (tmp_path / "config.json").write_text('{"hidden_size": 384}')
    assert onnx_backend.fingerprint(tmp_path) != first


def test_exports_of_gone_or_reinstalled_models_are_pruned(tmp_path: Path) -> None:
    live = tmp_path / "models" / "live"
    reinstalled = tmp_path / "models" / "reinstalled"
    for model in (live, reinstalled):
        model.mkdir(parents=True)
        (model / "config.json").write_text("{}")
    cache = tmp_path / "onnx"

    def exported(name: str, model: Path, fingerprint: str) -> Path:
        folder = cache / name
        folder.mkdir(parents=True)
        (folder / "model.onnx").write_bytes(b"onnx")
        (folder / "manifest.json").write_text(json.dumps({"model": str(model), "fingerprint": fingerprint}))
        return folder

    kept = exported("live-1", live, onnx_backend.fingerprint(live))
    old_install = exported("reinstalled-1", reinstalled, onnx_backend.fingerprint(reinstalled))
    (reinstalled / "config.json").write_text('{"hidden_size": 384}')  # a reinstall changes the files
    gone = exported("gone-1", tmp_path / "models" / "deleted-venv", "0123456789abcdef")
    in_progress = cache / ".export-abc"
    in_progress.mkdir()
    unreadable = cache / "odd-1"
    unreadable.mkdir()

    removed = onnx_backend.prune_stale_exports(cache)

    assert sorted(removed) == sorted([old_install, gone])
    assert kept.is_dir() and in_progress.is_dir() and unreadable.is_dir()
    assert not old_install.exists() and not gone.exists()


def test_a_query_process_never_imports_torch(exported: Path) -> None:
    code = (
        "import sys\n"
        "from keboola_vectorizer.embedding.local import SentenceTransformerEmbedder\n"
        "from keboola_vectorizer.vectors import bm25 as sparse\n"
        "from keboola_vectorizer.store.edge import EdgeStore\n"
        "v = SentenceTransformerEmbedder().embed_query('customer churn')\n"
        "sparse.encode_query('customer churn')\n"
        "print(len(v), sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["384", "[]"], out.stderr
