"""OpenAI embeddings (and OpenAI-compatible gateways such as Azure OpenAI) behind the Embedder protocol.

The API's limits decide how inputs are packed: at most 2048 inputs and 300,000 tokens per request and
8191 tokens per input. Tokens are counted with the model's real encoding (cl100k_base), not guessed
from characters, so that packing and truncation match what the API counts.

Retries are ours, not the client's (`max_retries=0`): the client's own retries are invisible, so we
could neither log them, count them in usage, nor bound them by one deadline for the whole run.

Heavy dependencies (openai, tiktoken) are imported inside functions so that listing providers stays
cheap. This module is named like the `openai` package; `from __future__ import annotations` and
absolute imports keep `import openai` resolving to the real client.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from keboola_vectorizer.embedding import openai_errors
from keboola_vectorizer.embedding.openai_tokens import KNOWN_MODELS, ModelSpec, TokenCounter, token_counter
from keboola_vectorizer.embedding.provider import BaseEmbedder, EmbedCall, EmbeddingSettings, normalise
from keboola_vectorizer.errors import ConfigError, EmbeddingError, VectorizerError
from keboola_vectorizer.redact import scrub
from keboola_vectorizer.retry import Aborted, RetryPolicy, RetryRun, call_with_retries

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

__all__ = ["KNOWN_MODELS", "ModelSpec", "OpenAIEmbedder", "TokenCounter", "token_counter"]

DEFAULT_MODEL = "text-embedding-3-small"
MAX_INPUTS_PER_REQUEST = 2048
MAX_TOKENS_PER_REQUEST = 300_000
# The API documents 8192; one token of headroom costs nothing and covers off-by-one gateways.
MAX_TOKENS_PER_INPUT = 8191
# The API rejects empty strings; a single space embeds "nothing" without failing the whole batch.
_EMPTY_SUBSTITUTE = " "
_PROBE_TEXT = "dimension probe"


# --------------------------------------------------------------------------------------------------
# Error handling


# --------------------------------------------------------------------------------------------------
# The provider


class OpenAIEmbedder(BaseEmbedder):
    """Embeds with OpenAI's `/v1/embeddings` (or a compatible gateway at `base_url`): batches packed
    within the API's input and token limits, several in flight at once (`max_concurrency`)."""

    name: ClassVar[str] = "openai"

    def __init__(
        self,
        *,
        api_key: str,
        model: str = DEFAULT_MODEL,
        dimensions: int | None = None,
        base_url: str | None = None,
        max_concurrency: int = 4,
        timeout_s: float = 60.0,
        deadline_s: float = 600.0,
        max_inputs_per_request: int = MAX_INPUTS_PER_REQUEST,
        max_tokens_per_request: int = MAX_TOKENS_PER_REQUEST,
        max_tokens_per_input: int = MAX_TOKENS_PER_INPUT,
        truncate: bool = True,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 30.0,
    ) -> None:
        if not api_key:
            raise ConfigError(
                "OPENAI_API_KEY is not set",
                "set OPENAI_API_KEY to an OpenAI API key, or choose another provider (--provider local)",
            )
        spec = KNOWN_MODELS.get(model)
        if dimensions is not None:
            if dimensions < 1:
                raise ConfigError(f"--dimensions must be a positive number, got {dimensions}")
            if spec is not None and not spec.shortenable and dimensions != spec.dimension:
                raise ConfigError(
                    f"model {model} has a fixed dimension of {spec.dimension} and does not accept --dimensions",
                    "drop --dimensions, or use text-embedding-3-small or text-embedding-3-large",
                )
            if spec is not None and dimensions > spec.dimension:
                raise ConfigError(
                    f"model {model} supports at most {spec.dimension} dimensions, got {dimensions}",
                    f"use --dimensions between 1 and {spec.dimension}",
                )
        for label, value in (
            ("max_concurrency", max_concurrency),
            ("max_inputs_per_request", max_inputs_per_request),
            ("max_tokens_per_request", max_tokens_per_request),
            ("max_tokens_per_input", max_tokens_per_input),
        ):
            if value < 1:
                raise ConfigError(f"OpenAI provider: {label} must be at least 1, got {value}")
        super().__init__()
        self._api_key = api_key
        self.model = model
        self.base_url = base_url
        self.max_concurrency = max_concurrency
        self.timeout_s = timeout_s
        self.deadline_s = deadline_s
        self.max_inputs_per_request = min(max_inputs_per_request, MAX_INPUTS_PER_REQUEST)
        self.max_tokens_per_request = max_tokens_per_request
        # An input can never use more than a request's whole budget.
        self.max_tokens_per_input = min(max_tokens_per_input, max_tokens_per_request)
        self.truncate = truncate
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        # The API rejects `dimensions` for models that cannot shorten, even when it equals the
        # native size, so it is sent only when it changes something or the model is unknown.
        self._send_dimensions = dimensions is not None and (spec is None or spec.shortenable)
        self._requested_dimensions = dimensions
        self._dimension: int | None = dimensions or (spec.dimension if spec else None)
        self._lock = threading.Lock()  # the client and the learned dimension
        self._client: Any = None

    @classmethod
    def from_settings(cls, settings: EmbeddingSettings) -> OpenAIEmbedder:
        batch = settings.batch_size or MAX_INPUTS_PER_REQUEST
        return cls(
            api_key=settings.api_key or "",
            model=settings.model or DEFAULT_MODEL,
            dimensions=settings.dimensions,
            base_url=settings.base_url or None,
            max_concurrency=settings.max_concurrency,
            timeout_s=settings.timeout_s,
            deadline_s=settings.deadline_s,
            max_inputs_per_request=batch,
        )

    def __repr__(self) -> str:
        # Never the key.
        return f"OpenAIEmbedder(model={self.model!r}, dimensions={self._dimension}, base_url={self.base_url!r})"

    # -- BaseEmbedder ------------------------------------------------------------------------------

    @property
    def model_name(self) -> str:
        return self.model

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            # An unknown model (a gateway's own): one short request tells its vector size.
            self.embed_documents([_PROBE_TEXT])
        assert self._dimension is not None
        return self._dimension

    def empty_width(self) -> int:
        return self._dimension or 0

    def plan_batches(self, texts: Sequence[str]) -> list[tuple[list[str], list[int]]]:
        """(texts, token counts) per request, within the input and token limits."""
        prepared, counts = self._prepare(texts)
        return [(prepared[start:end], counts[start:end]) for start, end in self._pack(counts)]

    def embed_batch(self, batch: tuple[list[str], list[int]], call: EmbedCall) -> np.ndarray:
        texts, counts = batch
        return self._request_with_retries(texts, counts, call)

    # -- preparing and packing ---------------------------------------------------------------------

    def _prepare(self, texts: Sequence[str]) -> tuple[list[str], list[int]]:
        counter = token_counter()
        prepared = [text if text.strip() else _EMPTY_SUBSTITUTE for text in texts]
        counts = counter.count_many(prepared)
        truncated = 0
        for i, count in enumerate(counts):
            if count <= self.max_tokens_per_input:
                continue
            if not self.truncate:
                raise EmbeddingError(
                    f"input {i} has {count} tokens, over the model's limit of {self.max_tokens_per_input}",
                    "shorten the text or allow truncation",
                )
            prepared[i], counts[i] = counter.truncate(prepared[i], self.max_tokens_per_input)
            truncated += 1
        if truncated:
            log.warning(
                "truncated %d of %d inputs to %d tokens (the model's limit)",
                truncated,
                len(texts),
                self.max_tokens_per_input,
            )
            self.count_usage(truncated_inputs=truncated)
        return prepared, counts

    def _pack(self, counts: Sequence[int]) -> list[tuple[int, int]]:
        """Contiguous (start, end) ranges within both the input and the token limits."""
        batches: list[tuple[int, int]] = []
        start, tokens = 0, 0
        for i, count in enumerate(counts):
            full = i - start >= self.max_inputs_per_request or tokens + count > self.max_tokens_per_request
            if i > start and full:
                batches.append((start, i))
                start, tokens = i, 0
            tokens += count
        batches.append((start, len(counts)))
        return batches

    # -- requests ----------------------------------------------------------------------------------

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                try:
                    import openai
                except ImportError as exc:
                    raise ConfigError("the openai package is not installed", "pip install openai") from exc
                self._client = openai.OpenAI(
                    api_key=self._api_key, base_url=self.base_url, max_retries=0, timeout=self.timeout_s
                )
            return self._client

    def _request_with_retries(self, texts: list[str], counts: list[int], call: EmbedCall) -> np.ndarray:
        run = RetryRun(RetryPolicy("openai", deadline_s=self.deadline_s, initial_s=self.backoff_initial_s,
                                   max_s=self.backoff_max_s), started=call.started)

        def attempt() -> np.ndarray:
            # No attempt may outlive the deadline by more than a moment.
            return self._request(texts, counts, timeout=max(0.1, min(self.timeout_s, run.remaining())))

        def log_retry(exc: BaseException | None, attempt_number: int, wait: float) -> None:
            self.count_usage(retries=1)
            log.warning("OpenAI request %s; retry %d in %.1f s", openai_errors.describe_transient(exc),
                        attempt_number, wait)

        try:
            return call_with_retries(attempt, run, is_transient=openai_errors.is_transient, log_retry=log_retry,
                                     retry_after=openai_errors.retry_after_s, abort=call.abort)
        except (Aborted, VectorizerError):
            raise
        except Exception as exc:
            raise openai_errors.to_error(exc, run.attempts, self) from exc

    def _request(self, texts: list[str], counts: list[int], *, timeout: float) -> np.ndarray:
        client = self._get_client()
        kwargs: dict[str, Any] = {"model": self.model, "input": texts, "encoding_format": "base64"}
        if self._send_dimensions:
            kwargs["dimensions"] = self._requested_dimensions
        self.count_usage(requests=1)
        response = client.embeddings.create(timeout=timeout, **kwargs)
        data = sorted(response.data, key=lambda item: item.index)
        if len(data) != len(texts):
            raise EmbeddingError(
                f"OpenAI returned {len(data)} embeddings for {len(texts)} inputs",
                "the API or gateway at OPENAI_BASE_URL is misbehaving; try again",
            )
        vectors = np.vstack([self._decode(item.embedding) for item in data])
        with self._lock:
            if self._dimension is None:
                self._dimension = vectors.shape[1]
            if vectors.shape[1] != self._dimension:
                raise EmbeddingError(
                    f"OpenAI returned {vectors.shape[1]}-dimensional vectors for model {self.model}, "
                    f"expected {self._dimension}",
                    "check --dimensions and the model or deployment behind OPENAI_BASE_URL",
                )
        usage = getattr(response, "usage", None)
        tokens = getattr(usage, "total_tokens", None) or getattr(usage, "prompt_tokens", None)
        # Gateways may omit usage; our own count is then the best figure we have.
        self.count_usage(tokens=int(tokens) if tokens else sum(counts), inputs=len(texts))
        return normalise(vectors)

    @staticmethod
    def _decode(embedding: Any) -> np.ndarray:
        # We ask for base64 (a quarter of the JSON and no float parsing); compatible gateways that
        # ignore encoding_format answer with plain float lists, so both are accepted.
        if isinstance(embedding, str):
            return np.frombuffer(base64.b64decode(embedding), dtype="<f4").astype(np.float32)
        return np.asarray(embedding, dtype=np.float32)

    def _redact(self, text: str) -> str:
        return scrub(text, self._api_key)
