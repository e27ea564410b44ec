"""Freshness benchmark of `watch`: how long from a change in Keboola until the index holds it.

Starts the fake Storage API (tests/fakes/storage_api.py) over a small two-project organisation
(tests/fakes/small_org.py), runs the real `keboola-vectorizer watch` as its own process against it with an
embedded store, waits for its first full index, then makes 24 changes of eight kinds (create table, add
column, describe table, rename table, load data, edit or create a configuration, delete a table, describe
a bucket; describing and deleting tables and creating and editing configurations go through the real
kbcstorage client over HTTP) plus read-only noise events, each with a random pause. A checker takes the
collection lock (so it never meets watch mid-write), opens the store and notes when each change is
visible. Then it counts the API calls of an idle minute and stops watch with SIGTERM.

    python scripts/bench_watch.py --json --poll-interval 5

Figures: `p50_seconds` / `p95_seconds` from each change to the store holding it; `lost` = changes not
visible within --timeout; `embedded_unchanged` = documents watch embedded beyond those whose text a change
altered, counted from the store between watch's writes (data loads and untouched neighbours should add
nothing); `idle_calls_per_minute` = Storage API requests per minute with
nothing changing. Event visibility delay on the fake: --event-delay seconds (a real stack adds seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from kbcstorage.client import Client  # noqa: E402

from keboola_vectorizer.config import Settings  # noqa: E402
from keboola_vectorizer.locking import collection_lock  # noqa: E402
from keboola_vectorizer.store.base import Hit  # noqa: E402
from keboola_vectorizer.store.edge import EdgeStore  # noqa: E402
from tests.fakes.small_org import TRANSFORMATION, write_small_org  # noqa: E402
from tests.fakes.storage_api import FakeStorageApi  # noqa: E402

PROJECTS = {9101: "Web shop", 9102: "Warehouse"}
REINDEXED = re.compile(r"project (\S+) re-indexed \((.*?)\) in [\d.]+ s: embedded (\d+)")
Check = Callable[[dict[str, Hit]], bool]


@dataclass
class Change:
    kind: str
    doc_id: str
    check: Check
    made_at: float = 0.0
    seen_at: float | None = None


class Writer:
    """Writes the Storage API takes synchronously go through the real kbcstorage client over HTTP; the
    rest (table creation, loads: async jobs on a real stack) through the fake's own edits."""

    def __init__(self, api: FakeStorageApi) -> None:
        self.api = api
        self.clients = {p: Client(api.url, api.token_for(p), file_storage_support=False) for p in PROJECTS}

    def describe_table(self, p: int, table_id: str, text: str) -> None:
        self.clients[p].tables.metadata.create(table_id, "user", [{"key": "KBC.description", "value": text}])

    def delete_table(self, p: int, table_id: str) -> None:
        self.clients[p].tables.delete(table_id)

    def create_configuration(self, p: int, component_id: str, config_id: str, name: str) -> None:
        self.clients[p].configurations.create(component_id, name, configuration_id=config_id)

    def edit_configuration(self, p: int, component_id: str, config_id: str, description: str) -> None:
        configurations = self.clients[p].configurations
        configurations._put(f"{configurations.base_url}/{component_id}/configs/{config_id}",
                            data={"description": description})


