"""Cluster health of the server backend: peers and shard replica states, the write check run before
a store's first write, and the checks `doctor` shows."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from qdrant_client import models

from keboola_vectorizer.errors import StoreError
from keboola_vectorizer.store.server.metadata import collection_info
from keboola_vectorizer.store.types import DoctorCheck

if TYPE_CHECKING:
    from keboola_vectorizer.store.server.store import ServerStore

log = logging.getLogger(__name__)


@dataclass
class ShardReplica:
    shard_id: int
    peer_id: int
    state: str


@dataclass
class ClusterHealth:
    """Peers and shard replica states of the collection (`GET /collections/{name}/cluster`)."""

    distributed: bool
    detail: str
    peers: dict[int, str] = field(default_factory=dict)
    replicas: list[ShardReplica] = field(default_factory=list)
    write_consistency_factor: int = 1
    problems: list[str] = field(default_factory=list)  # writes would fail
    warnings: list[str] = field(default_factory=list)  # degraded but working

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


def cluster_health(store: ServerStore) -> ClusterHealth:
    """Peers and replica states of every shard of the collection.

    problems: shards whose Active replicas are fewer than write_consistency_factor (writes fail);
    warnings: Dead / Partial / recovering replicas (still writable, but degraded)."""
    wcf = store.options.write_consistency_factor
    if not store.capabilities.cluster:
        return ClusterHealth(distributed=False, detail="not distributed (qdrant-client local mode)",
                             write_consistency_factor=wcf)
    peers: dict[int, str] = {}
    distributed: bool | None = None
    try:
        status = store.caller.call("cluster status", store.client.cluster_status)
        distributed = getattr(status, "status", "") == "enabled"
        if distributed:
            peers = {int(pid): str(info.uri) for pid, info in (status.peers or {}).items()}
    except StoreError as exc:
        # A key scoped to collections (JWT RBAC) may not read GET /cluster; the collection's
        # own cluster info below is what the write check needs.
        if not getattr(exc, "auth_failed", False):
            raise
    info = collection_info(store)
    if info is None:
        return ClusterHealth(distributed=bool(distributed), peers=peers, write_consistency_factor=wcf,
                             detail=f"collection '{store.name}' does not exist yet")
    wcf = info.config.params.write_consistency_factor or wcf
    physical = store.physical_name() or store.name
    cluster = store.caller.call("collection cluster info", store.client.collection_cluster_info, physical)
    replicas = [ShardReplica(s.shard_id, cluster.peer_id, str(s.state)) for s in cluster.local_shards]
    replicas += [ShardReplica(s.shard_id, s.peer_id, str(s.state)) for s in cluster.remote_shards]
    if distributed is None:  # GET /cluster was not allowed: infer from the shard layout
        distributed = bool(cluster.remote_shards)
    health = ClusterHealth(distributed=distributed, peers=peers, replicas=replicas,
                           write_consistency_factor=wcf,
                           detail=(f"{len(peers)} peers, {cluster.shard_count} shards" if distributed
                                   else "not distributed (cluster mode off)"))
    by_shard: dict[int, list[ShardReplica]] = {}
    for replica in replicas:
        by_shard.setdefault(replica.shard_id, []).append(replica)
    for shard_id, shard_replicas in sorted(by_shard.items()):
        active = sum(1 for r in shard_replicas if r.state == models.ReplicaState.ACTIVE.value)
        # A shard never needs more acknowledgements than it has replicas (a single node, or a
        # collection created with fewer replicas than write_consistency_factor).
        needed = min(wcf, len(shard_replicas))
        if active < needed:
            health.problems.append(f"shard {shard_id} has {active} Active replica(s), writes need "
                                   f"{needed} (write_consistency_factor)")
        for r in shard_replicas:
            if r.state != models.ReplicaState.ACTIVE.value:
                health.warnings.append(f"shard {shard_id} replica on peer {r.peer_id} is {r.state}")
    return health


def check_writable(store: ServerStore) -> ClusterHealth:
    """Refuse to write when a shard cannot reach write_consistency_factor; log degraded replicas."""
    health = cluster_health(store)
    for warning in health.warnings:
        log.warning("Qdrant: %s", warning)
    if health.problems:
        raise StoreError(f"Qdrant at {store.location} cannot take writes: {'; '.join(health.problems)}",
                         hint=f"wait for the peers to recover (GET /collections/{store.name}/cluster) "
                              "or lower write_consistency_factor")
    return health


def doctor_checks(store: ServerStore) -> list[DoctorCheck]:
    """Checks for `keboola-vectorizer doctor`; none raises, each says what it found."""
    checks: list[DoctorCheck] = []

    def run(name: str, fn: Callable[[], str]) -> bool:
        try:
            checks.append(DoctorCheck(name, True, fn()))
            return True
        except StoreError as exc:
            checks.append(DoctorCheck(name, False, exc.one_line()))
            return False

    def reachable() -> str:
        if store.caller.in_process:
            return store.location
        version = store.caller.call("server info", store.client.info).version
        plain = " (API key over plain HTTP)" if store.has_api_key and store.location.startswith("http:") else ""
        return f"{store.location}, Qdrant {version}{plain}"

    def collection() -> str:
        meta = store.meta()
        if meta is None:
            return f"'{store.name}' does not exist yet (the first index run creates it)"
        return f"'{store.name}' -> {store.physical_name()}: {meta.describe()}, {store.count()} points"

    def cluster() -> str:
        health = store.check_writable()
        text = health.detail
        return f"{text}; degraded: {'; '.join(health.warnings)}" if health.warnings else text

    if run("qdrant reachable", reachable):
        run("qdrant collection", collection)
        run("qdrant cluster", cluster)
    return checks
