"""What an embedding provider is: the `Embedder` protocol callers use, and `BaseEmbedder`, which
owns what every provider would otherwise repeat (llm's `EmbeddingModel` pattern): the id, usage
counting, empty input, normalisation, the batch loop with optional concurrency, and `embed_query`.
A provider implements `embed_batch`; one whose API limits shape the batches also `plan_batches`.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np


@dataclass
class EmbeddingSettings:
    """What a provider may need; each provider reads the fields it understands."""

    provider: str = "local"
    model: str | None = None
    dimensions: int | None = None
    batch_size: int | None = None
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    max_concurrency: int = 4
    timeout_s: float = 60.0
    deadline_s: float = 600.0
    # Local provider: "auto" (ONNX Runtime when possible), "onnx" or "torch"; where ONNX exports are
    # cached (None: the user cache directory); ONNX Runtime threads (None: its default).
    local_backend: str = "auto"
    onnx_cache: str | None = None
    onnx_threads: int | None = None
    # "fp32" or "int8" (onnx_backend.quantized); int8 is part of the embedder id.
    onnx_weights: str = "fp32"


@dataclass
class EmbeddingUsage:
    """What embedding cost so far: requests made, inputs sent, tokens counted."""

    requests: int = 0
    inputs: int = 0
    tokens: int = 0
    truncated_inputs: int = 0
    retries: int = 0


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into dense vectors of one fixed vector space.

    `id` names the vector space (provider, model and dimension): two embedders with the same id
    produce comparable vectors, and the id is recorded with the collection so that vectors from
    different spaces are never mixed.
    """

    name: ClassVar[str]

    @property
    def id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    @property
    def usage(self) -> EmbeddingUsage: ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for `texts`, shape (len(texts), dimension), float32, L2-normalised."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """One vector, shape (dimension,), float32, L2-normalised."""
        ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    """L2-normalise rows so that dot product equals cosine similarity."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


@dataclass
class EmbedCall:
    """One `embed_documents` call as its batches see it: when it started, and whether another
    batch failed (so retries stop instead of waiting out their backoff)."""

    started: float = field(default_factory=time.monotonic)
    abort: threading.Event = field(default_factory=threading.Event)


class BaseEmbedder(ABC):
    """The provider boilerplate, once. Subclasses set `name`, `model_name` and `dimension` and
    implement `embed_batch`."""

    name: ClassVar[str]
    # Batches in flight at once; the first batch an embedder ever sends goes alone, so a wrong key
    # or model costs one request and an unknown dimension is learned before the others run.
    max_concurrency: int = 1

    def __init__(self) -> None:
        self._usage = EmbeddingUsage()
        self._usage_lock = threading.Lock()
        self._first_batch_sent = False

    @property
    @abstractmethod
    def model_name(self) -> str: ...

    @property
    @abstractmethod
    def dimension(self) -> int: ...

    @property
    def id(self) -> str:
        return f"{self.name}/{self.model_name}@{self.dimension}"

    @property
    def usage(self) -> EmbeddingUsage:
        return self._usage

    def load_runtime(self) -> None:  # noqa: B027 (a hook: remote providers have nothing to import)
        """Import what embedding needs, before the first call."""

    def count_usage(self, **increments: int) -> None:
        """Add to the usage counters (thread-safe: batches may run concurrently)."""
        with self._usage_lock:
            for key, value in increments.items():
                setattr(self._usage, key, getattr(self._usage, key) + value)

    def empty_width(self) -> int:
        """The width of the (0, width) answer to no texts; providers that would have to make a
        request to learn their dimension answer 0 instead."""
        return self.dimension

    def plan_batches(self, texts: Sequence[str]) -> Sequence[Any]:
        """How the texts are split into batches, in order; one batch by default (a local model
        batches inside its runtime)."""
        return [list(texts)]

    @abstractmethod
    def embed_batch(self, batch: Any, call: EmbedCall) -> np.ndarray:
        """Vectors for one batch of `plan_batches`, one row per text, in order."""

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.empty_width()), dtype=np.float32)
        batches = list(self.plan_batches(texts))
        call = EmbedCall()
        results: list[np.ndarray | None] = [None] * len(batches)

        def run(index: int) -> None:
            results[index] = self.embed_batch(batches[index], call)

        remaining = list(range(len(batches)))
        if not self._first_batch_sent:
            run(remaining.pop(0))
            self._first_batch_sent = True
        if len(remaining) == 1 or (remaining and self.max_concurrency <= 1):
            for index in remaining:
                run(index)
        elif remaining:
            self._run_concurrently(run, remaining, call)
        return normalise(np.vstack([r for r in results if r is not None]))

    def _run_concurrently(self, run: Any, indices: list[int], call: EmbedCall) -> None:
        workers = min(self.max_concurrency, len(indices))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"{self.name}-embed") as pool:
            futures: list[Future[None]] = [pool.submit(run, index) for index in indices]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = next((f for f in futures if f in done and f.exception() is not None), None)
            if failed is not None:
                # Stop the other batches' retries and queued work instead of waiting them out.
                call.abort.set()
                for future in futures:
                    future.cancel()
                error = failed.exception()
                assert error is not None
                raise error

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]
