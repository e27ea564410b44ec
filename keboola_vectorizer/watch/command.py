"""`keboola-vectorizer watch`: the CLI side of the watcher (options, token check, signals, report)."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from keboola_vectorizer.errors import ConfigError, KeboolaAuthError

LOCK_WAIT_S = 2.0  # watch waits this long for the collection lock, then polls on and tries again


def watch(
    ctx: typer.Context,
    poll_interval: Annotated[float, typer.Option("--poll-interval", min=0.5, help="Seconds between polls "
                                                 "of each project's events feed.")] = 10.0,
    poll_manifests: Annotated[bool, typer.Option("--poll-manifests", help="Compare configuration versions "
                                                 "and table/bucket change dates instead of reading events "
                                                 "(for tokens that cannot read all project events).")] = False,
    manifest_interval: Annotated[float, typer.Option("--manifest-interval", min=0.05, help="Minutes between "
                                                     "manifest comparisons (--poll-manifests).")] = 5.0,
    settle: Annotated[float, typer.Option("--settle", min=0.0, help="Seconds without new events before a "
                                          "changed project is re-indexed (a burst becomes one run).")] = 3.0,
    once: Annotated[bool, typer.Option("--once", help="Poll once, index what changed, exit.")] = False,
    lookback: Annotated[float, typer.Option("--lookback", min=0.0, help="Seconds of the feed re-read for "
                                            "events that become visible late.")] = 30.0,
    projects_config: Annotated[Path | None, typer.Option(help="Projects config (several projects).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the final report as JSON.")] = False,
) -> None:
    """Follow each project's events feed and make a change searchable within seconds."""
    from keboola_vectorizer.cli import render
    from keboola_vectorizer.cli.context import invocation
    from keboola_vectorizer.keboola.projects_config import project_sources
    from keboola_vectorizer.locking import collection_lock
    from keboola_vectorizer.store.factory import open_store
    from keboola_vectorizer.watch.loop import Watcher, WatchOptions

    inv = invocation(ctx)
    settings = inv.settings
    sources = project_sources(settings, projects_config)
    options = WatchOptions(poll_interval_s=poll_interval, settle_s=settle, max_wait_s=max(3 * settle, poll_interval),
                           poll_manifests=poll_manifests, manifest_interval_s=manifest_interval * 60, once=once,
                           lookback_s=lookback,
                           timeout_s=min(settings.kbc_timeout, 30.0), deadline_s=min(settings.kbc_retry_deadline, 60.0))
    stop = threading.Event()
    watcher = Watcher(sources, open_store=lambda: open_store(settings), embedder=lambda: _embedder(inv),
                      lock=lambda: collection_lock(settings, timeout_s=LOCK_WAIT_S), options=options, stop=stop)
    previous = _stop_on_signals(stop)
    try:
        notes = watcher.start()
        for note in notes:
            render.stderr.print(f"warning: {render.safe(note)}", highlight=False, soft_wrap=True)
        watchable = [p for p in watcher.projects if p.status == "watching"]
        if not watchable:
            if notes:
                raise ConfigError(notes[0])
            rejected = [p for p in watcher.projects if p.status == "skipped: token rejected"]
            if rejected and len(rejected) == len(watcher.projects):
                raise KeboolaAuthError("the Storage API rejected every project's token, nothing to watch",
                                       "set KBC_STORAGE_TOKEN (or the projects config's token secrets) to valid tokens")
        mode = f"manifests every {manifest_interval:g} min" if poll_manifests else f"events every {poll_interval:g} s"
        if not as_json:
            render.stderr.print(f"watching {len(watchable)} of {len(watcher.projects)} project(s) ({mode}, "
                             f"settle {settle:g} s); Ctrl+C or SIGTERM stops", highlight=False)
        report = watcher.run()
    finally:
        _restore(previous)
    if as_json:
        sys.stdout.write(json.dumps(report, default=str) + "\n")


def _embedder(inv: Any) -> Any:
    """The embedder the collection was built with, or the configured one for a new collection."""
    with inv.open_store() as store:
        meta = store.meta()
    return inv.embedder_for(meta) if meta is not None else inv.embedder(None, None, None)


def _stop_on_signals(stop: threading.Event) -> dict[int, Any]:
    """SIGTERM (Kubernetes) and SIGINT finish the step in progress and stop; the cursor is never half-written."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.signal(signum, handler)
    return previous


def _restore(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def status_lines(state: dict[str, Any]) -> list[str]:
    """`status`: one line per watched project (cursor, lags, when it was last indexed)."""
    projects = (state.get("watch") or {}).get("projects") or {}
    lines = []
    for project_id, cursor in sorted(projects.items()):
        if not isinstance(cursor, dict):
            continue
        where = f"manifest {str(cursor.get('manifest'))[:12]}" if cursor.get("mode") == "manifests" \
            else f"cursor {cursor.get('cursor')}"
        lags = ", ".join(f"{name} {cursor[key]:.1f} s" for name, key in
                         (("event lag", "event_lag_s"), ("index lag", "index_lag_s"))
                         if isinstance(cursor.get(key), (int, float)))
        lines.append(f"watch {project_id}: {where}, indexed {cursor.get('indexed_at') or 'never'}"
                     + (f", {lags}" if lags else ""))
    return lines
