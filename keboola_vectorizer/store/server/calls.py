"""Every qdrant-client request of the server backend goes through `Caller.call`: transient
failures (connection errors, timeouts, 429, 5xx) are retried under the one retry policy (retry.py);
everything else becomes a StoreError with a hint. The API key is never part of a message."""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
from qdrant_client import QdrantClient
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from keboola_vectorizer.errors import StoreError
from keboola_vectorizer.redact import redact_url, scrub
from keboola_vectorizer.retry import RetryPolicy, RetryRun, call_with_retries
from keboola_vectorizer.store.server.options import ServerOptions

log = logging.getLogger(__name__)

T = TypeVar("T")

URL_HINT = "check QDRANT_URL / that the cluster is up"
KEY_HINT = "check QDRANT_API_KEY (a read-only key cannot index)"


__all__ = ["Caller", "make_client", "redact_url"]


def _is_transient(exc: BaseException) -> bool:
    """Worth retrying: the request may succeed as is a moment later (every write is idempotent)."""
    if isinstance(exc, (ResponseHandlingException, httpx.TransportError)):
        return True
    if isinstance(exc, UnexpectedResponse):
        return exc.status_code is not None and (exc.status_code >= 500 or exc.status_code == 429)
    return False


def _is_not_found(exc: BaseException) -> bool:
    if isinstance(exc, UnexpectedResponse):
        return exc.status_code == 404
    # local mode raises ValueError("Collection x not found")
    return isinstance(exc, ValueError) and "not found" in str(exc).lower()


def make_client(url: str, api_key: str | None, timeout: float) -> QdrantClient:
    https = url.lower().startswith("https://")
    if api_key and not https:
        # qdrant-client warns on every start; inside a cluster network plain HTTP is common, so
        # say it once in the log (and in `doctor`) instead.
        log.info("sending the Qdrant API key over plain HTTP to %s", redact_url(url))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Api key is used with an insecure connection")
        # check_compatibility=False: the version check would make a request (and only warn) in the
        # constructor; `doctor` reports the server version instead.
        return QdrantClient(url=url, api_key=api_key, timeout=max(1, round(timeout)), https=https,
                            check_compatibility=False)


@contextlib.contextmanager
def _quiet(in_process: bool) -> Iterator[None]:
    """Local mode warns that payload indexes are no-ops, which is expected here. Only there:
    catch_warnings is not thread-safe, and server upserts run on several threads."""
    if not in_process:
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


class Caller:
    """Runs client calls with the backend's retry policy and error mapping."""

    def __init__(self, options: ServerOptions, api_key: str | None, location: Callable[[], str],
                 in_process: bool) -> None:
        self.options = options
        self._api_key = api_key
        self._location = location
        self.in_process = in_process  # qdrant-client local mode: no HTTP, its own error types

    def redact(self, text: str) -> str:
        return scrub(text, self._api_key)

    def policy(self, retry: bool = True) -> RetryPolicy:
        opts = self.options
        return RetryPolicy("qdrant", deadline_s=opts.retry_deadline_s, initial_s=opts.retry_initial_s,
                           max_s=opts.retry_max_s, max_attempts=opts.retry_attempts if retry else 1)

    def describe(self, exc: BaseException | None) -> str:
        if exc is None:
            return "unknown error"
        if isinstance(exc, ResponseHandlingException):
            exc = exc.source
        if isinstance(exc, UnexpectedResponse):
            return f"HTTP {exc.status_code}"
        return self.redact(f"{type(exc).__name__}: {exc}".strip().rstrip(":"))

    def call(self, op: str, fn: Callable[..., T], *args: Any, missing_ok: bool = False,
             retry: bool = True, **kwargs: Any) -> T:
        """Run one client call with retries for transient errors; map failures to StoreError.
        With missing_ok, a 'collection not found' answer returns None instead; retry=False for
        long operations that must not run twice at once (snapshot create / recover)."""
        def attempt() -> T:
            with _quiet(self.in_process):
                return fn(*args, **kwargs)

        def log_retry(exc: BaseException | None, attempt_number: int, wait: float) -> None:
            log.log(logging.DEBUG if self.options.quiet_retries else logging.WARNING,
                    "Qdrant %s failed (%s); retry %d in %.1f s", op, self.describe(exc), attempt_number, wait)

        try:
            return call_with_retries(attempt, RetryRun(self.policy(retry)), is_transient=_is_transient,
                                     log_retry=log_retry)
        except Exception as exc:  # noqa: BLE001 - mapped to StoreError or re-raised below
            if missing_ok and _is_not_found(exc):
                return None  # type: ignore[return-value]
            raise self._store_error(op, exc) from exc

    def _store_error(self, op: str, exc: Exception) -> Exception:
        if isinstance(exc, NotImplementedError):
            return StoreError(f"{op} is not supported by qdrant-client's local mode",
                              hint="use a Qdrant server (set QDRANT_URL)")
        if isinstance(exc, (ResponseHandlingException, httpx.TransportError)):
            return StoreError(f"Qdrant at {self._location()} is unreachable ({self.describe(exc)})",
                              hint=URL_HINT)
        if isinstance(exc, UnexpectedResponse):
            if exc.status_code in (401, 403):
                error = StoreError(f"Qdrant rejected the API key (HTTP {exc.status_code} on {op})",
                                   hint=KEY_HINT)
                error.auth_failed = True  # type: ignore[attr-defined]
                return error
            detail = ""
            try:
                detail = str(exc.structured().get("status", {}).get("error", ""))
            except (ValueError, AttributeError):
                detail = exc.content[:200].decode(errors="replace")
            return StoreError(self.redact(f"Qdrant {op} failed: HTTP {exc.status_code} {detail}".strip()),
                              hint=URL_HINT if exc.status_code and exc.status_code >= 500 else "")
        if isinstance(exc, (ValueError, KeyError)) and self.in_process:
            return StoreError(self.redact(f"Qdrant {op} failed: {exc}"))
        return exc  # a programming error: let it surface as is
