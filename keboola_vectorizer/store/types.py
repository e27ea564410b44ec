"""The store's data types and payload schema, shared by the core, both backends and their callers.

Points are addressed by document id; a backend derives the Qdrant point id (UUIDv5 of the document
id) so every upsert is idempotent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

# Re-exported: the store's callers take every type they pass to it from here.
from keboola_vectorizer.ids import point_id as point_id
from keboola_vectorizer.vectors.types import QueryVectors as QueryVectors
from keboola_vectorizer.vectors.types import SparseVector as SparseVector

DENSE_VECTOR = "dense"
SPARSE_VECTOR = "bm25"
SearchMode = Literal["dense", "sparse", "hybrid"]

# Payload fields with a Qdrant payload index, by schema type: every field a filter, facet or order
# uses (SearchFilters.by_field, the dev-branch condition, `status`' facets, the newest change), and no
# other. Opening a shard loads every index of every segment, so an index no query reads still costs
# each search process: `produced_by`, `consumed_by` and `component_type` are read from payloads, never
# filtered on, and their indexes were a quarter of a 100k shard's open time (scripts/
# cold_search_parts.py); `document_id`, `content_hash` and `indexed_at`, one value a point, another
# third before. `branch_kind` is on dev-branch points only, but every default search leaves them out
# by it: without its index Qdrant cannot tell how many points that condition keeps and scans every
# vector instead of walking the HNSW graph (53 ms against 4 ms for a dense query at 100k points).
KEYWORD_FIELDS = ("kind", "component_id", "bucket_id", "table_id", "stage", "branch_kind")
INTEGER_FIELDS = ("project_id",)
DATETIME_FIELDS = ("last_changed_at",)

DEFAULT_COLLECTION = "keboola-metadata"


def payload_selection(fields: Sequence[str] | None) -> bool | list[str]:
    """Qdrant's `with_payload` for a field list: everything when None; `document_id` always."""
    return True if fields is None else list(dict.fromkeys(["document_id", *fields]))


@dataclass
class PointRecord:
    """One document ready for the store: its vectors and its payload (which holds the hash)."""

    document_id: str
    dense: Sequence[float]
    sparse: SparseVector
    payload: dict[str, Any]


@dataclass(frozen=True)
class CollectionMeta:
    """What a collection was built with; indexing with anything else is refused (store/plan.py)."""

    embedder_id: str
    dimension: int
    distance: str = "cosine"
    sparse: str = "bm25"
    schema_version: int = 1

    def describe(self) -> str:
        return f"{self.embedder_id} ({self.dimension} dimensions, {self.distance})"

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> CollectionMeta:
        """The meta from stored JSON; keys this version does not know are ignored."""
        return cls(**{key: raw[key] for key in cls.__dataclass_fields__ if key in raw})


# The run-state key under which an index run records, per project it stored, the digest of its sources
# and its document count (keboola/snapshot_digest.py); whatever replaces the points drops it.
SOURCES_KEY = "sources"

ALL_BRANCHES = "all"
BRANCH_FIELDS = ("branch_id", "branch_name")  # a `--branch` value matches either


def every_branch(**values: Any) -> SearchFilters:
    """Filters for the tool's own scans (hashes, lineage indexes): dev-branch points included."""
    return SearchFilters(branches=[ALL_BRANCHES], **values)


@dataclass
class SearchFilters:
    """Payload filters; within one field values are OR-ed, across fields AND-ed."""

    project_ids: list[int] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    bucket_ids: list[str] = field(default_factory=list)
    component_ids: list[str] = field(default_factory=list)
    stages: list[str] = field(default_factory=list)
    table_ids: list[str] = field(default_factory=list)
    # Dev-branch policy: [] = production only (dev-branch points, `branch_kind: "dev"`, left out);
    # branch ids or names = production plus those branches; ["all"] = every branch.
    branches: list[str] = field(default_factory=list)

    def branch_scope(self) -> list[str] | None:
        """None: no branch condition; []: production only; values: production plus these branches."""
        values = [str(b) for b in self.branches]
        return None if ALL_BRANCHES in values else values

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
    candidates per hybrid branch (None: a default from the limit, store/plan.py) and an optional boost."""

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


@dataclass
class Hit:
    document_id: str
    score: float
    payload: dict[str, Any]


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
