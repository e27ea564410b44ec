"""The per-project watch cursor, kept in the store's own state (the store stays the one ledger).

state["watch"]["projects"]["<project id>"] = {"cursor": <event id>, "mode": "events"|"manifests",
"manifest": <digest>, "indexed_at", "event_lag_s", "index_lag_s", "label"}. Written only after the upsert
it covers was acknowledged, so a kill at any point replays events rather than losing them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from keboola_vectorizer.store.base import VectorStore


@dataclass
class ProjectCursor:
    cursor: int = 0
    mode: str = "events"
    manifest: str = ""
    indexed_at: str = ""
    event_lag_s: float | None = None
    index_lag_s: float | None = None
    label: str = ""

    @classmethod
    def from_state(cls, data: Any) -> ProjectCursor | None:
        if not isinstance(data, dict):
            return None
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        try:
            known["cursor"] = int(known.get("cursor") or 0)
        except (TypeError, ValueError):
            return None
        return cls(**known)


def read_cursors(store: VectorStore) -> dict[int, ProjectCursor]:
    projects = (store.read_state().get("watch") or {}).get("projects") or {}
    found = {}
    for key, value in projects.items():
        cursor = ProjectCursor.from_state(value)
        if cursor is not None and str(key).isdigit():
            found[int(key)] = cursor
    return found


def write_cursor(store: VectorStore, project_id: int, cursor: ProjectCursor) -> None:
    """Merge one project's cursor into the state (the caller holds the collection lock)."""
    state = store.read_state()
    watch = dict(state.get("watch") or {})
    projects = dict(watch.get("projects") or {})
    projects[str(project_id)] = asdict(cursor)
    watch["projects"] = projects
    store.write_state({**state, "watch": watch})
