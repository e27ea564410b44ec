"""The watcher: poll every project, let bursts settle, re-extract a changed project, index it, then move
its cursor. One thread; every Storage API call goes through KeboolaClient's retry policy.

Order of a re-index, and why a kill anywhere loses nothing: (1) note the feed's floor, (2) take the
collection lock (shared with `index` and the CronJob), (3) extract the project into a temporary snapshot,
(4) run the ordinary incremental index of that project, (5) write the cursor into the store's state.
A kill before (5) leaves the old cursor: the next start replays the events and re-indexes, which is
idempotent (content hashes decide what is embedded).
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from keboola_vectorizer.embedding.base import Embedder
from keboola_vectorizer.errors import KeboolaApiError, KeboolaAuthError, LockBusyError
from keboola_vectorizer.keboola.client import KeboolaClient
from keboola_vectorizer.keboola.extract import extract_snapshot
from keboola_vectorizer.keboola.projects_config import ProjectSource
from keboola_vectorizer.keboola.snapshot import Snapshot
from keboola_vectorizer.metrics import get_metrics
from keboola_vectorizer.pipeline import run_index
from keboola_vectorizer.store.base import VectorStore
from keboola_vectorizer.watch import manifests
from keboola_vectorizer.watch.classify import Change, PendingChanges
from keboola_vectorizer.watch.cursor import ProjectCursor, read_cursors, write_cursor
from keboola_vectorizer.watch.feed import EventsFeed, reads_all_events
from keboola_vectorizer.watch.overlap import OverlapGuard
from keboola_vectorizer.watch.settle import Settle

log = logging.getLogger(__name__)

AUTH_RETRY_S = 300.0  # a rejected token is tried again this often (it may be restored)
MAX_BACKOFF_S = 300.0


@dataclass
class WatchOptions:
    poll_interval_s: float = 10.0
    settle_s: float = 3.0
    max_wait_s: float = 30.0
    poll_manifests: bool = False
    manifest_interval_s: float = 300.0
    once: bool = False
    lookback_s: float = 30.0
    timeout_s: float = 30.0  # one Storage API request
    deadline_s: float = 60.0  # all retries of one call: a stack in trouble delays one poll, not the loop


@dataclass
class ProjectWatch:
    """One watched project: its client, feed or manifest, pending changes and counters."""

    source: ProjectSource
    index: int
    client: KeboolaClient | None = None
    project_id: int | None = None
    mode: str = "events"
    feed: EventsFeed | None = None
    cursor: ProjectCursor = field(default_factory=ProjectCursor)
    pending: PendingChanges = field(default_factory=PendingChanges)
    settle: Settle = field(default_factory=lambda: Settle(3.0, 30.0))
    full_reason: str | None = None  # re-extract even without events (first watch, expired cursor)
    new_manifest: str = ""
    next_poll: float = 0.0
    failures: int = 0
    status: str = "starting"
    counts: dict[str, int] = field(default_factory=lambda: {"polls": 0, "events": 0, "changes": 0,
                                                            "reextracts": 0, "embedded": 0})

    @property
    def label(self) -> str:
        return self.source.label or (str(self.project_id) if self.project_id else f"projects[{self.index}]")

    def to_json(self) -> dict[str, Any]:
        return {"project_id": self.project_id, "label": self.label, "mode": self.mode, "status": self.status,
                "cursor": self.cursor.cursor, "event_lag_s": self.cursor.event_lag_s,
                "index_lag_s": self.cursor.index_lag_s, **self.counts}


def _age_s(created: str) -> float | None:
    """Seconds since an event's `created` (Keboola's `2026-03-25T23:53:00+0100`), never negative."""
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z"):
        try:
            at = datetime.strptime(created.replace("Z", "+0000"), fmt)
        except ValueError:
            continue
        return max(0.0, (datetime.now(timezone.utc) - at).total_seconds())
    return None


class Watcher:
    def __init__(self, sources: list[ProjectSource], *, open_store: Callable[[], VectorStore],
                 embedder: Callable[[], Embedder], lock: Callable[[], AbstractContextManager[None]],
                 options: WatchOptions, stop: threading.Event | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.options = options
        self.open_store = open_store
        self.make_embedder = embedder  # loaded at the first re-index: a start that fails stays quick
        self._embedder: Embedder | None = None
        self.lock = lock
        self.stop = stop or threading.Event()
        self.clock = clock
        self.overlaps = OverlapGuard()
        self.projects = [ProjectWatch(s, i, settle=Settle(options.settle_s, options.max_wait_s))
                         for i, s in enumerate(sources)]

    # --- start ---------------------------------------------------------------------------------

    def start(self) -> list[str]:
        """Connect every project and decide its mode; returns one line per project that needs the user."""
        notes = []
        stored = self._stored_cursors()
        for project in self.projects:
            note = self._connect(project, stored)
            if note:
                notes.append(note)
        return notes

    def _stored_cursors(self) -> dict[int, ProjectCursor]:
        store = self.open_store()
        try:
            return read_cursors(store) if store.meta() is not None else {}
        finally:
            store.close()

    def _connect(self, project: ProjectWatch, stored: dict[int, ProjectCursor]) -> str | None:
        options = self.options
        try:
            if project.client is None:
                project.client = KeboolaClient(project.source.url, project.source.token, label=project.source.label,
                                               timeout_s=options.timeout_s, deadline_s=options.deadline_s)
            verify = project.client.verify_token()
            project.project_id = int((verify.get("owner") or {})["id"])
            if not options.poll_manifests and not reads_all_events(verify):
                project.status = "skipped: token lists only its own events"
                project.next_poll = float("inf")
                return (f"project {project.label}: this token lists only its own events (not a master or admin "
                        "token, no canReadAllProjectEvents), so changes by others would go unseen — give watch "
                        "such a token, or run `keboola-vectorizer watch --poll-manifests`")
            project.cursor = stored.get(project.project_id) or ProjectCursor()
            project.cursor.label = project.label
            if options.poll_manifests:
                project.mode = project.cursor.mode = "manifests"
                project.status = "watching"
                return None
            project.mode = project.cursor.mode = "events"
            project.feed = EventsFeed(project.client, project.cursor.cursor, lookback_s=options.lookback_s)
            if project.project_id not in stored:
                project.feed.floor = project.feed.newest_id()  # noted before the extract it covers
                project.full_reason = "first watch"
            elif not project.feed.retains(project.cursor.cursor):
                project.feed.floor = project.feed.newest_id()
                project.full_reason = "cursor expired"
            project.status = "watching"
        except KeboolaAuthError as error:
            self._rejected(project, error)
        except KeboolaApiError as error:
            self._failed(project, error)
        except (KeyError, TypeError, ValueError):
            self._failed(project, KeboolaApiError("tokens/verify answer has no owner.id", ""))
        return None

    # --- the loop ------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Poll until stopped (or, with `once`, until every change seen so far is indexed)."""
        polled_once = False
        while not self.stop.is_set():
            now = self.clock()
            for project in self.projects:
                if self.stop.is_set():
                    break
                if project.next_poll <= now:
                    self._poll(project, now)
            self._check_overlaps(now)
            for project in self._ready(self.clock()):
                if self.stop.is_set():
                    break
                self._reindex(project)
            polled_once = True
            if self.options.once and polled_once and not any(self._waiting(p) for p in self.projects):
                break
            self.stop.wait(self._sleep_s())
        for project in self.projects:
            if project.client is not None:
                project.client.close()
        get_metrics().flush()
        return {"projects": [p.to_json() for p in self.projects]}

    def _check_overlaps(self, now: float) -> None:
        try:
            redo = self.overlaps.check(self.open_store, now)
        except Exception as exc:  # the store is reached again at the next re-index; this is only a check
            log.warning("could not read the store's last run to look for overlapping index runs (%s)", exc)
            return
        for project in self.projects:
            if project.project_id in redo and project.full_reason is None:
                log.info("project %s: another index run overlapped watch's last re-index; re-extracting",
                         project.label)
                project.full_reason = redo[project.project_id]

    def _waiting(self, project: ProjectWatch) -> bool:
        healthy = project.status == "watching"
        return healthy and (project.full_reason is not None or project.settle.pending())

    def _ready(self, now: float) -> Iterator[ProjectWatch]:
        for project in self.projects:
            if project.status != "watching" or (project.failures and project.next_poll > now):
                continue  # a failed re-index waits out its backoff like a failed poll
            if project.full_reason is not None or project.settle.ready(now):
                yield project

    def _sleep_s(self) -> float:
        now = self.clock()
        waits = [p.next_poll - now for p in self.projects if p.next_poll != float("inf")]
        waits += [p.settle.due_in(now) for p in self.projects if p.settle.pending()]
        return max(0.05, min(waits, default=self.options.poll_interval_s))

    def _poll(self, project: ProjectWatch, now: float) -> None:
        if project.project_id is None or project.status != "watching":
            note = self._connect(project, self._stored_cursors())  # retry a rejected or unreachable project
            if note:
                log.warning("%s", note)
            if project.status != "watching":
                return
        metrics = get_metrics()
        try:
            if project.mode == "manifests":
                self._poll_manifest(project, now)
            else:
                assert project.feed is not None
                events = project.feed.poll()
                found = project.pending.add(events)
                project.counts["polls"] += 1
                project.counts["events"] += len(events)
                project.counts["changes"] += len(found)
                metrics.count("watch.polls", 1, project_id=project.project_id)
                metrics.distribution("watch.events", len(events), project_id=project.project_id)
                for change in found:
                    project.settle.saw(now)
                    lag = _age_s(change.created)
                    if lag is not None:
                        project.cursor.event_lag_s = round(lag, 3)
                        metrics.distribution("watch.event_lag", lag, project_id=project.project_id)
                if found:
                    log.info("project %s: %d change(s) in %d event(s): %s", project.label, len(found), len(events),
                             ", ".join(sorted({c.name for c in found})))
            project.failures = 0
        except KeboolaAuthError as error:
            self._rejected(project, error)
            return
        except KeboolaApiError as error:
            self._failed(project, error)
            return
        # While a burst settles, look again soon to see whether it is over.
        interval = self.options.poll_interval_s
        if project.settle.pending():
            interval = min(interval, max(self.options.settle_s, 0.2))
        elif project.mode == "manifests":
            interval = self.options.manifest_interval_s
        project.next_poll = now + interval

    def _poll_manifest(self, project: ProjectWatch, now: float) -> None:
        assert project.client is not None
        digest = manifests.digest(manifests.manifest(project.client))
        project.counts["polls"] += 1
        get_metrics().count("watch.polls", 1, project_id=project.project_id, mode="manifests")
        if digest != project.cursor.manifest:
            project.new_manifest = digest
            project.full_reason = "manifest changed" if project.cursor.manifest else "first watch"

    # --- re-index ------------------------------------------------------------------------------

    def _reindex(self, project: ProjectWatch) -> None:
        assert project.project_id is not None
        floor = project.feed.floor if project.feed is not None else 0
        changes: list[Change] = list(project.pending.changes)
        reason = project.full_reason or ("data" if project.pending.data_only else "changes")
        started = time.perf_counter()
        try:
            with self.lock(), tempfile.TemporaryDirectory(prefix="kv-watch-") as tmp:
                out = Path(tmp) / "snapshot"
                extract_snapshot([project.source], out, timeout_s=self.options.timeout_s,
                                 deadline_s=self.options.deadline_s)
                if self._embedder is None:
                    self._embedder = self.make_embedder()
                store = self.open_store()
                try:
                    summary = run_index(Snapshot(out), store, self._embedder)
                    project.cursor.cursor = max(project.cursor.cursor, floor)
                    if project.new_manifest:
                        project.cursor.manifest = project.new_manifest
                    project.cursor.indexed_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
                    lags = [lag for lag in (_age_s(c.created) for c in changes) if lag is not None]
                    if lags:
                        project.cursor.index_lag_s = round(max(lags), 3)
                    write_cursor(store, project.project_id, project.cursor)  # only after the upsert
                    self.overlaps.ran(project.project_id, summary)
                finally:
                    store.close()
        except LockBusyError:
            log.info("project %s: the collection is busy (an index run or the CronJob); trying again", project.label)
            project.settle.saw(self.clock())  # look again after a settle period
            return
        except KeboolaAuthError as error:
            self._rejected(project, error)
            return
        except KeboolaApiError as error:
            self._failed(project, error)
            return
        metrics = get_metrics()
        for lag in (_age_s(c.created) for c in changes):
            if lag is not None:
                metrics.distribution("watch.index_lag", lag, project_id=project.project_id)
        metrics.count("watch.reextracts", 1, project_id=project.project_id, reason=reason.replace(" ", "_"))
        project.counts["reextracts"] += 1
        project.counts["embedded"] += summary.embedded
        project.pending.clear()
        project.settle.reset()
        project.full_reason = None
        project.new_manifest = ""
        log.info("project %s re-indexed (%s) in %.2f s: embedded %d, deleted %d, skipped %d", project.label, reason,
                 time.perf_counter() - started, summary.embedded, summary.deleted, summary.skipped)

    # --- faults --------------------------------------------------------------------------------

    def _rejected(self, project: ProjectWatch, error: KeboolaAuthError) -> None:
        project.status = "skipped: token rejected"
        project.next_poll = self.clock() + AUTH_RETRY_S
        get_metrics().error("watch", type(error).__name__)
        log.error("project %s skipped, the other projects go on: %s (retrying every %.0f s)", project.label,
                  error.one_line(), AUTH_RETRY_S)

    def _failed(self, project: ProjectWatch, error: KeboolaApiError) -> None:
        project.failures += 1
        backoff = min(MAX_BACKOFF_S, self.options.poll_interval_s * 2 ** project.failures)
        project.next_poll = self.clock() + backoff
        if project.project_id is None:
            project.status = "unreachable"
        get_metrics().error("watch", type(error).__name__)
        log.warning("project %s: %s — backing off %.0f s, the other projects go on", project.label,
                    error.one_line(), backoff)
