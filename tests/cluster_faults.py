"""Cluster faults on the server backend, and SIGTERM on the CLI, as fault-matrix scenarios.

There is no Qdrant server binary here (no Docker), so a cluster is *modelled*: `ModelCluster` stands in
for a `QdrantClient` in front of a 3-node cluster (6 shards, replication factor 2, shard s on nodes s % 3
and (s + 1) % 3) and forwards to one real `QdrantClient(":memory:")`. What it models is what Qdrant
documents and its maintainers describe (qdrant/qdrant#3043, #4626, docs "write consistency factor"):

- a write is accepted when at least `write_consistency_factor` replicas of every shard it touches are
  up; replicas that were down miss it and are stale until a shard transfer recovers them;
- otherwise it answers HTTP 500 ("... does not have enough active replicas") *after applying the write
  on the replicas that are up* (Qdrant does not roll back: the client must re-apply);
- a stale replica, when a read at consistency 1 lands on it, answers without what it missed;
- reads during a shard transfer may fail transiently (pessimistic; Qdrant normally serves them).

So these scenarios measure what `ServerStore` and the pipeline do given that behaviour, not Qdrant's
behaviour itself. docs/reliability.md says which is which.
"""

from __future__ import annotations

import json
import signal
import time
import uuid
from typing import Any

from tests import fault_scenarios as fs

NODES, SHARDS = 3, 6


def _unavailable(what: str) -> Exception:
    import httpx
    from qdrant_client.http.exceptions import UnexpectedResponse

    message = f"Service internal error: The replica set for shard {what} does not have enough active replicas"
    body = json.dumps({"status": {"error": message}}).encode()
    return UnexpectedResponse(500, "Internal Server Error", body, httpx.Headers())


