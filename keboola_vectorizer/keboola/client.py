"""A thin, retrying wrapper around the `kbcstorage` Storage API client.

Why a wrapper: kbcstorage retries 5xx on its own (up to 11 tries, minutes of sleep), never retries 429,
sets no request timeout and lets `requests` exceptions escape. This module owns the retry policy instead:
only transient failures are retried (429 honouring Retry-After, 5xx, timeouts, dropped connections),
with jittered exponential backoff inside one deadline per call, and every failure leaves as a
`KeboolaAuthError` / `KeboolaApiError` whose text never contains the token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests
import urllib3.exceptions
from kbcstorage.base import Endpoint
from kbcstorage.client import Client
from pydantic import SecretStr

from keboola_vectorizer.errors import KeboolaApiError, KeboolaAuthError
from keboola_vectorizer.redact import scrub
from keboola_vectorizer.retry import RetryPolicy, RetryRun, call_with_retries
from keboola_vectorizer.retry_after import retry_after_seconds

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 120.0
DEFAULT_CONNECT_TIMEOUT_S = 10.0
DEFAULT_DEADLINE_S = 300.0
DEFAULT_BACKOFF_S = 1.0
DEFAULT_BACKOFF_MAX_S = 30.0
# A server asking us to wait longer than this is treated as "not today": we stop rather than idle.
MAX_RETRY_AFTER_S = 120.0

_URL_HINT = "check KBC_STORAGE_API_URL (or the project's url in the projects config) and network access"
_TOKEN_HINT = (
    "set KBC_STORAGE_TOKEN (or the project's token secret in the projects config) "
    "to a valid Storage API token"
)


class _SessionTransport:
    """Stands in for kbcstorage's `RetryRequests`: one pooled session, a default timeout, no retries.

    kbcstorage endpoints call `self.requests.get(url, params=..., headers=...)`; replacing that object is
    the one seam that both switches off its built-in retry loop and adds the timeout it never sets.
    """

    def __init__(self, timeout: tuple[float, float]) -> None:
        self.session = requests.Session()
        # requests' default adapter already does no retries; mount one explicitly so that stays true.
        adapter = requests.adapters.HTTPAdapter(max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.timeout = timeout
        self.max_retries = 1  # kbcstorage's attribute name; kept for anyone who inspects it

    def _request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return self.session.request(method, url, *args, **kwargs)

    def get(self, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        return self._request("GET", url, *args, **kwargs)

    def post(self, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        return self._request("POST", url, *args, **kwargs)

    def put(self, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        return self._request("PUT", url, *args, **kwargs)

    def delete(self, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        return self._request("DELETE", url, *args, **kwargs)

    def close(self) -> None:
        self.session.close()


REFUSED_ATTEMPTS_BEFORE_CONTACT = 3


def _is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, requests.HTTPError):
        status = exc.response.status_code if exc.response is not None else 0
        # 501 means "never implemented": retrying cannot help (kbcstorage makes the same exception).
        return status == 429 or (status >= 500 and status != 501)
    if isinstance(exc, requests.exceptions.SSLError):
        return False  # a certificate problem stays a certificate problem
    if isinstance(exc, requests.ConnectionError) and _is_dns_failure(exc):
        return False  # a name that does not resolve is a typo, not a blip
    return isinstance(
        exc, (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError)
    )


def _is_dns_failure(exc: BaseException) -> bool:
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        cur = stack.pop()
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        if isinstance(cur, urllib3.exceptions.NameResolutionError):
            return True
        if isinstance(cur, OSError) and "Name or service not known" in str(cur):
            return True
        stack.extend([cur.__cause__, cur.__context__, getattr(cur, "reason", None)])
        stack.extend(a for a in cur.args if isinstance(a, BaseException))
    return False


def _is_refused(exc: BaseException) -> bool:
    # Only used to word a message; the text of urllib3's errors holds the host and port, never headers.
    return "refused" in str(exc).lower()


def _api_error(response: requests.Response | None) -> tuple[str, str]:
    """The API's own (`error`, `code`) from a Storage API error body, or a generic stand-in."""
    if response is None:
        return "no response", ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        message = body.get("error") or body.get("message")
        code = body.get("code")
        if isinstance(message, str) and message:
            return message, str(code) if code else ""
    return (response.reason or f"HTTP {response.status_code}"), ""


def _retry_after_s(response: requests.Response | None) -> float | None:
    """Seconds from the response's Retry-After header, or None."""
    return None if response is None else retry_after_seconds(response.headers.get("Retry-After"))


