"""The server backend's tuning, and how it is read from `Settings`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keboola_vectorizer.config import Settings


@dataclass
class ServerOptions:
    """Tuning for the server backend; the defaults suit the 3-node cluster in deploy/.

    Collection-shape settings (shards, replication, HNSW, on-disk payload) only apply when a
    physical collection is created; Qdrant does not re-shard or re-replicate an existing one.
    Ranking (RRF k and weights, prefetch depth) is the query's own (`RankParams`), not the backend's.
    """

    shard_number: int | None = None  # None: Qdrant's default (number of peers)
    replication_factor: int = 2
    write_consistency_factor: int = 1
    on_disk_payload: bool = True
    hnsw_m: int | None = None
    hnsw_ef_construct: int | None = None
    upsert_batch_size: int = 256
    upsert_parallel: int = 4
    # None, an int (replicas to ask) or "majority" / "quorum" / "all"
    read_consistency: int | str | None = None
    retry_attempts: int = 5
    retry_deadline_s: float = 30.0
    retry_initial_s: float = 0.5
    retry_max_s: float = 8.0
    # Where snapshots lie on the Qdrant nodes (the official image's default); used to turn a
    # snapshot name into a file:// location for recovery.
    snapshots_dir: str = "/qdrant/snapshots"
    # REST URLs of every peer, for per-peer snapshots in a cluster (each holds only its shards).
    peer_urls: tuple[str, ...] = ()
    snapshot_timeout_s: float = 1800.0
    # Interactive commands (store/fail_fast.py): retries logged at DEBUG, a short connect timeout.
    quiet_retries: bool = False
    connect_timeout_s: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ServerOptions:
        consistency: int | str | None = settings.qdrant_read_consistency
        if isinstance(consistency, str) and consistency.isdigit():
            consistency = int(consistency)
        return cls(
            shard_number=settings.qdrant_shard_number,
            replication_factor=settings.qdrant_replication_factor,
            write_consistency_factor=settings.qdrant_write_consistency_factor,
            read_consistency=consistency,
            upsert_batch_size=settings.qdrant_upsert_batch_size,
            upsert_parallel=settings.qdrant_upsert_parallel,
            snapshots_dir=settings.qdrant_snapshots_dir,
            peer_urls=tuple(u.strip() for u in settings.qdrant_peer_urls.split(",") if u.strip()),
            retry_deadline_s=settings.qdrant_retry_deadline,
        )
