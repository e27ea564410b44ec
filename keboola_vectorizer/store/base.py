"""The vector store protocol: what the pipeline and search need from Qdrant, whichever backend.

Two implementations: `edge.py` (Qdrant Edge, embedded, the default) and `server.py` (a Qdrant
server or cluster through qdrant-client). One contract test suite (tests/test_store_contract.py)
runs against both, so the pipeline and search never branch on the backend.

Points are addressed by document id; the backend derives the Qdrant point id (UUIDv5 of the
document id) so every upsert is idempotent.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

DENSE_VECTOR = "dense"
SPARSE_VECTOR = "bm25"
SearchMode = Literal["dense", "sparse", "hybrid"]

# Payload fields with a Qdrant payload index, by schema type: every field a filter, facet or order
# uses. `document_id`, `content_hash` and `indexed_at` are read, never filtered on: one distinct value
# per point made their indexes the largest (a third of a 100k shard's open time, ~1 KB of RAM a
# point in the appendable segment) for no query.
KEYWORD_FIELDS = ("kind", "component_id", "component_type", "bucket_id", "table_id",
                  "stage", "produced_by", "consumed_by")
INTEGER_FIELDS = ("project_id",)
DATETIME_FIELDS = ("last_changed_at",)


def payload_selection(fields: Sequence[str] | None) -> bool | list[str]:
    """Qdrant's `with_payload` for a field list: everything when None; `document_id` always."""
    return True if fields is None else list(dict.fromkeys(["document_id", *fields]))


_POINT_NAMESPACE = uuid.UUID("6f1c7f0e-3b7a-5c55-9a51-4b2d0c9e8a11")


def point_id(document_id: str) -> str:
    """Qdrant point id for a document id: UUIDv5, so re-upserting a document overwrites it."""
    return str(uuid.uuid5(_POINT_NAMESPACE, document_id))


@dataclass(frozen=True)
class SparseVector:
    indices: list[int]
    values: list[float]


@dataclass
class PointRecord:
    """One document ready for the store: its vectors and its payload (which holds the hash)."""

    document_id: str
    dense: Sequence[float]
    sparse: SparseVector
    payload: dict[str, Any]


@dataclass(frozen=True)
class CollectionMeta:
    """What a collection was built with; indexing with anything else is refused."""

    embedder_id: str
    dimension: int
    distance: str = "cosine"
    sparse: str = "bm25"
    schema_version: int = 1

    def describe(self) -> str:
        return f"{self.embedder_id} ({self.dimension} dimensions, {self.distance})"


@dataclass
class SearchFilters:
    """Payload filters; within one field values are OR-ed, across fields AND-ed."""

    project_ids: list[int] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    bucket_ids: list[str] = field(default_factory=list)
    component_ids: list[str] = field(default_factory=list)
    stages: list[str] = field(default_factory=list)
    table_ids: list[str] = field(default_factory=list)

    def by_field(self) -> dict[str, list[Any]]:
        pairs = {
            "project_id": self.project_ids,
            "kind": self.kinds,
            "bucket_id": self.bucket_ids,
            "component_id": self.component_ids,
            "stage": self.stages,
            "table_id": self.table_ids,
        }
        return {key: values for key, values in pairs.items() if values}

    def is_empty(self) -> bool:
        return not self.by_field()


@dataclass
class QueryVectors:
    dense: Sequence[float] | None
    sparse: SparseVector | None


@dataclass(frozen=True)
class Boost:
    """Optional score boost (a Qdrant formula query) for recently changed and much-used objects.

    score * (1 + recency_weight * 0.5 ** (age / half_life) + usage_weight * n / (n + 2)), where age is the
    distance of the point's `last_changed_at` from `reference` (None: the newest `last_changed_at` in
    the collection, so a stale snapshot still has a "recent") and n its `consumer_count` (how many
    configurations read the table). Points without the fields keep their score.
    """

    recency_weight: float = 0.5
    half_life_days: float = 30.0
    usage_weight: float = 0.25
    reference: str | None = None


