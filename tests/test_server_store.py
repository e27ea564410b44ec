"""Server-backend behaviour beyond the shared contract: what ServerStore asks Qdrant for (collection
shape, payload indexes, query form), how it fails (unreachable, bad key, transient errors), cluster
health and snapshots.

Most tests use qdrant-client's local mode and spy on the client calls; local mode has no cluster
and no snapshots, so those paths run against small fakes of the client methods. Tests marked
`qdrant_server` run against a real server when QDRANT_URL is set.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from qdrant_client import QdrantClient, models

from keboola_vectorizer.errors import StoreError
from keboola_vectorizer.store.base import (
    DATETIME_FIELDS,
    INTEGER_FIELDS,
    KEYWORD_FIELDS,
    CollectionMeta,
    QueryVectors,
    RankParams,
    SearchFilters,
    SparseVector,
)
from keboola_vectorizer.store.server import (
    META_KEY,
    SERVER_CAPABILITIES,
    ServerOptions,
    ServerStore,
    hashes_digest,
    redact_url,
)
from tests.fakes.http_json import send_json

from .test_store_contract import META, POINTS, ids, query_sparse

SECRET = "sekrit-api-key-0123456789"
FAST_RETRY = ServerOptions(retry_attempts=3, retry_deadline_s=3.0, retry_initial_s=0.01, retry_max_s=0.05)
QDRANT_URL = os.environ.get("QDRANT_URL")


class Spy:
    """Wraps one client method, recording every call's keyword arguments."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self.calls: list[dict[str, Any]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return self.target(*args, **kwargs)


@pytest.fixture
def client() -> Iterator[QdrantClient]:
    client = QdrantClient(":memory:")
    yield client
    client.close()


def spy(monkeypatch: pytest.MonkeyPatch, client: QdrantClient, method: str) -> Spy:
    wrapper = Spy(getattr(client, method))
    monkeypatch.setattr(client, method, wrapper)
    return wrapper


# ----- collection shape -----------------------------------------------------------------------

def test_collection_config_passed_through(client: QdrantClient, monkeypatch: pytest.MonkeyPatch) -> None:
    create = spy(monkeypatch, client, "create_collection")
    options = ServerOptions(shard_number=6, replication_factor=2, write_consistency_factor=2,
                            on_disk_payload=True, hnsw_m=32, hnsw_ef_construct=200)
    store = ServerStore(client=client, options=options)
    store.ensure(META)
    (kwargs,) = create.calls
    assert kwargs["shard_number"] == 6
    assert kwargs["replication_factor"] == 2
    assert kwargs["write_consistency_factor"] == 2
    assert kwargs["on_disk_payload"] is True
    assert kwargs["hnsw_config"] == models.HnswConfigDiff(m=32, ef_construct=200)
    dense = kwargs["vectors_config"]["dense"]
    assert (dense.size, dense.distance) == (4, models.Distance.COSINE)
    assert kwargs["sparse_vectors_config"]["bm25"].modifier == models.Modifier.IDF
    assert kwargs["metadata"][META_KEY]["embedder_id"] == META.embedder_id
    # What local mode keeps of it
    info = client.get_collection(store.physical_name() or "")
    assert info.config.params.vectors["dense"].size == 4  # type: ignore[index]
    assert info.config.params.sparse_vectors["bm25"].modifier == models.Modifier.IDF  # type: ignore[index]


def test_payload_index_on_every_filter_field(client: QdrantClient, monkeypatch: pytest.MonkeyPatch) -> None:
    index = spy(monkeypatch, client, "create_payload_index")
    ServerStore(client=client).ensure(META)
    requested = {(c["field_name"], c["field_schema"]) for c in index.calls}
    expected = ({(f, models.PayloadSchemaType.KEYWORD) for f in KEYWORD_FIELDS}
                | {(f, models.PayloadSchemaType.INTEGER) for f in INTEGER_FIELDS}
                | {(f, models.PayloadSchemaType.DATETIME) for f in DATETIME_FIELDS})
    assert requested == expected
    assert all(c["wait"] for c in index.calls)


