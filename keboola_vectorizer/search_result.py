"""What a search answers, one object per result: the rows of `search --json`, the service's
`/api/search` and the MCP tool. Its own module because the thin `search` through a running service
(cli/thin_search.py) reads it without loading the ranking."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

MAX_RESULTS = 1000  # the most results one search returns (`search --limit`, `/api/search?limit=`)


@dataclass
class SearchResult:
    id: str
    kind: str
    name: str
    project_id: int
    project_name: str
    score: float
    url: str
    snippet: str
    component_id: str | None = None
    table_id: str | None = None
    bucket_id: str | None = None
    # How sure search is that this result answers the query, 0-1; below LOW_CONFIDENCE: "no good match".
    confidence: float | None = None
    explain: dict[str, Any] | None = None
    branch_id: str | None = None  # set on dev-branch objects only (shown with --branch)
    branch_name: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> SearchResult:
        """A result as `to_json` wrote it; keys this version does not know (a newer service) are left out."""
        known = {field.name for field in fields(cls)}
        return cls(**{key: value for key, value in item.items() if key in known})