class ModelCluster:
    """A `QdrantClient` stand-in modelling replicas over one in-memory Qdrant (see the module doc)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.down: set[int] = set()
        self.missed: dict[int, set[str]] = {n: set() for n in range(NODES)}  # point ids per stale node
        self.stale_reads = False  # reads at consistency 1 land on a stale replica
        self.failing_reads = 0  # reads that fail transiently (a shard transfer in progress)
        self.write_consistency = 1
        self.upserts = self.failed_upserts = self.failed_reads = 0

    @staticmethod
    def replicas(point: Any) -> tuple[int, int]:
        shard = uuid.UUID(str(point)).int % SHARDS
        return shard % NODES, (shard + 1) % NODES

    def create_collection(self, *args: Any, **kwargs: Any) -> Any:
        self.write_consistency = int(kwargs.get("write_consistency_factor") or 1)
        return self._inner.create_collection(*args, **kwargs)

    def upsert(self, *args: Any, points: list[Any], **kwargs: Any) -> Any:
        self.upserts += 1
        short = [p for p in points if sum(n not in self.down for n in self.replicas(p.id)) < self.write_consistency]
        answer = self._inner.upsert(*args, points=points, **kwargs)  # applied where replicas are up
        for point in points:
            for node in self.replicas(point.id):
                if node in self.down:
                    self.missed[node].add(str(point.id))
        if short:
            self.failed_upserts += 1
            raise _unavailable(f"{uuid.UUID(str(short[0].id)).int % SHARDS} (1 of 2 replicas active, "
                               f"write_consistency_factor {self.write_consistency})")
        return answer

    def recover(self) -> None:
        """Every node up, every stale replica brought up to date by a shard transfer."""
        self.down.clear()
        for missed in self.missed.values():
            missed.clear()
        self.stale_reads = False

    def _read(self, name: str) -> Any:
        method = getattr(self._inner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.failing_reads:
                self.failing_reads -= 1
                self.failed_reads += 1
                raise _unavailable("2 (shard transfer in progress)")
            answer = method(*args, **kwargs)
            if name in ("scroll", "count") and self.stale_reads:
                stale = set().union(*self.missed.values())
                if name == "count":  # the stale replica counts what it holds
                    from qdrant_client.http.models import CountResult

                    held, _ = self._inner.scroll(collection_name=kwargs["collection_name"],
                                                 scroll_filter=kwargs.get("count_filter"), limit=1_000_000)
                    return CountResult(count=sum(str(r.id) not in stale for r in held))
                records, offset = answer
                return [r for r in records if str(r.id) not in stale], offset
            return answer

        return call

    def __getattr__(self, name: str) -> Any:
        if name in ("scroll", "query_points", "count", "retrieve"):
            return self._read(name)
        return getattr(self._inner, name)


def _store(cluster: ModelCluster, *, write_consistency: int = 1, interactive: bool = False) -> Any:
    from keboola_vectorizer.store import fail_fast
    from keboola_vectorizer.store.server import ServerOptions, ServerStore

    options = ServerOptions(write_consistency_factor=write_consistency, replication_factor=2, shard_number=SHARDS,
                            retry_attempts=5, retry_deadline_s=5.0, retry_initial_s=0.05, retry_max_s=0.2)
    if interactive:
        options = fail_fast.interactive(options)
    return ServerStore(cluster, options=options, owns_client=False)


def _index(lab: fs.Lab, store: Any) -> Any:
    from keboola_vectorizer.embedding.openai import OpenAIEmbedder
    from keboola_vectorizer.keboola.snapshot import Snapshot
    from keboola_vectorizer.pipeline import run_index

    embedder = OpenAIEmbedder(api_key=lab.openai.api_key, base_url=lab.openai.base_url)
    try:
        return run_index(Snapshot(lab.baseline_snapshot), store, embedder, batch_size=fs.BATCH)
    except Exception as exc:  # noqa: BLE001 - the scenario reports it
        return exc


def _cluster_run(lab: fs.Lab, name: str, where: str, body: Any) -> fs.Outcome:
    from qdrant_client import QdrantClient

    out = fs.Outcome(name, where)
    started = time.monotonic()
    inner = QdrantClient(":memory:")
    try:
        with lab.scenario() as (_env, openai, _qdrant):
            lab.openai = openai
            cluster = ModelCluster(inner)
            body(out, cluster)
            cluster.recover()
            out.settle(lab.baseline, fs.read_store(_store(cluster)))
    finally:
        inner.close()
    out.seconds = time.monotonic() - started
    return out


def node_down_consistency_1(lab: fs.Lab) -> fs.Outcome:
    """Node 2 of 3 stops before the first upsert; write consistency 1: every write is accepted."""
    def body(out: fs.Outcome, cluster: ModelCluster) -> None:
        cluster.down.add(2)
        result = _index(lab, _store(cluster, write_consistency=1))
        out.checks["completes"] = not isinstance(result, Exception)
        out.checks["no upsert failed"] = cluster.failed_upserts == 0
        stale = len(cluster.missed[2])
        out.checks["node 2's replicas are stale"] = stale > 0
        out.outcome = (f"completed, {cluster.upserts} upserts, none failed; {stale} points missing on node 2's "
                       "replicas until the shard transfer")
    return _cluster_run(lab, "one of 3 nodes gone during upserts, write consistency 1",
                        "modelled cluster (6 shards x 2 replicas), node 2 down from upsert 1", body)


def node_down_consistency_2(lab: fs.Lab) -> fs.Outcome:
    """Write consistency 2 with node 2 gone: writes touching its shards answer 500 (applied on the live
    replica anyway); retried to the deadline, the run fails with exit 6; with the node back the rerun
    re-applies what failed and converges."""
    from keboola_vectorizer.errors import StoreError

    def body(out: fs.Outcome, cluster: ModelCluster) -> None:
        cluster.down.add(2)
        failed = _index(lab, _store(cluster, write_consistency=2))
        out.checks["StoreError (exit 6)"] = isinstance(failed, StoreError) and failed.exit_code == 6
        out.checks["names the replicas"] = isinstance(failed, StoreError) and "HTTP 500" in failed.message
        attempts = cluster.failed_upserts
        cluster.recover()
        rerun = _index(lab, _store(cluster, write_consistency=2))
        out.checks["rerun completes"] = not isinstance(rerun, Exception)
        out.outcome = (f"exit 6 after {attempts} failed upserts (HTTP 500); node back, rerun embedded "
                       f"{getattr(rerun, 'embedded', None)}")
    return _cluster_run(lab, "one of 3 nodes gone during upserts, write consistency 2",
                        "modelled cluster, node 2 down for the whole run", body)


def node_back_with_stale_replicas(lab: fs.Lab) -> fs.Outcome:
    """Node 2 missed a whole run (consistency 1), comes back stale, and the next run's diff reads at
    consistency 1 land on it: the run re-embeds what the stale replica lacks — extra work, no loss."""
    def body(out: fs.Outcome, cluster: ModelCluster) -> None:
        cluster.down.add(2)
        first = _index(lab, _store(cluster))
        missing = len(cluster.missed[2])
        cluster.down.clear()
        cluster.stale_reads = True
        rerun = _index(lab, _store(cluster))
        out.checks["both runs complete"] = not isinstance(first, Exception) and not isinstance(rerun, Exception)
        embedded = getattr(rerun, "embedded", None)
        out.checks["re-embeds exactly what the stale replica lacks"] = embedded == missing
        out.outcome = (f"stale replica lacked {missing} points; the next run re-embedded and re-upserted "
                       f"{embedded}, idempotently")
    return _cluster_run(lab, "node back with stale replicas, diff read at consistency 1",
                        "modelled cluster, node 2 missed run 1", body)


def read_during_shard_transfer(lab: fs.Lab) -> fs.Outcome:
    """Searches (interactive settings) while a shard transfer makes reads fail: one failed read is
    retried quietly and the search answers; two fail with the one error line, at once."""
    from keboola_vectorizer.errors import StoreError
    from keboola_vectorizer.search import search

    def body(out: fs.Outcome, cluster: ModelCluster) -> None:
        built = _index(lab, _store(cluster))
        out.checks["index completes"] = not isinstance(built, Exception)
        store = _store(cluster, interactive=True)
        embedder = _openai(lab)
        cluster.failing_reads = 1
        results = search(store, lambda: embedder, "campaign", limit=5)
        out.checks["one failed read: answered"] = len(results) == 5
        cluster.failing_reads = 2
        started = time.monotonic()
        try:
            search(store, lambda: embedder, "campaign", limit=5)
            gave_up = None
        except StoreError as exc:
            gave_up = exc
        seconds = time.monotonic() - started
        out.checks["two failed reads: exit 6"] = gave_up is not None and gave_up.exit_code == 6
        out.outcome = (f"1 failed read: answered after one quiet retry; 2 failed reads: exit 6 in "
                       f"{seconds:.1f} s")
    return _cluster_run(lab, "read during a shard transfer (reads answer 500)",
                        "modelled cluster, `search` with interactive retries", body)


def _openai(lab: fs.Lab) -> Any:
    from keboola_vectorizer.embedding.openai import OpenAIEmbedder

    return OpenAIEmbedder(api_key=lab.openai.api_key, base_url=lab.openai.base_url)


def term_during_upsert(lab: fs.Lab) -> fs.Outcome:
    """SIGTERM (what Kubernetes sends a pod first) half-way through an upsert: the run stops at once,
    nothing to drain; the next run embeds only what was not stored."""
    out = fs.Outcome("SIGTERM half-way through an upsert", "Qdrant Edge upsert of batch 3 of 4")
    started = time.monotonic()
    with lab.scenario(KV_TEST_KILL="upsert:3", KV_TEST_SIGNAL="TERM") as (env, _openai, qdrant):
        stopped = fs.run(lab.index_args(), env, helper=True)
        out.checks["stopped by SIGTERM"] = stopped.returncode == -signal.SIGTERM
        env.pop("KV_TEST_KILL")
        out.outcome, rerun_ok = fs._resume(lab, env, qdrant, out)
        out.checks["rerun exit 0"] = rerun_ok
        out.settle(lab.baseline, fs.read_edge(qdrant))
    out.seconds = time.monotonic() - started
    return out


def term_during_embed(lab: fs.Lab) -> fs.Outcome:
    """SIGTERM while the CLI waits on an embed request: it exits at once, not after the request."""
    from tests.fakes.openai_server import Fault

    out = fs.Outcome("SIGTERM while an embed request is in flight", "CLI process, OpenAI request 3 of 4 (60 s)")
    started = time.monotonic()
    with lab.scenario(OPENAI_TIMEOUT="60") as (env, openai, qdrant):
        openai.inject(Fault.slow(60), at=3)
        with fs.index_in_background(lab, env) as process:
            out.checks["request 3 reached"] = fs.wait_for(lambda: openai.requests >= 3, 60)
            sent = time.monotonic()
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=30)
            took = time.monotonic() - sent
        out.checks["stopped by SIGTERM"] = process.returncode == -signal.SIGTERM
        out.outcome, rerun_ok = fs._resume(lab, env, qdrant, out)
        out.outcome = f"exited {took:.2f} s after SIGTERM; " + out.outcome
        out.checks["rerun exit 0"] = rerun_ok
        out.settle(lab.baseline, fs.read_edge(qdrant))
    out.seconds = time.monotonic() - started
    return out


CLUSTER = [node_down_consistency_1, node_down_consistency_2, node_back_with_stale_replicas,
           read_during_shard_transfer]
TERM = [term_during_embed, term_during_upsert]
ALL = CLUSTER + TERM
