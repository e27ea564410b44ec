"""How a new Edge shard is laid out, and when the store seals its appendable segment.

Every structure (vectors, HNSW graph, sparse index, payload, payload indexes) is memory-mapped and
left cold, so opening a shard maps files instead of reading them into the heap, and the OS page
cache keeps what searches touch (figures in docs/benchmarks.md). Qdrant Edge has no background
optimizer: the store seals its appendable segment into an indexed, mapped segment every
`SEAL_POINTS` points it writes, and segments are capped near that size, so neither memory nor the
cost of a seal grows with the collection.
"""

from __future__ import annotations

from qdrant_edge import (
    DatetimeIndexParams,
    Distance,
    EdgeConfig,
    EdgeOptimizersConfig,
    EdgeShard,
    EdgeSparseVectorParams,
    EdgeVectorParams,
    HnswIndexConfig,
    IntegerIndexParams,
    KeywordIndexParams,
    Memory,
    Modifier,
    UpdateOperation,
)

from keboola_vectorizer.store.types import DATETIME_FIELDS, DENSE_VECTOR, INTEGER_FIELDS, KEYWORD_FIELDS, SPARSE_VECTOR

# Points written between seals. A seal (HNSW build included) runs on the upsert thread while the
# model embeds the next batches; the appendable segment it empties holds its id tracker, payload
# indexes and sparse index in RAM, so this caps that memory too.
SEAL_POINTS = 20_000
# A run's last seal is skipped below this many unsealed points: a small appendable segment is
# scanned in a few ms, and small daily runs add up until they reach it.
MIN_SEAL_POINTS = 5_000
HNSW = HnswIndexConfig(m=16, ef_construct=100, full_scan_threshold=10_000, memory=Memory.Cold)


def edge_config(dimension: int) -> EdgeConfig:
    """A new shard's settings: every tier cold (memory-mapped), segments capped near `SEAL_POINTS`."""
    # Qdrant caps segments by their vectors' size in KB; 1.5 seals' worth lets a small last seal
    # merge into a neighbour but never two full seals into one (which would rebuild both).
    max_segment_kb = int(SEAL_POINTS * 1.5 * dimension * 4 / 1024)
    # And index whatever a seal hands over: Edge's default threshold (10 MB of vectors) would leave
    # a seal of fewer than ~6,500 points unindexed.
    indexing_kb = max(1, int(MIN_SEAL_POINTS * dimension * 4 / 1024))
    return EdgeConfig(
        vectors={DENSE_VECTOR: EdgeVectorParams(size=dimension, distance=Distance.Cosine, memory=Memory.Cold)},
        sparse_vectors={SPARSE_VECTOR: EdgeSparseVectorParams(modifier=Modifier.Idf, memory=Memory.Cold)},
        hnsw_config=HNSW,
        payload_memory=Memory.Cold,
        id_tracker_memory=Memory.Cold,
        optimizers=EdgeOptimizersConfig(max_segment_size=max_segment_kb, indexing_threshold=indexing_kb,
                                        default_segment_number=2),
    )


def align_payload_indexes(shard: EdgeShard) -> None:
    """The indexes a shard built by an older version lacks, added, and those no query uses any more,
    dropped (the first write of a run does both; a read never changes a shard)."""
    have = frozenset(shard.info().payload_schema)
    create_payload_indexes(shard, have=have)
    for field_name in sorted(have - set(indexed_fields())):
        shard.update(UpdateOperation.delete_field_index(field_name))


def indexed_fields() -> tuple[str, ...]:
    return (*KEYWORD_FIELDS, *INTEGER_FIELDS, *DATETIME_FIELDS)


def create_payload_indexes(shard: EdgeShard, have: frozenset[str] = frozenset()) -> None:
    """A payload index for every field a filter, facet or order uses (store/types.py), but those in `have`."""
    params = [(name, KeywordIndexParams(memory=Memory.Cold)) for name in KEYWORD_FIELDS]
    params += [(name, IntegerIndexParams(lookup=True, range=True, memory=Memory.Cold)) for name in INTEGER_FIELDS]
    params += [(name, DatetimeIndexParams(memory=Memory.Cold)) for name in DATETIME_FIELDS]
    for field_name, index in params:
        if field_name not in have:
            shard.update(UpdateOperation.create_field_index(field_name, index))