def test_alias_points_at_timestamped_collection(client: QdrantClient) -> None:
    store = ServerStore(client=client, collection="kv")
    store.ensure(META)
    physical = store.physical_name()
    assert physical and re.fullmatch(r"kv-\d{8}T\d{12}Z", physical)
    assert [(a.alias_name, a.collection_name) for a in client.get_aliases().aliases] == [("kv", physical)]


def test_foreign_collection_is_refused(client: QdrantClient) -> None:
    client.create_collection("keboola-metadata",
                             vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE))
    store = ServerStore(client=client)
    with pytest.raises(StoreError, match="build metadata") as excinfo:
        store.ensure(META)
    assert "--rebuild" in excinfo.value.one_line()


def test_failed_create_leaves_nothing_behind(client: QdrantClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from qdrant_client.http.exceptions import UnexpectedResponse

    def refuse(**kwargs: Any) -> None:
        raise UnexpectedResponse(400, "Bad Request", b'{"status": {"error": "bad index"}}', httpx.Headers())

    monkeypatch.setattr(client, "create_payload_index", refuse)
    store = ServerStore(client=client)
    with pytest.raises(StoreError, match="HTTP 400 bad index"):
        store.ensure(META)
    assert client.get_collections().collections == []
    assert store.meta() is None


def test_rebuild_replaces_plain_collection_and_drops_orphans(client: QdrantClient) -> None:
    client.create_collection("kv", vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE))
    store = ServerStore(client=client, collection="kv")
    leftover = store.start_rebuild(META)  # a rebuild that "died" before promote
    staging = store.start_rebuild(META)
    assert not client.collection_exists(leftover.name)  # dropped as an orphan
    staging.upsert(POINTS)
    store.promote(staging)
    assert store.physical_name() == staging.name
    assert store.meta() == META and store.count() == len(POINTS)
    assert store.orphan_collections() == []


def test_staging_store_is_invisible_until_promoted(client: QdrantClient) -> None:
    store = ServerStore(client=client)
    store.ensure(META)
    old = store.physical_name()
    staging = store.start_rebuild(META)
    staging.upsert(POINTS)
    assert store.count() == 0
    store.promote(staging)
    assert store.count() == len(POINTS)
    assert not client.collection_exists(old or "")


def test_server_local_path_persists(tmp_path: Path) -> None:
    """qdrant-client's on-disk local mode keeps collection, alias and metadata across clients."""
    client = QdrantClient(path=str(tmp_path / "local"))
    first = ServerStore(client=client, owns_client=True)
    first.ensure(META)
    first.upsert(POINTS[:2])
    first.write_state({"last_run": {"upserted": 2}})
    first.close()
    second = ServerStore(client=QdrantClient(path=str(tmp_path / "local")), owns_client=True)
    try:
        assert second.meta() == META
        assert second.count() == 2
        assert second.read_state() == {"last_run": {"upserted": 2}}
    finally:
        second.close()


# ----- requests -------------------------------------------------------------------------------

