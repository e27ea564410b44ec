"""Facet counts and "what it matched on" for search results (plain functions over result dicts).

Facets count the best `FACET_POOL` results of the query with the filters in force (drill-down: a
count says how many of those a further filter keeps), so one search answers both the list and the
counts.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from keboola_vectorizer.ids import STAGES

FACET_POOL = 50  # 5 pages of 10; every further result is a full payload fetched per uncached search
FACET_FIELDS = ("kind", "project", "component", "stage")
_WORD = re.compile(r"[a-z0-9]+")
# Words too common in questions to say anything about why a result matched.
_STOP = frozenset(("a", "an", "and", "are", "by", "for", "from", "in", "is", "it", "of", "on", "or", "the", "to",
                   "what", "where", "which", "who", "with", "how", "do", "does", "i", "we", "my", "our", "all",
                   "per"))


def stage_of(result: dict[str, Any]) -> str | None:
    """`in` or `out` for objects in a storage bucket (bucket ids start with the stage)."""
    stage = result.get("stage")
    if stage:
        return str(stage)
    bucket = str(result.get("bucket_id") or result.get("table_id") or "")
    head = bucket.split(".", 1)[0]
    return head if head in STAGES else None


def facet_value(result: dict[str, Any], facet: str) -> str | None:
    if facet == "kind":
        return str(result.get("kind") or "") or None
    if facet == "project":
        return str(result.get("project_id")) if result.get("project_id") is not None else None
    if facet == "component":
        return str(result.get("component_id") or "") or None
    if facet == "stage":
        return stage_of(result)
    raise ValueError(facet)


def facet_counts(results: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """{facet: {value: count}}, most frequent first; projects also keep their names (see labels)."""
    counts: dict[str, dict[str, int]] = {}
    for facet in FACET_FIELDS:
        counter = Counter(v for v in (facet_value(r, facet) for r in results) if v is not None)
        counts[facet] = dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))
    return counts


def project_names(results: list[dict[str, Any]]) -> dict[str, str]:
    return {str(r["project_id"]): str(r.get("project_name") or r["project_id"])
            for r in results if r.get("project_id") is not None}


def query_words(query: str) -> list[str]:
    return [w for w in dict.fromkeys(_WORD.findall(query.lower())) if w not in _STOP and len(w) > 1]


def matched_on(result: dict[str, Any], query: str) -> list[str]:
    """Where the query's words appear in the result ("name: churn", "snippet: monthly"), or
    "meaning" when it shares no word with them (the dense vector found it)."""
    if result.get("matched_on"):  # the search itself says (engine or --explain), trust it
        given = result["matched_on"]
        return [str(x) for x in given] if isinstance(given, list) else [str(given)]
    words = query_words(query)
    places: list[str] = []
    for field in ("name", "id", "snippet"):
        text = set(_WORD.findall(str(result.get(field) or "").lower()))
        hits = [w for w in words if w in text or any(t.startswith(w) for t in text if len(w) > 3)]
        if hits and not (field == "id" and places):
            places.append(f"{field}: {', '.join(hits)}")
    return places or ["meaning"]