@dataclass(frozen=True)
class RankParams:
    """How `VectorStore.query` ranks: RRF constant and [dense, sparse] weights for hybrid fusion,
    candidates per hybrid branch (None: the backend's default from the limit) and an optional boost."""

    rrf_k: int = 20
    dense_weight: float = 1.0
    sparse_weight: float = 1.0
    prefetch: int | None = None
    boost: Boost | None = None


BOOST_DEFAULTS = {"last_changed_at": "1970-01-01T00:00:00Z", "consumer_count": 0}


def normalise_datetime(value: str | None) -> str:
    """An RFC 3339 timestamp for Qdrant (`2026-03-25T23:53:00+0100` -> `...+01:00`); now when missing."""
    from datetime import datetime, timezone

    if value:
        for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z"):
            try:
                return datetime.strptime(value.replace("Z", "+0000"), fmt).isoformat()
            except ValueError:
                continue
        try:
            parsed = datetime.fromisoformat(value)
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).isoformat()
        except ValueError:
            pass
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class StoredHashes:
    """What a stored point was built from: `text_hash` (the embedded text: decides re-embedding) and
    `content_hash` (text and payload: decides a payload update in place). Points written before text
    hashes existed have `text_hash` "" and are embedded once."""

    content_hash: str
    text_hash: str = ""


HASH_FIELDS = ["document_id", "content_hash", "text_hash"]


def stored_hashes_of(hit: Hit) -> StoredHashes:
    return StoredHashes(str(hit.payload.get("content_hash", "")), str(hit.payload.get("text_hash", "") or ""))


@dataclass
class Hit:
    document_id: str
    score: float
    payload: dict[str, Any]


@runtime_checkable
class VectorStore(Protocol):
    """One collection (or its alias) in one backend."""

    @property
    def name(self) -> str: ...

    @property
    def location(self) -> str:
        """Where the collection lives, for messages (a path or a URL without credentials)."""
        ...

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
        """Stored points for the ids that exist (score 0); vectors under payload['_vectors']
        when asked; only the payload `fields` (and `document_id`) when given."""
        ...

    def query(self, vectors: QueryVectors, mode: SearchMode, filters: SearchFilters,
              limit: int, params: RankParams | None = None, fields: Sequence[str] | None = None) -> list[Hit]:
        """Best `limit` points; hybrid fuses a dense and a sparse prefetch with (weighted) RRF in one
        Qdrant query; `params.boost` rescores the candidates with a formula query. Only the payload
        `fields` (and `document_id`) when given."""
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


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# -- backups and health checks, shared by both backends ----------------------------------------

@dataclass
class PeerSnapshot:
    peer: str  # peer URL without credentials ("" for the main client)
    name: str
    size: int | None = None
    checksum: str | None = None
    created_at: str | None = None


@dataclass
class SnapshotInfo:
    """One backup: a collection snapshot on every peer, plus what it held (for verification)."""

    name: str  # the first peer's snapshot name; what `restore_snapshot` takes
    collection: str  # the physical collection it was taken of
    points: int | None  # None for snapshots this tool did not take
    hashes_digest: str | None
    taken_at: str | None
    peers: list[PeerSnapshot] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SnapshotInfo:
        peers = [PeerSnapshot(**peer) for peer in data.get("peers", [])]
        return cls(name=data["name"], collection=data["collection"], points=data.get("points"),
                   hashes_digest=data.get("hashes_digest"), taken_at=data.get("taken_at"),
                   peers=peers, warnings=list(data.get("warnings", [])))


@dataclass
class DoctorCheck:
    name: str
    ok: bool
    detail: str


def hashes_digest(hashes: dict[str, str]) -> str:
    """One sha256 over every (document id, content hash) pair, order-independent."""
    digest = hashlib.sha256()
    for document_id in sorted(hashes):
        digest.update(f"{document_id}\t{hashes[document_id]}\n".encode())
    return digest.hexdigest()
