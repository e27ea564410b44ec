"""The `search` command's way to a running service (`KV_SERVICE_URL`): one HTTP request, no model.

Same output and exit codes as a local search: the service's results are the objects of
`search --json`, and its error lines are shown as they are, with the exit code of their kind.
"""

from __future__ import annotations

from typing import Any

import httpx

from keboola_vectorizer.errors import ConfigError, EmptyIndexError, ServiceError, VectorizerError
from keboola_vectorizer.search import SearchResult
from keboola_vectorizer.store.base import SearchFilters


def _error_for(status: int, message: str) -> VectorizerError:
    if status == 503 and "index" in message and ("empty" in message or "missing" in message):
        return EmptyIndexError(message)
    if status in (400, 404, 422):
        return ConfigError(message)
    if status == 401:
        return ServiceError(message, "set KV_API_KEY to the service's key")
    return ServiceError(f"the search service answered {status}: {message}")


def search_via_service(base_url: str, api_key: str | None, query: str, *, filters: SearchFilters, mode: str,
                       limit: int, timeout: float, explain: bool = False) -> list[SearchResult]:
    params: list[tuple[str, Any]] = [("q", query), ("mode", mode), ("limit", limit)]
    if explain:
        params.append(("explain", "true"))
    for name, values in (("project", filters.project_ids), ("kind", filters.kinds), ("bucket", filters.bucket_ids),
                         ("component", filters.component_ids), ("stage", filters.stages)):
        params.extend((name, value) for value in values)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    url = base_url.rstrip("/") + "/api/search"
    try:
        response = httpx.get(url, params=params, headers=headers, timeout=timeout)
    except httpx.HTTPError as error:
        raise ServiceError(f"cannot reach the search service at {base_url} ({type(error).__name__})",
                           "start `keboola-vectorizer serve` there or unset KV_SERVICE_URL to search locally") from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200:
        raise _error_for(response.status_code, str(body.get("error") or response.reason_phrase))
    fields = set(SearchResult.__dataclass_fields__)
    return [SearchResult(**{k: v for k, v in item.items() if k in fields}) for item in body.get("results", [])]
