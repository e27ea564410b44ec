"""How the OpenAI provider reads the client's failures: which are worth a retry, how long the server
asked to wait, and the one line the user sees for each."""

from __future__ import annotations

from typing import TYPE_CHECKING

from keboola_vectorizer.embedding.openai_tokens import KNOWN_MODELS
from keboola_vectorizer.errors import EmbeddingError
from keboola_vectorizer.retry_after import retry_after_seconds

if TYPE_CHECKING:
    from keboola_vectorizer.embedding.openai import OpenAIEmbedder


def api_message(exc: Exception) -> str:
    """The API's own error message when it sent one, else the client's."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return str(getattr(exc, "message", None) or exc)


def retry_after_s(exc: BaseException) -> float | None:
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


def is_transient(exc: BaseException) -> bool:
    import openai

    if isinstance(exc, openai.APIConnectionError):  # includes timeouts
        return True
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code == 429:
            # Out of quota is a billing state, not a burst: waiting will not fix it.
            return getattr(exc, "code", None) != "insufficient_quota"
        return exc.status_code in (408, 409) or exc.status_code >= 500
    return False


def describe_transient(exc: BaseException | None) -> str:
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


def to_error(exc: Exception, attempts: int, embedder: OpenAIEmbedder) -> EmbeddingError:
    """One line the user can act on, from whatever the client raised."""
    import openai

    where = f" at {embedder.base_url}" if embedder.base_url else ""
    if is_transient(exc):
        what = describe_transient(exc)
        return EmbeddingError(
            embedder._redact(f"OpenAI request{where} {what}; gave up after {attempts} attempts: {api_message(exc)}"),
            "the API is unavailable or rate limiting; try again later, lower the concurrency, "
            "or raise the deadline",
        )
    if not isinstance(exc, openai.APIStatusError):
        return EmbeddingError(
            embedder._redact(f"OpenAI request{where} failed: {type(exc).__name__}: {exc}"),
            "check OPENAI_BASE_URL points at an OpenAI-compatible API",
        )
    status = exc.status_code
    message = embedder._redact(api_message(exc))
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
            f"OpenAI model {embedder.model!r} not found ({status}): {message}",
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
            f"OpenAI rejected dimensions={embedder._requested_dimensions} for model {embedder.model} (400): {message}",
            "drop --dimensions or choose a value the model supports",
        )
    if status == 400 and ("token" in message.lower() or "context length" in message.lower()):
        return EmbeddingError(
            f"an input is over the model's token limit (400): {message}",
            f"inputs are truncated to {embedder.max_tokens_per_input} tokens; this model or gateway "
            "allows fewer, so lower max_tokens_per_input",
        )
    return EmbeddingError(
        f"OpenAI rejected the request ({status}): {message}",
        "check --model, --dimensions and OPENAI_BASE_URL",
    )
