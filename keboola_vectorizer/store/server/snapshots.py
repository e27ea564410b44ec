"""Server backups: a collection snapshot on every peer (each holds only its own shards), a manifest
of what it held in the collection metadata, and a restore verified against that manifest."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from qdrant_client import QdrantClient, models

from keboola_vectorizer.errors import StoreError
from keboola_vectorizer.store.plan import generation_stamp
from keboola_vectorizer.store.server.aliases import switch_alias
from keboola_vectorizer.store.server.calls import make_client, redact_url
from keboola_vectorizer.store.server.metadata import (
    KEEP_SNAPSHOT_RECORDS,
    MANIFEST_KEY,
    SNAPSHOTS_KEY,
    read_metadata,
    snapshot_records,
    update_metadata,
)
from keboola_vectorizer.store.types import PeerSnapshot, SnapshotInfo, hashes_digest

if TYPE_CHECKING:
    from keboola_vectorizer.store.server.store import ServerStore

log = logging.getLogger(__name__)


def _require_snapshots(store: ServerStore, hint: str = "use a Qdrant server (QDRANT_URL)") -> None:
    if not store.capabilities.snapshots:
        raise StoreError("snapshots are not supported by qdrant-client's local mode", hint=hint)


def _peer_clients(store: ServerStore) -> list[tuple[str, QdrantClient, bool]]:
    """(peer URL, client, owned) for every peer to snapshot; the main client alone by default."""
    # Own clients with a long timeout: creating or recovering a snapshot takes minutes on a big
    # collection, and a timed-out request must not be retried while the first still runs.
    if not store.options.peer_urls:
        client, owned = _long_client(store)
        return [("", client, owned)]
    return [(redact_url(url), make_client(url, store.api_key, store.options.snapshot_timeout_s), True)
            for url in store.options.peer_urls]


def _long_client(store: ServerStore) -> tuple[QdrantClient, bool]:
    """(client, owned) for the main URL with the snapshot timeout; the given client otherwise."""
    if store.url:
        return make_client(store.url, store.api_key, store.options.snapshot_timeout_s), True
    return store.client, False


def create_snapshot(store: ServerStore) -> SnapshotInfo:
    """Snapshot the collection on every peer (a collection snapshot holds one node's shards).

    What the snapshot holds (point count, digest of the content hashes) is written into the
    collection metadata first, so each snapshot carries its own manifest, and recorded in the list
    of snapshots afterwards."""
    _require_snapshots(store, "use a Qdrant server (QDRANT_URL); back up a local store by copying its directory")
    physical = store.physical_name()
    if physical is None:
        raise StoreError(f"collection '{store.name}' does not exist at {store.location}",
                         hint="run `keboola-vectorizer index` first")
    hashes = store.content_hashes()
    manifest = {"collection": physical, "points": len(hashes), "hashes_digest": hashes_digest(hashes),
                "taken_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    update_metadata(store, {MANIFEST_KEY: manifest})
    info = SnapshotInfo(name="", collection=physical, points=manifest["points"],
                        hashes_digest=manifest["hashes_digest"], taken_at=manifest["taken_at"])
    for peer_url, client, owned in _peer_clients(store):
        try:
            desc = store.caller.call(f"create snapshot on {peer_url or store.location}", client.create_snapshot,
                                     collection_name=physical, wait=True, retry=False)
        finally:
            if owned:
                client.close()
        if desc is None:
            raise StoreError(f"Qdrant at {peer_url or store.location} returned no snapshot description")
        info.peers.append(PeerSnapshot(peer=peer_url, name=desc.name, size=desc.size,
                                       checksum=desc.checksum, created_at=desc.creation_time))
    info.name = info.peers[0].name
    if not store.options.peer_urls:
        info.warnings.extend(_single_peer_gaps(store, physical))
    records = [r for r in snapshot_records(store) if r.get("name") != info.name]
    records.append(info.to_dict())
    update_metadata(store, {SNAPSHOTS_KEY: records[-KEEP_SNAPSHOT_RECORDS:]})
    return info


def _single_peer_gaps(store: ServerStore, physical: str) -> list[str]:
    """In a cluster a snapshot through one URL holds only that peer's shards: say which are missing."""
    try:
        cluster = store.client.collection_cluster_info(physical)
    except Exception:  # noqa: BLE001 - informational only
        return []
    local = {s.shard_id for s in cluster.local_shards}
    missing = sorted({s.shard_id for s in cluster.remote_shards} - local)
    if not missing:
        return []
    return [f"this snapshot holds peer {cluster.peer_id}'s shards only; shards {missing} live on other "
            "peers: set the peer URLs to snapshot every peer"]


def list_snapshots(store: ServerStore) -> list[SnapshotInfo]:
    """Snapshots on the server for the current collection, joined with the recorded manifests."""
    _require_snapshots(store)
    physical = store.physical_name()
    if physical is None:
        return []
    recorded = {r["name"]: SnapshotInfo.from_dict(r) for r in snapshot_records(store) if "name" in r}
    out: list[SnapshotInfo] = []
    for desc in store.caller.call("list snapshots", store.client.list_snapshots, physical):
        known = recorded.get(desc.name)
        if known is None:
            known = SnapshotInfo(name=desc.name, collection=physical, points=None, hashes_digest=None,
                                 taken_at=desc.creation_time,
                                 peers=[PeerSnapshot("", desc.name, desc.size, desc.checksum, desc.creation_time)])
        out.append(known)
    return sorted(out, key=lambda s: s.taken_at or "")


def _location_for(store: ServerStore, collection: str, name_or_location: str) -> str:
    if re.match(r"^(https?|file)://", name_or_location):
        return name_or_location
    return f"file://{store.options.snapshots_dir.rstrip('/')}/{collection}/{name_or_location}"


def restore_snapshot(store: ServerStore, name_or_location: str, *, verify: bool = True) -> SnapshotInfo:
    """Recover the collection from a snapshot (with priority=snapshot, so replicas do not sync back
    the current data), point the alias at it and check the point count and content hashes against
    what the snapshot held.

    `name_or_location` is a snapshot name (recovered from `snapshots_dir` on the node, on every peer
    for a recorded multi-peer snapshot) or a URL / file:// location."""
    _require_snapshots(store)
    current = store.physical_name()
    records = snapshot_records(store) if current is not None else []
    recorded = next((SnapshotInfo.from_dict(r) for r in records
                     if r.get("name") == name_or_location
                     or any(p.get("name") == name_or_location for p in r.get("peers", []))), None)
    target = recorded.collection if recorded else current
    if target is None:
        base_name = name_or_location.split("/")[-1]
        match = re.match(rf"^({re.escape(store.name)}-\d{{8}}T\d{{12}}Z)-", base_name)
        target = match.group(1) if match else f"{store.name}-{generation_stamp()}"
    plan: list[tuple[str, QdrantClient, bool, str]] = []
    if recorded and store.options.peer_urls and len(recorded.peers) > 1:
        by_peer = {p.peer: p for p in recorded.peers}
        for peer_url, client, owned in _peer_clients(store):
            peer = by_peer.get(peer_url)
            if peer is None:
                if owned:
                    client.close()
                continue
            plan.append((peer_url, client, owned, _location_for(store, target, peer.name)))
    else:
        client, owned = _long_client(store)
        plan.append(("", client, owned, _location_for(store, target, name_or_location)))
    checksum = None
    if recorded and len(plan) == 1:
        checksum = next((p.checksum for p in recorded.peers if p.name == name_or_location), None)
    for peer_url, client, owned, location in plan:
        try:
            store.caller.call(f"recover snapshot on {peer_url or store.location}", client.recover_snapshot,
                              collection_name=target, location=location,
                              priority=models.SnapshotPriority.SNAPSHOT, checksum=checksum, wait=True,
                              retry=False)
        finally:
            if owned:
                client.close()
    # Snapshots carry no aliases: point ours at the recovered collection.
    if current != target:
        switch_alias(store, target, replace=current is not None and current != store.name)
        if current is not None:
            log.warning("alias %s moved from %s to the restored %s; %s was kept, drop it when done",
                        store.name, current, target, current)
    restored_meta = read_metadata(store) or {}
    embedded = restored_meta.get(MANIFEST_KEY) or {}
    expected = recorded or SnapshotInfo(name=name_or_location, collection=target,
                                        points=embedded.get("points"),
                                        hashes_digest=embedded.get("hashes_digest"),
                                        taken_at=embedded.get("taken_at"))
    # The restored metadata is the snapshot's; keep the records of snapshots taken since.
    if records:
        merged = {r["name"]: r for r in (restored_meta.get(SNAPSHOTS_KEY) or []) + records if "name" in r}
        update_metadata(store, {SNAPSHOTS_KEY: list(merged.values())[-KEEP_SNAPSHOT_RECORDS:]})
    if verify:
        _verify_restored(store, expected)
    return expected


def _verify_restored(store: ServerStore, expected: SnapshotInfo) -> None:
    if expected.points is None or expected.hashes_digest is None:
        raise StoreError(f"restored '{store.name}' but cannot verify it: the snapshot has no manifest",
                         hint="it was not taken by keboola-vectorizer; check the point count by hand "
                              "or restore with verify=False")
    hashes = store.content_hashes()
    if len(hashes) != expected.points:
        raise StoreError(f"restored '{store.name}' holds {len(hashes)} points; the snapshot held "
                         f"{expected.points}",
                         hint="restore the snapshot of every peer, or re-run the index to repair")
    if hashes_digest(hashes) != expected.hashes_digest:
        raise StoreError(f"restored '{store.name}' has other content hashes than the snapshot held",
                         hint="the snapshot or the restore is incomplete; re-run the index to repair")