def _plan(api: FakeStorageApi) -> list[tuple[str, str, Callable[[], Any], Check]]:
    """24 changes: (kind, watched document id, the edit, when the store reflects it)."""
    edits, http = api.events, Writer(api)
    plan: list[tuple[str, str, Callable[[], Any], Check]] = []

    def exists(doc: str) -> Check:
        return lambda hits: doc in hits

    def gone(doc: str) -> Check:
        return lambda hits: doc not in hits

    def field(doc: str, name: str, value: Any) -> Check:
        return lambda hits: doc in hits and hits[doc].payload.get(name) == value

    def rows_at_least(doc: str, value: int) -> Check:
        return lambda hits: doc in hits and int(hits[doc].payload.get("rows_count") or 0) >= value

    rows = {p: 1200 for p in PROJECTS}
    for r in range(3):
        p = list(PROJECTS)[r % 2]
        inb, outb = f"in.c-shop-{p}", f"out.c-sales-{p}"
        table = f"{inb}.parcels{r}"
        rows[p] += 100 * (r + 1)
        plan += [
            ("create_table", f"{p}/table/{table}",
             lambda p=p, inb=inb, r=r: edits.create_table(p, inb, f"parcels{r}", ["parcel_id", "order_id"]),
             exists(f"{p}/table/{table}")),
            ("add_column", f"{p}/column/{table}.weight",
             lambda p=p, table=table: edits.add_column(p, table, "weight"), exists(f"{p}/column/{table}.weight")),
            ("describe_table", f"{p}/table/{table}",
             lambda p=p, table=table, r=r: http.describe_table(p, table, f"Parcels shipped in wave {r}"),
             field(f"{p}/table/{table}", "description", f"Parcels shipped in wave {r}")),
            ("rename_table", f"{p}/table/{table}",
             lambda p=p, table=table, r=r: edits.rename_table(p, table, f"Shipped parcels {r}"),
             field(f"{p}/table/{table}", "name", f"Shipped parcels {r}")),
            ("load_data", f"{p}/table/{inb}.orders",
             lambda p=p, inb=inb, r=r: edits.load_data(p, f"{inb}.orders", 100 * (r + 1)),
             rows_at_least(f"{p}/table/{inb}.orders", rows[p])),
        ]
        if r < 2:
            config = f"{p}/configuration/{TRANSFORMATION}/{p}7"
            plan.append(("edit_configuration", config,
                         lambda p=p, r=r: http.edit_configuration(p, TRANSFORMATION, f"{p}7", f"Weekly totals, v{r}"),
                         field(config, "description", f"Weekly totals, v{r}")))
        else:
            config = f"{p}/configuration/keboola.ex-http/{p}80"
            plan.append(("edit_configuration", config,
                         lambda p=p: http.edit_configuration(p, "keboola.ex-http", f"{p}80", "Feed of parcel scans"),
                         field(config, "description", "Feed of parcel scans")))
        plan.append(("create_configuration", f"{p}/configuration/keboola.ex-http/{p}8{r}",
                     lambda p=p, r=r: http.create_configuration(p, "keboola.ex-http", f"{p}8{r}", f"Download feed {r}"),
                     exists(f"{p}/configuration/keboola.ex-http/{p}8{r}")))
        if r < 2:
            plan.append(("delete_table", f"{p}/table/{inb}.customers",
                         lambda p=p, inb=inb: http.delete_table(p, f"{inb}.customers"),
                         gone(f"{p}/table/{inb}.customers")))
        else:
            plan.append(("describe_bucket", f"{p}/bucket/{outb}",
                         lambda p=p, outb=outb: edits.set_bucket_metadata(p, outb, "KBC.description",
                                                                          "Figures for the weekly report"),
                         field(f"{p}/bucket/{outb}", "description", "Figures for the weekly report")))
    # Round 2 edits the configuration round 0 created in the same project (rounds alternate projects).
    return plan