class KeboolaClient:
    """The Storage API calls the extractor needs, each one retried within `deadline_s`.

    `timeout_s` bounds one request's read; `deadline_s` bounds all attempts of one call (waits included),
    so a dead API fails a call after about `deadline_s`, never after kbcstorage's minutes of backoff.
    """

    def __init__(
        self,
        url: str,
        token: SecretStr | str,
        *,
        label: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        deadline_s: float = DEFAULT_DEADLINE_S,
        backoff_s: float = DEFAULT_BACKOFF_S,
        backoff_max_s: float = DEFAULT_BACKOFF_MAX_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url.rstrip("/")
        self.label = label
        self.timeout_s = timeout_s
        self.deadline_s = deadline_s
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self._sleep = sleep
        self._reached = False
        self._token = token if isinstance(token, SecretStr) else SecretStr(token)
        secret = self._token.get_secret_value()
        if not secret:
            raise KeboolaAuthError(f"No Storage API token given for {self._where()}", _TOKEN_HINT)
        failure: KeboolaAuthError | None = None
        try:
            self._client = Client(self.url, secret, file_storage_support=False)
        except ValueError:
            # kbcstorage refuses programmatic tokens (kbc_at_/kbc_pat_) as X-StorageApi-Token.
            failure = KeboolaAuthError(
                f"The token for {self._where()} is not a Storage API token",
                "use a Storage API token (not a kbc_at_/kbc_pat_ programmatic token)",
            )
        if failure is not None:
            raise failure  # raised outside the except block so no chained exception carries the token
        self._transport = _SessionTransport((min(DEFAULT_CONNECT_TIMEOUT_S, timeout_s), timeout_s))
        for endpoint in vars(self._client).values():
            if isinstance(endpoint, Endpoint):
                endpoint.requests = self._transport

    def __repr__(self) -> str:
        return f"KeboolaClient(url={self.url!r}, label={self.label!r})"

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> KeboolaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the calls -------------------------------------------------------------------------------

    def verify_token(self) -> dict[str, Any]:
        """`GET /v2/storage/tokens/verify`: the token's project is `owner`."""
        return self._call("tokens/verify", self._client.tokens.verify)

    def list_dev_branches(self) -> list[dict[str, Any]]:
        """`GET /v2/storage/dev-branches`."""
        # kbcstorage has no list method for branches; its generic GET keeps auth and transport the same.
        branches = self._client.branches
        return self._call("dev-branches", lambda: branches._get(f"{branches.base_url}dev-branches"))

    def list_buckets(self) -> list[dict[str, Any]]:
        """`GET /v2/storage/buckets?include=metadata`."""
        # `Buckets.list()` takes no include, and without it the API leaves out bucket metadata.
        buckets = self._client.buckets
        return self._call(
            "buckets", lambda: buckets._get(buckets.base_url, params={"include": "metadata"})
        )

    def list_tables(self) -> list[dict[str, Any]]:
        """`GET /v2/storage/tables?include=columns,buckets,metadata,columnMetadata`."""
        include = ["columns", "buckets", "metadata", "columnMetadata"]
        return self._call("tables", lambda: self._client.tables.list(include=include))

    def list_components(self) -> list[dict[str, Any]]:
        """`GET /v2/storage/branch/default/components?include=configuration,rows`."""
        include = ["configuration", "rows"]
        return self._call(
            "branch/default/components", lambda: self._client.components.list(include=include)
        )

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """`GET /v2/storage/{path}?params` with the same retries, for calls kbcstorage lacks (events)."""
        # kbcstorage's generic GET on any endpoint keeps the token header and our transport.
        endpoint = self._client.tokens
        return self._call(path, lambda: endpoint._get(f"{self.url}/v2/storage/{path}", params=params))

    # --- retry machinery -------------------------------------------------------------------------

    def _where(self) -> str:
        return f"{self.label} at {self.url}" if self.label else self.url

    def _redact(self, text: str) -> str:
        return scrub(text, self._token.get_secret_value())

    @staticmethod
    def _retry_after(exc: BaseException) -> float | None:
        if isinstance(exc, requests.HTTPError) and exc.response is not None and exc.response.status_code == 429:
            return _retry_after_s(exc.response)
        return None

    def _describe(self, exc: BaseException | None) -> str:
        """A short reason built from status codes and API messages, never from request objects."""
        if isinstance(exc, requests.HTTPError):
            response = exc.response
            status = response.status_code if response is not None else 0
            message, code = _api_error(response)
            text = f"HTTP {status}: {message}" + (f" ({code})" if code else "")
            retry_after = _retry_after_s(response)
            if status == 429 and retry_after is not None:
                text += f", Retry-After {retry_after:g} s"
            return self._redact(text)
        if isinstance(exc, requests.Timeout):
            return f"no answer within {self.timeout_s:g} s"
        if isinstance(exc, requests.exceptions.ChunkedEncodingError):
            return "connection broke off mid-response"
        if isinstance(exc, requests.exceptions.SSLError):
            return "TLS handshake or certificate verification failed"
        if isinstance(exc, requests.ConnectionError):
            if _is_dns_failure(exc):
                return "host name does not resolve"
            return "connection refused" if _is_refused(exc) else "connection failed or was dropped"
        return type(exc).__name__ if exc else "unknown error"

    def _log_retry(self, path: str, exc: BaseException | None, attempt: int, wait: float) -> None:
        logger.warning(
            "Storage API %s GET /v2/storage/%s attempt %d failed (%s); retrying in %.2f s",
            self._where(),
            path,
            attempt,
            self._describe(exc),
            wait,
        )

    def _call(self, path: str, fn: Callable[[], T]) -> T:
        run = RetryRun(RetryPolicy("storage_api", deadline_s=self.deadline_s, initial_s=self.backoff_s,
                                   max_s=self.backoff_max_s, max_retry_after_s=MAX_RETRY_AFTER_S))

        def attempt() -> T:
            # The last attempt must not run far past the deadline just because the read timeout is long.
            read = min(self.timeout_s, max(run.remaining(), 1.0))
            self._transport.timeout = (min(DEFAULT_CONNECT_TIMEOUT_S, read), read)
            result = fn()
            self._reached = True
            return result

        def give_up(exc: BaseException, attempts: int) -> bool:
            # A stack that refuses connections before it ever answered is a wrong URL far more often
            # than an outage: give up after a few quick tries instead of minutes of backoff.
            return not self._reached and _is_refused(exc) and attempts >= REFUSED_ATTEMPTS_BEFORE_CONTACT

        try:
            return call_with_retries(attempt, run, is_transient=_is_retryable, retry_after=self._retry_after,
                                     give_up=give_up, sleep=self._sleep,
                                     log_retry=lambda exc, n, wait: self._log_retry(path, exc, n, wait))
        except requests.RequestException as exc:
            failure = (self._exhausted(path, exc, run.attempts, run.elapsed()) if _is_retryable(exc)
                       else self._classify(path, exc))
        # Raised here, outside every except block, so the error chains to nothing: the underlying
        # requests exceptions hold the prepared request and with it the X-StorageApi-Token header.
        raise failure

    def _classify(self, path: str, exc: requests.RequestException) -> Exception:
        """The error for a failure that was not worth retrying."""
        if isinstance(exc, requests.HTTPError):
            return self._rejected(path, exc)
        if isinstance(exc, requests.exceptions.JSONDecodeError):
            # A 2xx answer that is not JSON: a proxy's page or a captive portal, not the Storage API.
            return KeboolaApiError(
                f"Storage API {self._where()} answered GET /v2/storage/{path} with a body that is not JSON",
                "check KBC_STORAGE_API_URL points at a Keboola stack (e.g. https://connection.keboola.com)",
            )
        if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
            return self._exhausted(path, exc, 1, 0.0)
        return KeboolaApiError(
            f"Storage API request to {self.url} failed before it was sent ({type(exc).__name__})",
            _URL_HINT,
        )

    def _rejected(self, path: str, exc: requests.HTTPError) -> Exception:
        status = exc.response.status_code if exc.response is not None else 0
        message, code = _api_error(exc.response)
        message, code = self._redact(message), self._redact(code)
        if status == 401:
            return KeboolaAuthError(
                f"Storage API rejected the token for {self._where()} ({code or 'HTTP 401'})", _TOKEN_HINT
            )
        if status == 403:
            return KeboolaAuthError(
                f"Storage API token for {self._where()} may not read /v2/storage/{path}: {message}",
                "use a token with read access to all buckets and components (a master token works)",
            )
        return KeboolaApiError(
            f"Storage API {self._where()} answered GET /v2/storage/{path} with HTTP {status}: {message}"
            + (f" ({code})" if code else ""),
            _URL_HINT if status == 404 else "",
        )

    def _exhausted(self, path: str, exc: BaseException | None, attempts: int, seconds: float) -> Exception:
        reason = self._describe(exc)
        tries = f"{attempts} attempt" + ("s" if attempts != 1 else "")
        if isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.Timeout):
            if attempts == 1:
                return KeboolaApiError(f"Storage API at {self.url} is unreachable ({reason})", _URL_HINT)
            return KeboolaApiError(
                f"Storage API at {self.url} is unreachable ({reason}) after {tries} "
                f"in {seconds:.1f} s (retry deadline {self.deadline_s:g} s)",
                _URL_HINT,
            )
        return KeboolaApiError(
            f"Storage API {self._where()} kept failing GET /v2/storage/{path}: gave up after {tries} "
            f"in {seconds:.1f} s (retry deadline {self.deadline_s:g} s); last error: {reason}",
            "the API may be down or rate-limiting; run again later or raise the deadline",
        )

