"""`watch` against the fake Storage API over HTTP (the real kbcstorage client inside KeboolaClient) and the
real Edge store: events feed shapes, classification, re-index on change, cursor in the store, faults."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from keboola_vectorizer.config import Settings
from keboola_vectorizer.keboola.client import KeboolaClient
from keboola_vectorizer.keboola.projects_config import ProjectSource
from keboola_vectorizer.locking import collection_lock
from keboola_vectorizer.metrics import Metrics, reset_metrics
from keboola_vectorizer.store.edge import EdgeStore
from keboola_vectorizer.watch.classify import ChangeKind, PendingChanges, classify
from keboola_vectorizer.watch.cursor import read_cursors
from keboola_vectorizer.watch.feed import EventsFeed
from keboola_vectorizer.watch.loop import Watcher, WatchOptions
from tests.fakes.small_org import TRANSFORMATION, write_small_org
from tests.fakes.storage_api import FakeStorageApi
from tests.test_metrics import Agent

P1, P2 = 9101, 9102


@pytest.fixture
def api(tmp_path: Path) -> Iterator[FakeStorageApi]:
    root = write_small_org(tmp_path / "org", {P1: "Web shop", P2: "Warehouse"}, non_master=(9103,))
    with FakeStorageApi(root) as fake:
        yield fake


def _client(api: FakeStorageApi, project_id: int = P1) -> KeboolaClient:
    return KeboolaClient(api.url, api.token_for(project_id), deadline_s=10, backoff_s=0.01, backoff_max_s=0.05)


def _watcher(api: FakeStorageApi, qdrant: Path, embedder: object, projects: tuple[int, ...] = (P1,),
             **options: object) -> Watcher:
    sources = [ProjectSource(api.url, SecretStr(api.token_for(p))) for p in projects]
    settings = Settings(qdrant_path=qdrant)
    defaults: dict[str, object] = {"once": True, "settle_s": 0.1, "poll_interval_s": 0.2, "lookback_s": 0.0,
                                   "deadline_s": 10.0}
    return Watcher(sources, open_store=lambda: EdgeStore(qdrant), embedder=lambda: embedder,
                   lock=lambda: collection_lock(settings, timeout_s=1.0),
                   options=WatchOptions(**{**defaults, **options}))  # type: ignore[arg-type]


def _run(watcher: Watcher) -> dict[str, dict[str, object]]:
    notes = watcher.start()
    assert notes == []
    report = watcher.run()
    return {str(p["project_id"]): p for p in report["projects"]}


def _hashes(qdrant: Path) -> dict[str, str]:
    store = EdgeStore(qdrant)
    try:
        return store.content_hashes()
    finally:
        store.close()


def _cursors(qdrant: Path) -> dict[int, int]:
    store = EdgeStore(qdrant)
    try:
        return {pid: c.cursor for pid, c in read_cursors(store).items()}
    finally:
        store.close()


# --- the events endpoint of the fake, through the real client -------------------------------------

def test_events_feed_has_keboola_shapes_and_filters(api: FakeStorageApi) -> None:
    created = api.events.create_table(P1, f"in.c-shop-{P1}", "returns", ["return_id", "order_id"])
    api.events.edit_configuration(P1, TRANSFORMATION, f"{P1}7", description="Sums order amounts per week")
    assert api.events.edit_configuration(P1, TRANSFORMATION, f"{P1}7",
                                         description="Sums order amounts per week") is None  # no change, no event
    api.events.load_data(P2, f"in.c-shop-{P2}.orders", 10)
    with _client(api) as client:
        events = client.get("events", {"sinceId": 0, "sortOrder": "asc", "limit": 100})
        assert [e["event"] for e in events] == ["storage.tableCreated", "storage.componentConfigurationChanged"]
        first, second = events
        assert set(first) >= {"id", "uuid", "event", "component", "message", "created", "params", "token",
                              "objectType", "objectId", "idBranch"}
        assert first["objectId"] == f"in.c-shop-{P1}.returns" and first["objectType"] == "table"
        assert second["params"] == {"component": TRANSFORMATION, "configurationId": f"{P1}7", "version": 4}
        assert int(second["id"]) > int(first["id"])
        assert client.get("events", {"sinceId": first["id"], "sortOrder": "asc"}) == [second]
        assert client.get("events", {"limit": 1})[0]["id"] == second["id"]  # newest first by default
        assert client.get("events", {"q": "event:storage.tableCreated"}) == [created]
    with _client(api, P2) as client:  # another project's events stay there
        assert [e["event"] for e in client.get("events")] == ["storage.tableImportDone"]


def test_a_token_without_the_right_lists_only_its_own_events(api: FakeStorageApi, tmp_path: Path) -> None:
    root = write_small_org(tmp_path / "limited", {9103: "Limited"}, non_master=(9103,))
    api.root = root
    api.events.create_table(9103, "in.c-shop-9103", "returns", ["id"])
    with _client(api, 9103) as client:
        assert client.get("events") == []


def test_classification() -> None:
    def kind(name: str, **extra: object) -> ChangeKind | None:
        change = classify({"id": "7", "event": name, **extra})
        return change.kind if change else None

    assert kind("storage.tableCreated") is ChangeKind.table
    assert kind("storage.tablePrimaryKeyDeleted") is ChangeKind.table
    assert kind("storage.tableMetadataSet") is ChangeKind.table
    assert kind("storage.bucketMetadataSet") is ChangeKind.bucket
    assert kind("storage.componentConfigurationRowChanged") is ChangeKind.configuration
    assert kind("storage.componentConfigurationRolledBack") is ChangeKind.configuration
    assert kind("storage.tableImportDone") is ChangeKind.data
    assert kind("storage.tableExported") is None
    assert kind("storage.tokenCreated") is None
    assert kind("ext.keboola.ex-db.jobFinished") is None
    pending = PendingChanges()
    pending.add([{"id": "8", "event": "storage.tableImportDone"}, {"id": "9", "event": "storage.tableExported"}])
    assert pending.data_only and pending.last_event_id == 9


def test_feed_returns_late_events_once_within_the_look_back(api: FakeStorageApi) -> None:
    clock = [100.0]
    with _client(api) as client:
        feed = EventsFeed(client, 0, lookback_s=30, clock=lambda: clock[0])
        a = api.events.create_table(P1, f"in.c-shop-{P1}", "a", ["id"])
        assert [e["id"] for e in feed.poll()] == [a["id"]]
        assert feed.poll() == [] and feed.floor == 0  # seen, but not yet older than the look-back
        clock[0] += 31
        assert feed.poll() == [] and feed.floor == int(a["id"])


# --- the watcher ----------------------------------------------------------------------------------

def test_first_watch_indexes_then_a_change_is_reindexed_and_the_cursor_moves(
        api: FakeStorageApi, tmp_path: Path, embedder: object) -> None:
    qdrant = tmp_path / "qdrant"
    first = _run(_watcher(api, qdrant, embedder))
    assert first[str(P1)]["reextracts"] == 1 and first[str(P1)]["embedded"] > 10  # "first watch"
    before = _hashes(qdrant)
    assert _cursors(qdrant) == {P1: 0}  # the project had no events yet
    api.events.create_table(P1, f"in.c-shop-{P1}", "returns", ["return_id", "order_id"])
    last = api.events.set_table_metadata(P1, f"in.c-shop-{P1}.customers", "KBC.description", "Loyal buyers")
    second = _run(_watcher(api, qdrant, embedder))
    assert second[str(P1)]["changes"] == 2 and second[str(P1)]["reextracts"] == 1  # one burst, one run
    after = _hashes(qdrant)
    added = set(after) - set(before)
    assert f"{P1}/table/in.c-shop-{P1}.returns" in added and f"{P1}/column/in.c-shop-{P1}.returns.order_id" in added
    assert after[f"{P1}/table/in.c-shop-{P1}.customers"] != before[f"{P1}/table/in.c-shop-{P1}.customers"]
    assert _cursors(qdrant) == {P1: int(last["id"])}
    quiet = _run(_watcher(api, qdrant, embedder))  # nothing new: one poll, no re-extract
    assert quiet[str(P1)]["reextracts"] == 0 and quiet[str(P1)]["polls"] == 1


def test_deleted_table_and_configuration_leave_the_index(api: FakeStorageApi, tmp_path: Path,
                                                         embedder: object) -> None:
    qdrant = tmp_path / "qdrant"
    _run(_watcher(api, qdrant, embedder))
    api.events.delete_table(P1, f"in.c-shop-{P1}.customers")
    api.events.delete_configuration(P1, TRANSFORMATION, f"{P1}7")
    _run(_watcher(api, qdrant, embedder))
    left = _hashes(qdrant)
    assert not any("customers" in doc_id for doc_id in left)
    assert f"{P1}/configuration/{TRANSFORMATION}/{P1}7" not in left


def test_expired_cursor_falls_back_to_a_full_reextract(api: FakeStorageApi, tmp_path: Path,
                                                        embedder: object) -> None:
    qdrant = tmp_path / "qdrant"
    api.events.create_table(P1, f"in.c-shop-{P1}", "a", ["id"])
    _run(_watcher(api, qdrant, embedder))
    cursor = _cursors(qdrant)[P1]
    assert cursor > 0
    later = api.events.create_table(P1, f"in.c-shop-{P1}", "b", ["id"])
    api.events.purge_before(P1, int(later["id"]) + 1)  # retention dropped the cursor's event and "b"'s
    watcher = _watcher(api, qdrant, embedder)
    watcher.start()
    assert watcher.projects[0].full_reason == "cursor expired"
    watcher.run()
    assert f"{P1}/table/in.c-shop-{P1}.b" in _hashes(qdrant)


def test_storage_429_and_503_back_off_and_go_on(api: FakeStorageApi, tmp_path: Path, embedder: object) -> None:
    qdrant = tmp_path / "qdrant"
    _run(_watcher(api, qdrant, embedder))
    api.events.create_table(P1, f"in.c-shop-{P1}", "returns", ["id"])
    api.add_fault("/events", "status", status=429, retry_after=0.05, times=2)
    api.add_fault("/tables", "status", status=503, times=1)
    _run(_watcher(api, qdrant, embedder))
    assert f"{P1}/table/in.c-shop-{P1}.returns" in _hashes(qdrant)


def test_a_revoked_token_is_reported_and_skipped_while_others_go_on(
        api: FakeStorageApi, tmp_path: Path, embedder: object, caplog: pytest.LogCaptureFixture) -> None:
    qdrant = tmp_path / "qdrant"
    _run(_watcher(api, qdrant, embedder, (P1, P2)))
    api.events.create_table(P1, f"in.c-shop-{P1}", "returns", ["id"])
    api.events.create_table(P2, f"in.c-shop-{P2}", "pallets", ["id"])
    watcher = _watcher(api, qdrant, embedder, (P1, P2))
    watcher.start()
    api.add_fault("/", "status", status=401, times=10**6, project_id=P1,
                  body={"error": "Invalid access token", "code": "storage.tokenInvalid"})
    with caplog.at_level("ERROR"):
        report = {p["project_id"]: p for p in watcher.run()["projects"]}
    assert report[P1]["status"] == "skipped: token rejected"
    assert any(f"project {P1}" in r.getMessage() and "rejected the token" in r.getMessage() for r in caplog.records)
    assert api.token_for(P1) not in caplog.text
    hashes = _hashes(qdrant)
    assert f"{P2}/table/in.c-shop-{P2}.pallets" in hashes and f"{P1}/table/in.c-shop-{P1}.returns" not in hashes


def test_poll_manifests_sees_a_configuration_edit(api: FakeStorageApi, tmp_path: Path, embedder: object) -> None:
    qdrant = tmp_path / "qdrant"
    _run(_watcher(api, qdrant, embedder, poll_manifests=True))
    unchanged = _run(_watcher(api, qdrant, embedder, poll_manifests=True))
    assert unchanged[str(P1)]["reextracts"] == 0  # the stored manifest digest matched
    before = _hashes(qdrant)[f"{P1}/configuration/{TRANSFORMATION}/{P1}7"]
    api.events.edit_configuration(P1, TRANSFORMATION, f"{P1}7", description="Weekly order totals")
    changed = _run(_watcher(api, qdrant, embedder, poll_manifests=True))
    assert changed[str(P1)]["reextracts"] == 1
    assert _hashes(qdrant)[f"{P1}/configuration/{TRANSFORMATION}/{P1}7"] != before
    assert api.count("/events") == 0  # manifests mode never reads the feed


def test_stop_event_ends_a_running_watch(api: FakeStorageApi, tmp_path: Path, embedder: object) -> None:
    watcher = _watcher(api, tmp_path / "qdrant", embedder, once=False)
    watcher.start()
    thread = threading.Thread(target=watcher.run)
    thread.start()

    def wait_for(reextracts: int) -> None:
        deadline = time.monotonic() + 120  # generous: the machine may be busy
        while watcher.projects[0].counts["reextracts"] < reextracts and time.monotonic() < deadline:
            time.sleep(0.05)
        assert watcher.projects[0].counts["reextracts"] >= reextracts

    try:
        wait_for(1)  # the first watch's full index
        api.events.create_table(P1, f"in.c-shop-{P1}", "returns", ["id"])
        wait_for(2)  # then the change
    finally:
        watcher.stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_data_load_updates_the_payload_and_embeds_nothing(api: FakeStorageApi, tmp_path: Path,
                                                            embedder: object) -> None:
    qdrant = tmp_path / "qdrant"
    _run(_watcher(api, qdrant, embedder))
    api.events.load_data(P1, f"in.c-shop-{P1}.orders", 300)
    report = _run(_watcher(api, qdrant, embedder))
    assert report[str(P1)]["reextracts"] == 1 and report[str(P1)]["embedded"] == 0
    store = EdgeStore(qdrant)
    try:
        (hit,) = store.retrieve([f"{P1}/table/in.c-shop-{P1}.orders"])
    finally:
        store.close()
    assert hit.payload["rows_count"] == 1500


def test_a_foreign_index_run_overlapping_a_reindex_sends_the_project_to_a_full_reextract(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from keboola_vectorizer.watch.overlap import OverlapGuard

    state_store = EdgeStore(tmp_path / "qdrant")  # only its state file is used
    guard = OverlapGuard()
    guard.ran(P1, SimpleNamespace(started_at="2026-12-01T10:00:00+00:00", finished_at="2026-12-01T10:00:04+00:00"))
    guard.ran(P2, SimpleNamespace(started_at="2026-12-01T10:05:00+00:00", finished_at="2026-12-01T10:05:02+00:00"))

    def last_run(started: str, finished: str, projects: list[int]) -> dict[int, str]:
        state_store.write_state({"last_run": {"started_at": started, "finished_at": finished,
                                              "per_project": {str(p): {} for p in projects}}})
        guard.next_check = 0.0
        return guard.check(lambda: EdgeStore(tmp_path / "qdrant"), 1.0)

    assert last_run("2026-12-01T09:59:00+00:00", "2026-12-01T10:01:00+00:00", [P1, P2]) == {
        P1: "overlapping index run"}
    assert last_run("2026-12-01T09:59:00+00:00", "2026-12-01T10:01:00+00:00", [P1, P2]) == {}  # seen already
    assert last_run("2026-12-01T10:00:00+00:00", "2026-12-01T10:00:04+00:00", [P1]) == {}  # watch's own run
    assert last_run("2026-12-01T10:06:00+00:00", "2026-12-01T10:09:00+00:00", [P1, P2]) == {}  # after both
    assert last_run("2026-12-01T10:04:00+00:00", "2026-12-01T10:06:00+00:00", [P1]) == {}  # P2 not in it


@pytest.fixture
def dogstatsd(monkeypatch: pytest.MonkeyPatch) -> Iterator[Agent]:
    fake = Agent()
    for name in ("DD_DOGSTATSD_URL", "DD_DOGSTATSD_DISABLE", "DD_TAGS", "DATADOG_TAGS", "DD_ENTITY_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DD_AGENT_HOST", "127.0.0.1")
    monkeypatch.setenv("DD_DOGSTATSD_PORT", str(fake.port))
    reset_metrics(None)
    yield fake
    reset_metrics(Metrics.disabled())
    fake.sock.close()


def test_watch_metrics_reach_dogstatsd(api: FakeStorageApi, tmp_path: Path, embedder: object,
                                       dogstatsd: Agent) -> None:
    qdrant = tmp_path / "qdrant"
    _run(_watcher(api, qdrant, embedder))
    api.events.create_table(P1, f"in.c-shop-{P1}", "returns", ["id"])
    _run(_watcher(api, qdrant, embedder))
    lines = dogstatsd.lines()
    names = {line.split(":", 1)[0].removeprefix("keboola_vectorizer.") for line in lines}
    assert {"watch.polls", "watch.events", "watch.event_lag", "watch.index_lag", "watch.reextracts"} <= names
    reasons = sorted(line.split("reason:")[1].split(",")[0] for line in lines if "watch.reextracts" in line)
    assert reasons == ["changes", "first_watch"]
    assert all(f"project_id:{P1}" in line for line in lines if line.startswith("keboola_vectorizer.watch."))


def test_writes_through_kbcstorage_change_the_organisation_and_emit_events(api: FakeStorageApi) -> None:
    from kbcstorage.client import Client

    client = Client(api.url, api.token_for(P1), file_storage_support=False)
    table = f"in.c-shop-{P1}.customers"
    client.tables.metadata.create(table, "user", [{"key": "KBC.description", "value": "Buyers"}],
                                  [{"columnName": "email", "key": "KBC.description", "value": "Login"}])
    client.configurations.create(TRANSFORMATION, "Weekly sales", description="Per week", configuration_id="77")
    client.tables.delete(f"in.c-shop-{P1}.orders")
    client.configurations.delete(TRANSFORMATION, f"{P1}7")
    names = [e["event"] for e in client.tokens._get(f"{api.url}/v2/storage/events", params={"sortOrder": "asc"})]
    assert names == ["storage.tableMetadataSet", "storage.tableMetadataSet", "storage.componentConfigurationCreated",
                     "storage.tableDeleted", "storage.componentConfigurationDeleted"]
    tables = {t["id"]: t for t in client.tables.list(include=["metadata", "columnMetadata"])}
    assert f"in.c-shop-{P1}.orders" not in tables
    assert tables[table]["metadata"][-1]["value"] == "Buyers"
    assert tables[table]["columnMetadata"]["email"][-1]["value"] == "Login"
    configs = [c["id"] for comp in client.components.list() for c in comp["configurations"]]
    assert configs == ["77"]
