"""The `search` command's way to a running service (`KV_SERVICE_URL`): one HTTP request, no model.

Same output and exit codes as a local search: the service's results are the objects of
`search --json`, and its error lines are shown as they are, with the exit code of their kind.
The standard library's HTTP client, not httpx: the thin `search` (cli/thin_search.py) starts in a
tenth of a second only if nothing heavier is imported, and one request needs no more.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from keboola_vectorizer.errors import ConfigError, EmptyIndexError, ServiceError, VectorizerError
from keboola_vectorizer.search_result import SearchResult

UNREACHABLE_FIX = "start `keboola-vectorizer serve` there or unset KV_SERVICE_URL to search locally"


def _error_for(status: int, message: str) -> VectorizerError:
    if status == 503 and "index" in message and ("empty" in message or "missing" in message):
        return EmptyIndexError(message)
    if status in (400, 404, 422):
        return ConfigError(message)
    if status == 401:
        return ServiceError(message, "set KV_API_KEY to the service's key")
    return ServiceError(f"the search service answered {status}: {message}")


def _body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def search_via_service(base_url: str, api_key: str | None, query: str, *, mode: str, limit: int, timeout: float,
                       explain: bool = False, projects: Sequence[int] = (), kinds: Sequence[str] = (),
                       buckets: Sequence[str] = (), components: Sequence[str] = (),
                       stages: Sequence[str] = ()) -> list[SearchResult]:
    params: list[tuple[str, Any]] = [("q", query), ("mode", mode), ("limit", limit)]
    if explain:
        params.append(("explain", "true"))
    for name, values in (("project", projects), ("kind", kinds), ("bucket", buckets), ("component", components),
                         ("stage", stages)):
        params.extend((name, value) for value in values)
    headers = {"Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(f"{base_url.rstrip('/')}/api/search?{urlencode(params)}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (the user's own URL)
            body = _body(response.read())
    except urllib.error.HTTPError as error:
        with error:
            message = _body(error.read()).get("error") or error.reason
        raise _error_for(error.code, str(message)) from None
    except (OSError, http.client.HTTPException, ValueError) as error:  # URLError and timeouts are OSErrors
        cause = getattr(error, "reason", None) or error
        if isinstance(cause, TimeoutError):
            raise ServiceError(f"the search service at {base_url} did not answer within {timeout:g} s",
                               "check that it is up, or raise KV_SERVICE_TIMEOUT") from None
        raise ServiceError(f"cannot reach the search service at {base_url} ({type(cause).__name__})",
                           UNREACHABLE_FIX) from None
    return [SearchResult.from_json(item) for item in body.get("results", []) if isinstance(item, dict)]
