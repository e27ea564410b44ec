"""Which Storage API events change what the index holds.

Keboola names events `storage.<object><Verb>`. Structure and description changes of tables, buckets and
configurations change documents' text (so embeddings); a data load (`tableImportDone`) changes only a
table's row count and dates (payload only, nothing to embed); reads and job chatter change nothing.
Unknown `storage.table*` / `storage.bucket*` / `storage.componentConfiguration*` events count as changes:
a needless re-extract costs a few API calls, a missed change costs a stale index until the CronJob.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class ChangeKind(str, Enum):
    table = "table"
    bucket = "bucket"
    configuration = "configuration"
    data = "data"  # rows and dates only


DATA_EVENTS = frozenset({
    "storage.tableImportDone", "storage.tableRowsDeleted", "storage.tableTruncated",
    "storage.tableDataLoaded",
})
# Events about a table or bucket that change nothing an index shows.
READ_EVENTS = frozenset({
    "storage.tableExported", "storage.tableDataPreview", "storage.tableImportStarted",
    "storage.tableImportError", "storage.tableSnapshotCreated", "storage.tableExportStarted",
    "storage.bucketRefreshStarted",
})


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    event_id: int
    name: str
    object_id: str
    created: str


def event_id(event: dict[str, Any]) -> int:
    """The event's id as a number (the API sends a numeric string; `sinceId` compares numerically)."""
    return int(str(event.get("id")))


def classify(event: dict[str, Any]) -> Change | None:
    """The change an event announces, or None when it changes nothing in the index."""
    name = str(event.get("event") or "")
    if not name.startswith("storage.") or name in READ_EVENTS:
        return None
    verb = name.removeprefix("storage.")
    if name in DATA_EVENTS:
        kind = ChangeKind.data
    elif verb.startswith("componentConfiguration"):
        kind = ChangeKind.configuration
    elif verb.startswith("table"):
        kind = ChangeKind.table
    elif verb.startswith("bucket"):
        kind = ChangeKind.bucket
    else:
        return None  # tokens, files, workspaces, jobs, branches: not in the index
    object_id = str(event.get("objectId") or (event.get("params") or {}).get("configurationId") or "")
    return Change(kind, event_id(event), name, object_id, str(event.get("created") or ""))


@dataclass
class PendingChanges:
    """What a project's unprocessed events add up to."""

    changes: list[Change] = field(default_factory=list)
    last_event_id: int = 0  # the newest event seen, relevant or not

    def add(self, events: list[dict[str, Any]]) -> list[Change]:
        found = [c for c in (classify(e) for e in events) if c is not None]
        self.changes.extend(found)
        if events:
            self.last_event_id = max(self.last_event_id, *(event_id(e) for e in events))
        return found

    @property
    def kinds(self) -> set[ChangeKind]:
        return {c.kind for c in self.changes}

    @property
    def data_only(self) -> bool:
        return bool(self.changes) and self.kinds == {ChangeKind.data}

    def clear(self) -> None:
        self.changes.clear()