class Checker(threading.Thread):
    """Notes when each change is visible in the store, reading it between watch's writes (under the
    collection lock), and counts the documents whose text changed from one look to the next: the most
    any correct watcher had to embed (two runs between two looks count once, which only raises
    `embedded_unchanged`)."""

    def __init__(self, qdrant: Path, changes: list[Change]) -> None:
        super().__init__(daemon=True)
        self.qdrant, self.changes, self.stopping = qdrant, changes, threading.Event()
        self.settings = Settings(qdrant_path=qdrant)
        self.texts: dict[str, str] | None = None
        self.text_changes = 0

    def look(self) -> dict[str, Hit] | None:
        try:
            with collection_lock(self.settings, timeout_s=5):
                store = EdgeStore(self.qdrant)
                try:
                    return {h.document_id: h for h in store.scroll()}
                finally:
                    store.close()
        except Exception:  # the lock stayed busy: look again
            return None

    def run(self) -> None:
        while not self.stopping.is_set():
            hits = self.look()
            now = time.time()
            if hits is not None:
                texts = {doc: str(h.payload.get("text")) for doc, h in hits.items()}
                if self.texts is not None:
                    self.text_changes += sum(1 for doc, text in texts.items() if self.texts.get(doc) != text)
                self.texts = texts
                for change in [c for c in list(self.changes) if c.seen_at is None and c.made_at]:
                    if change.check(hits):
                        change.seen_at = now
            self.stopping.wait(0.25)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--poll-interval", type=float, default=5.0)
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument("--event-delay", type=float, default=1.0, help="seconds before an event is visible")
    parser.add_argument("--timeout", type=float, default=60.0, help="a change not visible by then is lost")
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle API calls counted")
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="kv-bench-watch-") as tmp:
        root = write_small_org(Path(tmp) / "org", PROJECTS)
        qdrant = Path(tmp) / "qdrant"
        config = Path(tmp) / "projects.yaml"
        with FakeStorageApi(root) as api:
            api.events.visibility_delay_s = args.event_delay
            tokens = {f"KV_BENCH_TOKEN_{p}": api.token_for(p) for p in PROJECTS}
            config.write_text("projects:\n" + "".join(f"  - url: {api.url}\n    token_env: KV_BENCH_TOKEN_{p}\n"
                                                      for p in PROJECTS))
            env = {**os.environ, **tokens, "HF_HUB_OFFLINE": "1", "QDRANT_PATH": str(qdrant), "LOG_FORMAT": "text",
                   "DD_DOGSTATSD_DISABLE": "true"}
            command = [sys.executable, "-m", "keboola_vectorizer.cli", "watch", "--projects-config", str(config),
                       "--poll-interval", str(args.poll_interval), "--settle", str(args.settle)]
            log_path = Path(tmp) / "watch.log"
            with log_path.open("w") as log:
                watch = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=log)
                try:
                    result = _measure(api, root, qdrant, log_path, rng, args)
                finally:
                    watch.send_signal(signal.SIGTERM)
                    try:
                        watch.wait(timeout=60)
                    except subprocess.TimeoutExpired:
                        watch.kill()
            result["watch_exit_code"] = watch.returncode
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>24}: {value}")


def _reindex_lines(log_path: Path) -> list[tuple[str, str, int]]:
    return [(m[1], m[2], int(m[3])) for m in REINDEXED.finditer(log_path.read_text(errors="replace"))]


def _measure(api: FakeStorageApi, root: Path, qdrant: Path, log_path: Path, rng: random.Random,
             args: argparse.Namespace) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while len([r for r in _reindex_lines(log_path) if r[1] == "first watch"]) < len(PROJECTS):
        if time.monotonic() > deadline:
            raise SystemExit(f"watch did not finish its first index:\n{log_path.read_text()[-2000:]}")
        time.sleep(0.5)
    plan = _plan(api)
    changes: list[Change] = []
    checker = Checker(qdrant, changes)
    checker.start()
    while checker.texts is None:
        time.sleep(0.1)
    for kind, doc_id, edit, check in plan:
        change = Change(kind, doc_id, check)
        change.made_at = time.time()
        edit()
        changes.append(change)
        if rng.random() < 0.3:  # chatter that changes nothing: exports of a table
            api.events.emit(list(PROJECTS)[0], "storage.tableExported", "table", "in.c-shop-9101.orders")
        time.sleep(rng.choice([0.2, 0.5, 1.0, 2.0, 3.0]))
    end = time.monotonic() + args.timeout
    while time.monotonic() < end and any(c.seen_at is None for c in changes):
        time.sleep(0.25)
    time.sleep(args.settle + 1)
    before = api.count()
    time.sleep(args.idle)
    idle_calls = api.count() - before
    checker.stopping.set()
    checker.join(timeout=10)
    needed = checker.text_changes
    lags = [c.seen_at - c.made_at for c in changes if c.seen_at is not None]
    embedded = sum(n for _, reason, n in _reindex_lines(log_path) if reason != "first watch")
    return {
        "changes": len(changes),
        "p50_seconds": round(statistics.median(lags), 2) if lags else None,
        "p95_seconds": round(_percentile(lags, 0.95), 2) if lags else None,
        "max_seconds": round(max(lags), 2) if lags else None,
        "lost": sum(1 for c in changes if c.seen_at is None),
        "lost_kinds": sorted({c.kind for c in changes if c.seen_at is None}),
        "embedded_unchanged": max(0, embedded - needed),
        "embedded": embedded,
        "text_changes": needed,
        "reindex_runs": len([r for r in _reindex_lines(log_path) if r[1] != "first watch"]),
        "idle_calls_per_minute": round(idle_calls * 60 / args.idle, 1),
        "poll_interval": args.poll_interval,
        "settle": args.settle,
        "event_delay": args.event_delay,
    }


if __name__ == "__main__":
    main()
