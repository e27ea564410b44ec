"""What callers may ask of a store: the `VectorStore` contract, the capability record, and the
opt-in traits a backend declares (dlt's `WithStateSync` pattern) instead of callers probing it.

`isinstance(store, SupportsSnapshots)` says the backend has the operations; `store.capabilities`
says whether this instance can use them (qdrant-client's local mode has the server's code but no
snapshots or cluster).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from keboola_vectorizer.store.types import (
    CollectionMeta,
    DoctorCheck,
    Hit,
    PointRecord,
    QueryVectors,
    RankParams,
    SearchFilters,
    SearchMode,
    SnapshotInfo,
    StoredHashes,
)


@dataclass(frozen=True)
class Capabilities:
    """What one opened store can do, fixed when it is constructed."""

    backend: str  # "edge", "server" or "server-local" (qdrant-client local mode)
    parallel_upserts: bool = False  # several upsert batches in flight at once
    snapshots: bool = False  # create / list / restore backups
    cluster: bool = False  # peers, shard replicas and a write check before writing
    seals_segments: bool = False  # no background optimizer: the store seals segments itself


@runtime_checkable
class VectorStore(Protocol):
    """One collection (or its alias) in one backend."""

    @property
    def name(self) -> str: ...

    @property
    def location(self) -> str:
        """Where the collection lives, for messages (a path or a URL without credentials)."""
        ...

    @property
    def capabilities(self) -> Capabilities: ...

    def meta(self) -> CollectionMeta | None:
        """The collection's build settings, or None when it does not exist yet."""
        ...

    def ensure(self, meta: CollectionMeta) -> None:
        """Create the collection with its payload indexes if missing; raise StoreError
        naming `--rebuild` if it exists with other settings."""
        ...

    def content_hashes(self, project_id: int | None = None) -> dict[str, str]:
        """document id -> content_hash of every stored point (of one project, if given)."""
        ...

    def stored_hashes(self, project_id: int | None = None) -> dict[str, StoredHashes]:
        """document id -> (content_hash, text_hash) of every stored point (of one project, if given)."""
        ...

    def upsert(self, points: Sequence[PointRecord]) -> None: ...

    def set_payload(self, payloads: Mapping[str, dict[str, Any]]) -> None:
        """Merge the given keys into stored points' payloads (vectors untouched); ids not stored
        are ignored."""
        ...

    def overwrite_payload(self, payloads: Mapping[str, dict[str, Any]]) -> None:
        """Replace stored points' whole payloads (vectors untouched; `document_id` is kept); ids not
        stored are ignored."""
        ...

    def delete(self, document_ids: Sequence[str]) -> None: ...

    def retrieve(self, document_ids: Sequence[str], with_vectors: bool = False,
                 fields: Sequence[str] | None = None) -> list[Hit]:
        """Stored points for the ids that exist, in the order asked (score 0); vectors under
        payload['_vectors'] when asked; only the payload `fields` (and `document_id`) when given."""
        ...

    def query(self, vectors: QueryVectors, mode: SearchMode, filters: SearchFilters,
              limit: int, params: RankParams | None = None, fields: Sequence[str] | None = None) -> list[Hit]:
        """Best `limit` points, best first and equal scores by document id; hybrid fuses a dense and a
        sparse prefetch with (weighted) RRF in one Qdrant query; `params.boost` rescores the candidates
        with a formula query. Only the payload `fields` (and `document_id`) when given."""
        ...

    def recommend(self, document_id: str, filters: SearchFilters, limit: int) -> list[Hit]:
        """Points most like a stored one (dense vectors), excluding itself."""
        ...

    def count(self, filters: SearchFilters | None = None) -> int: ...

    def counts_by(self, key: str) -> dict[Any, int]:
        """Point counts per value of a keyword or integer payload field."""
        ...

    def scroll(self, filters: SearchFilters | None = None, batch: int = 1000) -> Iterator[Hit]: ...

    def read_state(self) -> dict[str, Any]:
        """Small JSON state kept with the collection (last run summary)."""
        ...

    def write_state(self, state: dict[str, Any]) -> None: ...

    def start_rebuild(self, meta: CollectionMeta) -> VectorStore:
        """A new, empty physical collection that searches do not see until `promote`."""
        ...

    def promote(self, staging: VectorStore) -> None:
        """Point the alias (server) or the current-directory pointer (Edge) at `staging`,
        then drop the collection it replaced. Searches see the old or the new, never half."""
        ...

    def drop(self) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class SupportsSnapshots(Protocol):
    """Backups of the collection, verified against what they held on restore."""

    def create_snapshot(self) -> SnapshotInfo: ...

    def list_snapshots(self) -> list[SnapshotInfo]: ...

    def restore_snapshot(self, name_or_location: str, *, verify: bool = True) -> SnapshotInfo: ...


@runtime_checkable
class SupportsOptimize(Protocol):
    """A store that builds its own indexes (Edge has no background optimizer)."""

    def should_optimize(self) -> bool: ...

    def optimize(self) -> None: ...


@runtime_checkable
class HasHealthChecks(Protocol):
    """Checks `keboola-vectorizer doctor` shows; none raises, each says what it found."""

    def doctor_checks(self) -> list[DoctorCheck]: ...
