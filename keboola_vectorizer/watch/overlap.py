"""Another writer's index run that overlapped one of watch's re-indexes may have undone it.

On one machine (the embedded store, docker compose) watch and `index` share the collection's file lock,
so they never overlap. Pods of a Kubernetes release do not share a file: the CronJob's run extracts
every project at its start and diffs each one later, so a table watch added in between can be deleted
again, or a newer text overwritten by the older one. Watch therefore reads the store's `last_run` (a
file or one metadata call) now and then; a run it did not make, whose window overlaps a re-index of a
project it also indexed, sends that project to a full re-extract. Cheap, and it converges.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from keboola_vectorizer.store.base import VectorStore

CHECK_EVERY_S = 30.0
KEEP_WINDOWS = 64


@dataclass
class OverlapGuard:
    own_runs: set[str] = field(default_factory=set)  # started_at|finished_at of runs watch made
    windows: dict[int, list[tuple[str, str]]] = field(default_factory=dict)  # project -> (start, end)
    seen_foreign: str = ""
    next_check: float = 0.0

    def ran(self, project_id: int, summary: Any) -> None:
        """Record one of watch's own runs (a `RunSummary`)."""
        self.own_runs.add(f"{summary.started_at}|{summary.finished_at}")
        kept = self.windows.setdefault(project_id, [])
        kept.append((summary.started_at, summary.finished_at))
        del kept[:-KEEP_WINDOWS]

    def check(self, open_store: Callable[[], VectorStore], now: float) -> dict[int, str]:
        """Projects to re-extract because a foreign run overlapped watch's re-index of them."""
        if now < self.next_check or not self.windows:
            return {}
        self.next_check = now + CHECK_EVERY_S
        store = open_store()
        try:
            last = store.read_state().get("last_run") or {}
        finally:
            store.close()
        started, finished = str(last.get("started_at") or ""), str(last.get("finished_at") or "")
        key = f"{started}|{finished}"
        if not started or not finished or key in self.own_runs or key == self.seen_foreign:
            return {}
        self.seen_foreign = key
        touched = {int(p) for p in (last.get("per_project") or {}) if str(p).isdigit()}
        # ISO timestamps in one format and zone compare as text; second resolution, so touching counts.
        return {project_id: "overlapping index run" for project_id, spans in self.windows.items()
                if project_id in touched and any(s <= finished and e >= started for s, e in spans)}