def test_hybrid_is_one_query_with_two_prefetches_and_rrf(client: QdrantClient,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    store = ServerStore(client=client, options=ServerOptions(read_consistency="majority"))
    store.ensure(META)
    store.upsert(POINTS)
    query = spy(monkeypatch, client, "query_points")
    filters = SearchFilters(project_ids=[9002], kinds=["table"])
    store.query(QueryVectors(dense=[0, 1, 0, 0], sparse=query_sparse("orders")), "hybrid", filters, 5)
    (kwargs,) = query.calls
    assert kwargs["query"] == models.RrfQuery(rrf=models.Rrf(k=20, weights=[1.0, 1.0]))  # RankParams()
    assert [p.using for p in kwargs["prefetch"]] == ["dense", "bm25"]
    assert all(p.limit >= 5 and p.filter == kwargs["query_filter"] for p in kwargs["prefetch"])
    must = kwargs["query_filter"].must
    assert [(c.key, c.match.any) for c in must] == [("project_id", [9002]), ("kind", ["table"])]
    assert kwargs["consistency"] == models.ReadConsistencyType.MAJORITY


def test_rrf_weights_and_k(client: QdrantClient, monkeypatch: pytest.MonkeyPatch) -> None:
    # Equal weights put the extractor first (top BM25 hit); nearly all weight on dense puts the
    # top dense hit first.
    store = ServerStore(client=client)
    store.ensure(META)
    store.upsert(POINTS)
    query = spy(monkeypatch, client, "query_points")
    vectors = QueryVectors(dense=[0, 1, 0, 0], sparse=query_sparse("snowflake extractor"))
    hits = store.query(vectors, "hybrid", SearchFilters(), 3, RankParams(rrf_k=10, sparse_weight=0.01))
    assert query.calls[0]["query"] == models.RrfQuery(rrf=models.Rrf(k=10, weights=[1.0, 0.01]))
    assert ids(hits)[0] == "9001/table/out.c-sales.orders"
    default = store.query(vectors, "hybrid", SearchFilters(), 3, RankParams(rrf_k=2))
    assert ids(default)[0] == "9001/configuration/keboola.ex-db-snowflake/7314"


def test_upserts_in_batches_in_parallel(client: QdrantClient, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ServerStore(client=client, options=ServerOptions(upsert_batch_size=2, upsert_parallel=3))
    store.ensure(META)
    threads: set[str] = set()
    sizes: list[int] = []
    lock = threading.Lock()

    def fake_upsert(**kwargs: Any) -> None:
        assert kwargs["wait"] is True
        time.sleep(0.05)  # long enough for the pool to hand batches to several threads
        with lock:
            threads.add(threading.current_thread().name)
            sizes.append(len(kwargs["points"]))

    monkeypatch.setattr(client, "upsert", fake_upsert)
    # Pretend to be a server (local mode upserts on one thread); its cluster is healthy.
    monkeypatch.setattr(store, "capabilities", SERVER_CAPABILITIES)
    monkeypatch.setattr(store, "_write_checked", True)
    store.upsert(POINTS)
    assert sorted(sizes) == [2, 2, 2]
    assert len(threads) > 1


# ----- failures -------------------------------------------------------------------------------

def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_url_fails_fast_with_hint(caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    store = ServerStore(url=url, api_key=SECRET, timeout=2, options=FAST_RETRY)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING), pytest.raises(StoreError) as excinfo:
        store.meta()
    assert time.monotonic() - started < 5
    error = excinfo.value
    assert error.exit_code == 6
    assert f"Qdrant at {url} is unreachable" in error.message
    assert "QDRANT_URL" in error.hint
    assert "retry" in caplog.text  # each retry is logged
    assert SECRET not in error.one_line() and SECRET not in caplog.text
    store.close()


class _FakeQdrant(BaseHTTPRequestHandler):
    """Answers every request with the server's `responses` queue (status, JSON body), last repeated."""

    responses: list[tuple[int, dict[str, Any]]] = []
    seen: list[tuple[str, str, str | None]] = []

    def _answer(self) -> None:
        self.seen.append((self.command, self.path, self.headers.get("api-key")))
        status, body = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        send_json(self, status, body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake_qdrant() -> Iterator[tuple[str, type[_FakeQdrant]]]:
    handler = type("Handler", (_FakeQdrant,), {"responses": [], "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_api_key(fake_qdrant: tuple[str, type[_FakeQdrant]], status: int,
                          caplog: pytest.LogCaptureFixture) -> None:
    url, handler = fake_qdrant
    handler.responses = [(status, {"status": {"error": f"Invalid api-key {SECRET}"}, "time": 0})]
    store = ServerStore(url=url, api_key=SECRET, options=FAST_RETRY)
    with caplog.at_level(logging.DEBUG), pytest.raises(StoreError) as excinfo:
        store.ensure(META)
    error = excinfo.value
    assert error.message.startswith("Qdrant rejected the API key")
    assert "QDRANT_API_KEY" in error.hint
    assert SECRET not in error.one_line() and SECRET not in caplog.text
    assert len(handler.seen) == 1  # auth failures are not retried
    assert handler.seen[0][2] == SECRET  # the key was sent as the api-key header
    store.close()


def test_transient_errors_are_retried(fake_qdrant: tuple[str, type[_FakeQdrant]],
                                      caplog: pytest.LogCaptureFixture) -> None:
    url, handler = fake_qdrant
    handler.responses = [
        (503, {"status": {"error": "service unavailable"}, "time": 0}),
        (502, {"status": {"error": "bad gateway"}, "time": 0}),
        (200, {"result": {"aliases": []}, "status": "ok", "time": 0}),
        (200, {"result": {"exists": False}, "status": "ok", "time": 0}),
    ]
    store = ServerStore(url=url, api_key=SECRET, options=FAST_RETRY)
    with caplog.at_level(logging.WARNING):
        assert store.meta() is None
    assert [path for _, path, _ in handler.seen] == ["/aliases"] * 3 + ["/collections/keboola-metadata/exists"]
    assert caplog.text.count("retry") == 2
    store.close()


def test_server_error_after_retries_is_store_error(fake_qdrant: tuple[str, type[_FakeQdrant]]) -> None:
    url, handler = fake_qdrant
    handler.responses = [(500, {"status": {"error": "disk full"}, "time": 0})]
    store = ServerStore(url=url, options=FAST_RETRY)
    with pytest.raises(StoreError, match="HTTP 500 disk full"):
        store.meta()
    assert len(handler.seen) == FAST_RETRY.retry_attempts


class _StatefulQdrant(BaseHTTPRequestHandler):
    """Just enough of Qdrant's REST API, with state, to see what ServerStore sends on the wire:
    collections with metadata, aliases, payload indexes, counts and the cluster endpoints."""

    collections: dict[str, dict[str, Any]] = {}
    aliases: dict[str, str] = {}
    requests: list[tuple[str, str, Any]] = []
    info_template: dict[str, Any] = {}

    def _reply(self, result: Any, status: int = 200) -> None:
        body = {"result": result, "status": "ok", "time": 0} if status < 400 else \
            {"status": {"error": str(result)}, "time": 0}
        send_json(self, status, body)

    def _route(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        path = self.path.split("?")[0]
        self.requests.append((self.command, path, body))
        parts = path.strip("/").split("/")
        method = self.command
        if path == "/aliases" and method == "GET":
            return self._reply({"aliases": [{"alias_name": a, "collection_name": c}
                                            for a, c in self.aliases.items()]})
        if path == "/collections/aliases" and method == "POST":
            for action in body["actions"]:
                if "delete_alias" in action:
                    self.aliases.pop(action["delete_alias"]["alias_name"])
                if "create_alias" in action:
                    create = action["create_alias"]
                    self.aliases[create["alias_name"]] = create["collection_name"]
            return self._reply(True)
        if path == "/collections" and method == "GET":
            return self._reply({"collections": [{"name": n} for n in self.collections]})
        if path == "/cluster":
            return self._reply({"status": "disabled"})
        name = self.aliases.get(parts[1], parts[1]) if len(parts) > 1 else ""
        if len(parts) == 2 and method == "PUT":
            self.collections[parts[1]] = {"metadata": body.get("metadata") or {}, "points": 0}
            return self._reply(True)
        if name not in self.collections:
            return self._reply(f"Collection `{parts[1]}` doesn't exist!", 404) if parts[-1] != "exists" \
                else self._reply({"exists": False})
        if parts[-1] == "exists":
            return self._reply({"exists": True})
        if len(parts) == 2 and method == "GET":
            info = json.loads(json.dumps(self.info_template))
            info["config"]["metadata"] = self.collections[name]["metadata"]
            return self._reply(info)
        if len(parts) == 2 and method == "DELETE":
            del self.collections[name]
            return self._reply(True)
        if len(parts) == 2 and method == "PATCH":
            self.collections[name]["metadata"].update(body.get("metadata") or {})
            return self._reply(True)
        if parts[-1] == "index":
            return self._reply({"operation_id": 1, "status": "completed"})
        if parts[-1] == "cluster":
            return self._reply({"peer_id": 1, "shard_count": 1, "remote_shards": [], "shard_transfers": [],
                                "local_shards": [{"shard_id": 0, "points_count": 0, "state": "Active"}]})
        if parts[-2:] == ["points", "count"]:
            return self._reply({"count": self.collections[name]["points"]})
        if parts[-1] == "points" and method == "PUT":
            self.collections[name]["points"] += len(body["points"])
            return self._reply({"operation_id": 2, "status": "completed"})
        return self._reply(f"unexpected {method} {path}", 500)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _route

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def rest_qdrant(client: QdrantClient) -> Iterator[tuple[str, type[_StatefulQdrant]]]:
    client.create_collection("template", vectors_config={"dense": models.VectorParams(
        size=4, distance=models.Distance.COSINE)})
    template = client.get_collection("template").model_dump(mode="json", exclude_none=True)
    handler = type("Handler", (_StatefulQdrant,), {"collections": {}, "aliases": {}, "requests": [],
                                                    "info_template": template})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_rest_requests_for_create_and_rebuild(rest_qdrant: tuple[str, type[_StatefulQdrant]]) -> None:
    """The JSON a real server receives: collection shape and metadata, indexes, one atomic alias switch."""
    url, handler = rest_qdrant
    store = ServerStore(url=url, api_key=SECRET, options=ServerOptions(
        shard_number=6, replication_factor=2, write_consistency_factor=2, **{
            k: getattr(FAST_RETRY, k) for k in ("retry_attempts", "retry_deadline_s", "retry_initial_s",
                                                "retry_max_s")}))
    store.ensure(META)
    creates = [(p, b) for m, p, b in handler.requests if m == "PUT" and p.count("/") == 2]
    (path, body), = creates
    first = path.rsplit("/", 1)[-1]
    assert re.fullmatch(r"keboola-metadata-\d{8}T\d{12}Z", first)
    assert body["vectors"] == {"dense": {"size": 4, "distance": "Cosine"}}
    assert body["sparse_vectors"] == {"bm25": {"modifier": "idf"}}
    assert (body["shard_number"], body["replication_factor"], body["write_consistency_factor"],
            body["on_disk_payload"]) == (6, 2, 2, True)
    assert body["metadata"]["keboola_vectorizer"] == {"embedder_id": META.embedder_id, "dimension": 4,
                                                       "distance": "cosine", "sparse": "bm25",
                                                       "schema_version": 1}
    indexes = {b["field_name"]: b["field_schema"] for m, p, b in handler.requests if p.endswith("/index")}
    assert indexes["project_id"] == "integer" and indexes["kind"] == "keyword"
    assert indexes["last_changed_at"] == "datetime" and "content_hash" not in indexes
    assert handler.aliases == {"keboola-metadata": first}

    store.write_state({"last_run": {"upserted": 1}})
    assert handler.collections[first]["metadata"]["keboola_vectorizer_state"] == {"last_run": {"upserted": 1}}
    assert store.read_state() == {"last_run": {"upserted": 1}}

    staging = store.start_rebuild(META)
    staging.upsert(POINTS[:2])
    handler.requests.clear()
    store.promote(staging)
    switches = [b for m, p, b in handler.requests if p == "/collections/aliases"]
    assert switches == [{"actions": [{"delete_alias": {"alias_name": "keboola-metadata"}},
                                     {"create_alias": {"collection_name": staging.name,
                                                       "alias_name": "keboola-metadata"}}]}]
    assert handler.aliases == {"keboola-metadata": staging.name}
    assert set(handler.collections) == {staging.name}  # the old physical collection is gone
    store.close()


def test_location_and_messages_hide_credentials() -> None:
    store = ServerStore(url=f"https://user:{SECRET}@qdrant.example.com:6333/?api_key={SECRET}",
                        api_key=SECRET, options=FAST_RETRY)
    assert store.location == "https://qdrant.example.com:6333"
    assert store.client._client.rest_uri.startswith("https://")  # TLS from the scheme
    assert SECRET not in repr(store.options)
    assert redact_url("http://a:b@h:1/x?k=v#f") == "http://h:1/x"


def test_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from keboola_vectorizer.config import Settings

    settings = Settings(qdrant_url="https://q.example.com:6333", qdrant_api_key=SECRET,
                        qdrant_collection="kv", qdrant_shard_number=6, qdrant_replication_factor=3,
                        qdrant_write_consistency_factor=2, qdrant_read_consistency="quorum")
    store = ServerStore.from_settings(settings)
    assert store.name == "kv"
    assert (store.options.shard_number, store.options.replication_factor,
            store.options.write_consistency_factor, store.options.read_consistency) == (6, 3, 2, "quorum")
    assert store.location == "https://q.example.com:6333"
    store.close()


# ----- cluster health ---------------------------------------------------------------------------

def test_local_mode_is_not_distributed(client: QdrantClient) -> None:
    store = ServerStore(client=client)
    store.ensure(META)
    health = store.cluster_health()
    assert not health.distributed and "not distributed" in health.detail and health.ok
    assert store.check_writable().ok
    checks = store.doctor_checks()
    assert [c.name for c in checks] == ["qdrant reachable", "qdrant collection", "qdrant cluster"]
    assert all(c.ok for c in checks), checks


def _fake_cluster(monkeypatch: pytest.MonkeyPatch, store: ServerStore, states: dict[int, list[str]]) -> None:
    """A 3-peer cluster as seen from peer 1: shard -> replica states on peers 1, 2, 3."""
    client = store.client
    local, remote = [], []
    for shard_id, shard_states in states.items():
        for peer_id, state in enumerate(shard_states, start=1):
            if peer_id == 1:
                local.append(models.LocalShardInfo(shard_id=shard_id, points_count=1, state=state))
            else:
                remote.append(models.RemoteShardInfo(shard_id=shard_id, peer_id=peer_id, state=state))
    info = models.CollectionClusterInfo(peer_id=1, shard_count=len(states), local_shards=local,
                                        remote_shards=remote, shard_transfers=[])
    status = models.ClusterStatusOneOf1(
        status="enabled", peer_id=1,
        peers={str(i): models.PeerInfo(uri=f"http://qdrant-{i - 1}:6335/") for i in (1, 2, 3)},
        raft_info=models.RaftInfo(term=1, commit=1, pending_operations=0, leader=1,
                                  role=models.StateRole.LEADER, is_voter=True),
        consensus_thread_status=models.ConsensusThreadStatusOneOf(consensus_thread_status="working",
                                                                  last_update="2025-01-01T00:00:00Z"),
        message_send_failures={})
    monkeypatch.setattr(client, "cluster_status", lambda: status)
    monkeypatch.setattr(client, "collection_cluster_info", lambda name: info)
    monkeypatch.setattr(store, "capabilities", SERVER_CAPABILITIES)


def test_degraded_cluster_warns_but_writes(client: QdrantClient, monkeypatch: pytest.MonkeyPatch,
                                           caplog: pytest.LogCaptureFixture) -> None:
    store = ServerStore(client=client, options=ServerOptions(write_consistency_factor=1, upsert_parallel=1))
    store.ensure(META)
    _fake_cluster(monkeypatch, store, {0: ["Active", "Dead"], 1: ["Active", "Partial"]})
    health = store.cluster_health()
    assert health.distributed and health.ok
    assert health.peers == {1: "http://qdrant-0:6335/", 2: "http://qdrant-1:6335/", 3: "http://qdrant-2:6335/"}
    assert health.warnings == ["shard 0 replica on peer 2 is Dead", "shard 1 replica on peer 2 is Partial"]
    with caplog.at_level(logging.WARNING):
        store.upsert(POINTS[:1])
    assert "is Dead" in caplog.text
    assert store.count() == 1


def test_too_few_active_replicas_refuses_writes(client: QdrantClient, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ServerStore(client=client, options=ServerOptions(write_consistency_factor=2))
    store.ensure(META)
    _fake_cluster(monkeypatch, store, {0: ["Active", "Active"], 1: ["Active", "Dead"]})
    health = store.cluster_health()
    assert not health.ok
    assert health.problems == ["shard 1 has 1 Active replica(s), writes need 2 (write_consistency_factor)"]
    with pytest.raises(StoreError, match="cannot take writes") as excinfo:
        store.upsert(POINTS[:1])
    assert "write_consistency_factor" in excinfo.value.hint
    assert not store.doctor_checks()[-1].ok


def test_write_consistency_never_exceeds_replicas(client: QdrantClient,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    store = ServerStore(client=client, options=ServerOptions(write_consistency_factor=2))
    store.ensure(META)
    _fake_cluster(monkeypatch, store, {0: ["Active"], 1: ["Active"]})  # one replica per shard
    assert store.cluster_health().ok


def test_cluster_status_forbidden_for_scoped_key(client: QdrantClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """A collection-scoped JWT may not read GET /cluster; the shard check still runs."""
    from qdrant_client.http.exceptions import UnexpectedResponse

    store = ServerStore(client=client, options=ServerOptions(write_consistency_factor=2))
    store.ensure(META)
    _fake_cluster(monkeypatch, store, {0: ["Active", "Dead"]})

    def forbidden() -> None:
        raise UnexpectedResponse(403, "Forbidden", b"{}", httpx.Headers())

    monkeypatch.setattr(client, "cluster_status", forbidden)
    health = store.cluster_health()
    assert health.distributed and health.peers == {}
    assert health.problems == ["shard 0 has 1 Active replica(s), writes need 2 (write_consistency_factor)"]


# ----- snapshots ------------------------------------------------------------------------------

def test_snapshots_unsupported_in_local_mode(client: QdrantClient) -> None:
    store = ServerStore(client=client)
    store.ensure(META)
    for call in (store.create_snapshot, store.list_snapshots, lambda: store.restore_snapshot("x.snapshot")):
        with pytest.raises(StoreError, match="local mode"):
            call()


class FakeSnapshots:
    """Server snapshot endpoints over a local-mode client: a snapshot remembers the points and
    metadata, recovery puts them back (optionally losing one point, like an incomplete restore)."""

    def __init__(self, client: QdrantClient) -> None:
        self.client = client
        self.saved: dict[str, tuple[list[models.Record], dict[str, Any]]] = {}
        self.recovered: list[dict[str, Any]] = []
        self.lose_a_point = False

    def create_snapshot(self, collection_name: str, wait: bool = True) -> models.SnapshotDescription:
        records, _ = self.client.scroll(collection_name, limit=10_000, with_payload=True, with_vectors=True)
        metadata = dict(self.client.get_collection(collection_name).config.metadata or {})
        name = f"{collection_name}-{len(self.saved)}-2025-01-01-00-00-00.snapshot"
        self.saved[name] = (records, metadata)
        return models.SnapshotDescription(name=name, creation_time="2025-01-01T00:00:00", size=123,
                                          checksum="abc")

    def list_snapshots(self, collection_name: str) -> list[models.SnapshotDescription]:
        return [models.SnapshotDescription(name=n, creation_time="2025-01-01T00:00:00", size=123)
                for n in self.saved if n.startswith(collection_name)]

    def recover_snapshot(self, **kwargs: Any) -> bool:
        self.recovered.append(kwargs)
        name = kwargs["location"].rsplit("/", 1)[-1]
        records, metadata = self.saved[name]
        collection = kwargs["collection_name"]
        self.client.delete(collection, points_selector=models.FilterSelector(filter=models.Filter()))
        keep = records[1:] if self.lose_a_point else records
        self.client.upsert(collection, points=[models.PointStruct(id=r.id, vector=r.vector, payload=r.payload)
                                               for r in keep])
        self.client.update_collection(collection, metadata=metadata)
        return True


@pytest.fixture
def snap_store(client: QdrantClient, monkeypatch: pytest.MonkeyPatch) -> tuple[ServerStore, FakeSnapshots]:
    store = ServerStore(client=client)
    store.ensure(META)
    store.upsert(POINTS)
    fake = FakeSnapshots(client)
    for method in ("create_snapshot", "list_snapshots", "recover_snapshot"):
        monkeypatch.setattr(client, method, getattr(fake, method))
    _fake_cluster(monkeypatch, store, {0: ["Active"]})
    return store, fake


def test_snapshot_create_list_restore_verifies(snap_store: tuple[ServerStore, FakeSnapshots]) -> None:
    store, fake = snap_store
    info = store.create_snapshot()
    physical = store.physical_name()
    assert info.collection == physical and info.points == len(POINTS)
    assert info.hashes_digest == hashes_digest(store.content_hashes())
    assert [p.name for p in info.peers] == [info.name]
    listed = store.list_snapshots()
    assert [s.name for s in listed] == [info.name] and listed[0].points == len(POINTS)

    store.delete([POINTS[0].document_id])  # the damage the restore repairs
    store.upsert([])
    restored = store.restore_snapshot(info.name)
    assert restored.name == info.name
    (call,) = fake.recovered
    assert call["priority"] == models.SnapshotPriority.SNAPSHOT
    assert call["collection_name"] == physical
    assert call["location"] == f"file:///qdrant/snapshots/{physical}/{info.name}"
    assert store.count() == len(POINTS)
    assert [s.name for s in store.list_snapshots()] == [info.name]  # records survive the restore


def test_restore_detects_missing_points(snap_store: tuple[ServerStore, FakeSnapshots]) -> None:
    store, fake = snap_store
    info = store.create_snapshot()
    fake.lose_a_point = True
    with pytest.raises(StoreError, match=f"holds {len(POINTS) - 1} points; the snapshot held {len(POINTS)}"):
        store.restore_snapshot(info.name)


def test_restore_by_location_uses_embedded_manifest(snap_store: tuple[ServerStore, FakeSnapshots]) -> None:
    store, fake = snap_store
    info = store.create_snapshot()
    location = f"http://backup-host:6333/collections/x/snapshots/{info.name}"
    restored = store.restore_snapshot(location)
    assert fake.recovered[0]["location"] == location
    assert restored.points == len(POINTS) and restored.hashes_digest == info.hashes_digest


def test_single_peer_snapshot_warns_about_other_shards(client: QdrantClient,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    store = ServerStore(client=client)
    store.ensure(META)
    store.upsert(POINTS[:2])
    fake = FakeSnapshots(client)
    monkeypatch.setattr(client, "create_snapshot", fake.create_snapshot)
    # shard 1 has no replica on peer 1: a snapshot through peer 1 misses it
    _fake_cluster(monkeypatch, store, {0: ["Active", "Active", "Dead"], 1: ["Dead", "Active", "Active"]})
    client.collection_cluster_info = lambda name: models.CollectionClusterInfo(  # type: ignore[method-assign]
        peer_id=1, shard_count=2, shard_transfers=[],
        local_shards=[models.LocalShardInfo(shard_id=0, points_count=1, state=models.ReplicaState.ACTIVE)],
        remote_shards=[models.RemoteShardInfo(shard_id=1, peer_id=2, state=models.ReplicaState.ACTIVE)])
    info = store.create_snapshot()
    assert info.warnings and "shards [1]" in info.warnings[0]


# ----- against a real server --------------------------------------------------------------------

@pytest.mark.qdrant_server
@pytest.mark.skipif(not QDRANT_URL, reason="QDRANT_URL is not set: no Qdrant server to test against")
def test_real_server_health_and_snapshot_round_trip() -> None:
    """The contract suite runs against the server through its `server-remote` parameter; this adds
    what only a server has: cluster information and snapshots."""
    assert QDRANT_URL
    store = ServerStore(url=QDRANT_URL, api_key=os.environ.get("QDRANT_API_KEY"),
                        collection=f"kv-test-{uuid.uuid4().hex[:12]}",
                        options=ServerOptions(replication_factor=1, shard_number=1))
    try:
        store.ensure(META)
        store.upsert(POINTS)
        assert store.check_writable().ok
        assert all(c.ok for c in store.doctor_checks())
        info = store.create_snapshot()
        assert info.points == len(POINTS)
        assert info.name in [s.name for s in store.list_snapshots()]
        store.delete([POINTS[0].document_id])
        store.restore_snapshot(info.name)
        assert store.count() == len(POINTS)
    finally:
        store.drop()
        store.close()


def test_sparse_vectors_round_trip(client: QdrantClient) -> None:
    store = ServerStore(client=client)
    store.ensure(CollectionMeta(embedder_id="t", dimension=4))
    store.upsert(POINTS[:1])
    vectors = store.retrieve([POINTS[0].document_id], with_vectors=True)[0].payload["_vectors"]
    stored = SparseVector(vectors["bm25"]["indices"], vectors["bm25"]["values"])
    assert sorted(stored.indices) == sorted(POINTS[0].sparse.indices)
