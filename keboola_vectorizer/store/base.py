"""The store's public names in one import: data types (types.py), the contract, capabilities and
opt-in traits (protocol.py). Backends: store/edge/ (Qdrant Edge, embedded, the default) and
store/server/ (a Qdrant server or cluster), both translations of the core in store/core.py."""

from keboola_vectorizer.store.protocol import (
    Capabilities,
    HasHealthChecks,
    SupportsOptimize,
    SupportsSnapshots,
    VectorStore,
)
from keboola_vectorizer.store.types import (
    ALL_BRANCHES,
    BOOST_DEFAULTS,
    BRANCH_FIELDS,
    DATETIME_FIELDS,
    DEFAULT_COLLECTION,
    DENSE_VECTOR,
    HASH_FIELDS,
    INTEGER_FIELDS,
    KEYWORD_FIELDS,
    SOURCES_KEY,
    SPARSE_VECTOR,
    Boost,
    CollectionMeta,
    DoctorCheck,
    Hit,
    PeerSnapshot,
    PointRecord,
    QueryVectors,
    RankParams,
    SearchFilters,
    SearchMode,
    SnapshotInfo,
    SparseVector,
    StoredHashes,
    batched,
    every_branch,
    hashes_digest,
    normalise_datetime,
    payload_selection,
    point_id,
    stored_hashes_of,
)

__all__ = ["ALL_BRANCHES", "BOOST_DEFAULTS", "BRANCH_FIELDS", "DATETIME_FIELDS", "DEFAULT_COLLECTION",
           "DENSE_VECTOR", "HASH_FIELDS", "INTEGER_FIELDS", "KEYWORD_FIELDS", "SOURCES_KEY", "SPARSE_VECTOR", "Boost",
           "Capabilities", "CollectionMeta", "DoctorCheck", "HasHealthChecks", "Hit", "PeerSnapshot",
           "PointRecord", "QueryVectors", "RankParams", "SearchFilters", "SearchMode", "SnapshotInfo",
           "SparseVector", "StoredHashes", "SupportsOptimize", "SupportsSnapshots", "VectorStore", "batched",
           "every_branch", "hashes_digest", "normalise_datetime", "payload_selection", "point_id",
           "stored_hashes_of"]
