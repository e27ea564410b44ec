"""int8 weights: quantized beside the fp32 export, recorded with the collection, a switch refused
without --rebuild like a model switch."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from keboola_vectorizer.cli.runner import run
from keboola_vectorizer.embedding.base import EmbeddingSettings, create_embedder
from keboola_vectorizer.embedding.onnx_backend import INT8_FILE
from keboola_vectorizer.errors import EmbeddingError
from keboola_vectorizer.store.edge import EdgeStore
from tests.mini_org import write_mini_org

FP32_ID = "local/all-MiniLM-L6-v2@384"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "KV_ONNX_WEIGHTS"}
    return {**env, "QDRANT_PATH": str(tmp_path / "q"), "HF_HUB_OFFLINE": "1", **extra}


def test_int8_embedder_is_another_vector_space_close_to_fp32() -> None:
    fp32 = create_embedder(EmbeddingSettings(provider="local"))
    int8 = create_embedder(EmbeddingSettings(provider="local", onnx_weights="int8"))
    assert fp32.id == FP32_ID
    assert int8.id == FP32_ID + "+int8"
    texts = ["daily revenue per shop", "oven temperature telemetry", "weather station wind speed"]
    a, b = fp32.embed_documents(texts), int8.embed_documents(texts)
    assert int8.backend == "onnx"
    exported = next(p.parent for p in _cache().glob(f"*/{INT8_FILE}"))
    assert (exported / "model.onnx").is_file()  # beside the fp32 export
    assert (exported / INT8_FILE).stat().st_size < (exported / "model.onnx").stat().st_size / 2
    cosines = (a * b).sum(axis=1)
    # Per-channel scales keep int8 close (one scale per tensor fell to 0.89 on document texts).
    assert cosines.min() > 0.98 and not np.allclose(a, b, atol=1e-4)  # close, but not the same vectors
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)


def _cache() -> Path:
    from keboola_vectorizer.embedding.onnx_backend import cache_root

    return cache_root()


def test_unknown_weights_are_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(EmbeddingError, match="KV_ONNX_WEIGHTS"):
        create_embedder(EmbeddingSettings(provider="local", onnx_weights="int4"))
    snapshot = str(write_mini_org(tmp_path / "snap"))
    code = run(["index", "--snapshot", snapshot], _env(tmp_path, KV_ONNX_WEIGHTS="int4"))
    err = capsys.readouterr().err
    assert code != 0 and "KV_ONNX_WEIGHTS" in err and "fp32 or int8" in err and "Traceback" not in err


def test_switching_weights_is_refused_without_rebuild(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snapshot = str(write_mini_org(tmp_path / "snap"))
    assert run(["index", "--snapshot", snapshot], _env(tmp_path)) == 0
    capsys.readouterr()
    code = run(["index", "--snapshot", snapshot], _env(tmp_path, KV_ONNX_WEIGHTS="int8"))
    err = capsys.readouterr().err
    assert code != 0 and "--rebuild" in err, err
    store = EdgeStore(tmp_path / "q")
    try:
        assert store.meta().embedder_id == FP32_ID  # untouched
    finally:
        store.close()
    assert run(["index", "--snapshot", snapshot, "--rebuild"], _env(tmp_path, KV_ONNX_WEIGHTS="int8")) == 0
    store = EdgeStore(tmp_path / "q")
    try:
        assert store.meta().embedder_id == FP32_ID + "+int8"
    finally:
        store.close()
    capsys.readouterr()
    # And back: fp32 against the int8 collection is the same refusal.
    assert run(["index", "--snapshot", snapshot], _env(tmp_path)) != 0
    assert "--rebuild" in capsys.readouterr().err
