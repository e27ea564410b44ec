"""The fallback for tokens that cannot read all project events: compare a cheap manifest every few minutes.

The manifest is each configuration's `version` and `isDeleted` (`GET components` without `include`),
each table's change and import dates and each bucket's change date and metadata: a configuration save
bumps its version, a structure change or load moves a table's dates. One digest per project is stored
as its cursor, so a restart re-extracts only a project that changed while watch was down.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from keboola_vectorizer.watch.feed import EventsApi


def manifest(api: EventsApi) -> dict[str, Any]:
    components = api.get("branch/default/components") or []
    tables = api.get("tables") or []
    buckets = api.get("buckets", {"include": "metadata"}) or []
    return {
        "configurations": sorted(
            (str(c.get("id")), str(cfg.get("id")), cfg.get("version"), bool(cfg.get("isDeleted")))
            for c in components if isinstance(c, dict) for cfg in c.get("configurations") or []),
        "tables": sorted((str(t.get("id")), str(t.get("lastChangeDate")), str(t.get("lastImportDate")))
                         for t in tables if isinstance(t, dict)),
        "buckets": sorted((str(b.get("id")), str(b.get("lastChangeDate")),
                           json.dumps(b.get("metadata") or [], sort_keys=True))
                          for b in buckets if isinstance(b, dict)),
    }


def digest(data: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:32]
