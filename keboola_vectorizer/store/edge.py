"""Qdrant Edge: the real Qdrant engine in-process, the default store on a laptop or a single pod.

Layout under the store root (QDRANT_PATH):

    <collection>/CURRENT             name of the active generation (the Edge "alias")
    <collection>/<generation>/shard  the EdgeShard directory
    <collection>/<generation>/meta.json   CollectionMeta the generation was built with
    <collection>/state.json          last run summary

A rebuild writes a new generation and switches CURRENT with an atomic rename, so a reader sees the
old generation or the new one, never a half-built one.

Storage: every structure (vectors, HNSW graph, sparse index, payload, payload indexes) is
memory-mapped and left cold, so opening a shard maps files instead of reading them into the heap
(a 100k-point shard opened in 1.0 s with in-RAM tiers, 0.13–0.25 s mapped), and the OS page cache keeps
what searches touch. Qdrant Edge has no background optimizer: the store seals its appendable segment
into an indexed, mapped segment every `SEAL_POINTS` points it writes, and segments are capped near
that size, so neither memory nor the cost of a seal grows with the collection.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from qdrant_edge import (
    CountRequest,
    DatetimeIndexParams,
    DecayKind,
    Direction,
    Distance,
    EdgeConfig,
    EdgeOptimizersConfig,
    EdgeShard,
    EdgeSparseVectorParams,
    EdgeVectorParams,
    Expression,
    FacetRequest,
    FieldCondition,
    Filter,
    Formula,
    Fusion,
    HasIdCondition,
    HnswIndexConfig,
    IntegerIndexParams,
    KeywordIndexParams,
    MatchAny,
    Memory,
    Modifier,
    OrderBy,
    Point,
    Prefetch,
    Query,
    QueryRequest,
    RecommendQuery,
    ScrollRequest,
    UpdateOperation,
)
from qdrant_edge import (
    SparseVector as EdgeSparse,
)

from keboola_vectorizer.errors import StoreError
from keboola_vectorizer.store import disk_space, edge_manifest
from keboola_vectorizer.store.base import (
    BOOST_DEFAULTS,
    BRANCH_FIELDS,
    DATETIME_FIELDS,
    DENSE_VECTOR,
    HASH_FIELDS,
    INTEGER_FIELDS,
    KEYWORD_FIELDS,
    SPARSE_VECTOR,
    Boost,
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
    every_branch,
    hashes_digest,
    normalise_datetime,
    payload_selection,
    point_id,
    stored_hashes_of,
)

log = logging.getLogger(__name__)

# How many candidates each branch of a hybrid query hands to fusion, per result asked for.
PREFETCH_FACTOR = 5
MIN_PREFETCH = 50
RRF_K = RankParams().rrf_k
# Points written between seals. Sealing 20k points takes ~8 s here (HNSW build included) and runs on
# the upsert thread while the model embeds the next batches; the appendable segment it empties
# holds its id tracker, payload indexes and sparse index in RAM, so this caps that memory too.
SEAL_POINTS = 20_000
# A run's last seal is skipped below this many unsealed points: a small appendable segment is
# scanned in a few ms, and small daily runs add up until they reach it.
MIN_SEAL_POINTS = 5_000
HNSW = HnswIndexConfig(m=16, ef_construct=100, full_scan_threshold=10_000, memory=Memory.Cold)


def _atomic_write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def _edge_filter(filters: SearchFilters | None, exclude_point: str | None = None) -> Filter | None:
    must: list[Any] = []
    should: list[Any] = []
    must_not: list[Any] = [HasIdCondition({exclude_point})] if exclude_point else []
    if filters is not None:
        for key, values in filters.by_field().items():
            must.append(FieldCondition(key=key, match=MatchAny(list(values))))
        scope = filters.branch_scope()
        dev = FieldCondition(key="branch_kind", match=MatchAny(["dev"]))
        if scope == []:
            must_not.append(dev)
        elif scope:
            should = [Filter(must_not=[dev]),
                      *(FieldCondition(key=key, match=MatchAny(scope)) for key in BRANCH_FIELDS)]
    if not must and not must_not and not should:
        return None
    return Filter(must=must or None, should=should or None, must_not=must_not or None)


def _plain_vectors(vector: Any) -> dict[str, Any]:
    """Vectors as plain JSON, the same shape the server backend returns."""
    named = vector if isinstance(vector, dict) else {DENSE_VECTOR: vector}
    plain: dict[str, Any] = {}
    for name, value in named.items():
        if hasattr(value, "indices"):
            plain[name] = {"indices": list(value.indices), "values": [float(v) for v in value.values]}
        else:
            plain[name] = [float(x) for x in value]
    return plain


def _plain(value: Any) -> Any:
    """Edge returns facet values wrapped (Int(9001)); unwrap to plain Python."""
    if isinstance(value, (str, int, float, bool)):
        return value
    for attr in ("value", "_0"):
        if hasattr(value, attr):
            return getattr(value, attr)
    text = str(value)
    inner = text[text.find("(") + 1 : text.rfind(")")] if "(" in text else text
    try:
        return int(inner)
    except ValueError:
        return inner.strip("\"'")


# Shards that read-only closes left open for the rest of the process, by shard directory.
_kept_shards: dict[str, EdgeShard] = {}
_keeping_read_shards = False


def keep_read_shards_until_exit() -> None:
    """For a process about to exit after reading: leave shards that were only read open until then.

    Closing or dropping a shard evicts its cold (memory-mapped) files from the OS page cache, so the
    next `search` process would read the index from disk again: +0.24 s for its first query at 100k
    points. Left open, the OS reclaims the shard at exit, and as nothing was written, nothing is lost.
    Only a CLI command that reads and then exits calls this; a later open in the same process reuses
    the kept shard (a shard holds its write-ahead log's lock while open)."""
    global _keeping_read_shards
    if not _keeping_read_shards:
        _keeping_read_shards = True
        atexit.register(_leave_kept_shards_to_the_os)


def _leave_kept_shards_to_the_os() -> None:
    for shard in _kept_shards.values():
        # One reference more than Python will release: interpreter teardown never drops the shard.
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(shard))


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


class EdgeStore:
    """VectorStore over a Qdrant Edge shard directory."""

    def __init__(self, root: Path | str, collection: str = "keboola-metadata",
                 generation: str | None = None) -> None:
        self._root = Path(root).expanduser()
        self._collection = collection
        self._dir = self._root / collection
        self._pinned_generation = generation
        self._shard: EdgeShard | None = None
        self._unsealed = 0  # points this process wrote since the shard's last seal
        self._shard_path = ""
        self._wrote = False
        self._dirty = False  # the open shard's manifest says `writing` (edge_manifest)

    # -- identity ---------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._collection

    @property
    def location(self) -> str:
        return str(self._dir)

    @property
    def generation(self) -> str | None:
        if self._pinned_generation:
            return self._pinned_generation
        pointer = self._dir / "CURRENT"
        if pointer.is_file():
            return pointer.read_text().strip() or None
        return None

    def _generation_dir(self) -> Path | None:
        generation = self.generation
        return self._dir / generation if generation else None

    # -- lifecycle --------------------------------------------------------------------------

    def meta(self) -> CollectionMeta | None:
        gen_dir = self._generation_dir()
        if gen_dir is None or not (gen_dir / "meta.json").is_file():
            return None
        try:
            return CollectionMeta(**json.loads((gen_dir / "meta.json").read_text()))
        except (ValueError, TypeError) as exc:
            raise StoreError(
                f"the embedded store at {gen_dir} has an unreadable meta.json ({exc})",
                "run `keboola-vectorizer index --rebuild` to build it afresh",
            ) from None

    def ensure(self, meta: CollectionMeta) -> None:
        existing = self.meta()
        if existing is None:
            generation = self._pinned_generation or self._new_generation_name()
            self._create_generation(generation, meta)
            if not self._pinned_generation:
                self._switch_current(generation)
            return
        if (existing.embedder_id, existing.dimension, existing.distance) != (
            meta.embedder_id, meta.dimension, meta.distance,
        ):
            raise StoreError(
                f"collection {self._collection!r} was built with {existing.describe()}, "
                f"not {meta.describe()}",
                "run `keboola-vectorizer index --rebuild` to rebuild it with the new model, "
                "or select the model it was built with",
            )

    def _new_generation_name(self) -> str:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        return f"gen-{stamp}"

    def _create_generation(self, generation: str, meta: CollectionMeta) -> None:
        gen_dir = self._dir / generation
        disk_space.require_room(self._root, disk_space.create_bytes(self._root), "creating the index")
        gen_dir.mkdir(parents=True, exist_ok=True)
        edge_manifest.mark_writing(gen_dir)
        config = edge_config(meta.dimension)
        try:
            with disk_space.no_space_as_error(self._root, "creating the index"):
                shard = EdgeShard.create(str(gen_dir / "shard"), config)
        except StoreError:
            raise
        except Exception as exc:  # the binding raises plain exceptions for IO problems
            raise StoreError(
                f"cannot create the embedded store at {gen_dir}: {exc}",
                "check that QDRANT_PATH is writable",
            ) from None
        self._wrote = True
        for field_name in KEYWORD_FIELDS:
            shard.update(UpdateOperation.create_field_index(field_name, KeywordIndexParams(memory=Memory.Cold)))
        for field_name in INTEGER_FIELDS:
            shard.update(UpdateOperation.create_field_index(
                field_name, IntegerIndexParams(lookup=True, range=True, memory=Memory.Cold)))
        for field_name in DATETIME_FIELDS:
            shard.update(UpdateOperation.create_field_index(field_name, DatetimeIndexParams(memory=Memory.Cold)))
        shard.flush()
        # meta.json is written last: a generation without it is an unfinished create.
        _atomic_write_json(gen_dir / "meta.json", asdict(meta))
        self._close_shard()
        self._shard, self._shard_path, self._dirty = shard, str(gen_dir / "shard"), True

    def _switch_current(self, generation: str) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        tmp = self._dir / f".CURRENT.tmp-{os.getpid()}"
        tmp.write_text(generation)
        os.replace(tmp, self._dir / "CURRENT")

    def _open(self) -> EdgeShard:
        if self._shard is not None:
            return self._shard
        gen_dir = self._generation_dir()
        if gen_dir is None or not (gen_dir / "shard").is_dir():
            raise StoreError(
                f"no index at {self._dir}",
                "run `keboola-vectorizer index` first (or set QDRANT_PATH to where it was built)",
            )
        self._shard_path = str(gen_dir / "shard")
        kept = _kept_shards.pop(self._shard_path, None)
        if kept is not None:
            self._shard = kept
            return kept
        edge_manifest.check_sizes(gen_dir, self._damage_hint)
        disk_space.require_room(self._root, disk_space.open_bytes(Path(self._shard_path)), "opening the index")
        try:
            self._shard = EdgeShard.load(self._shard_path)
        except Exception as exc:
            if edge_manifest.is_read_failure(exc):
                raise edge_manifest.read_failure(gen_dir, exc, self._damage_hint()) from None
            raise StoreError(
                f"cannot open the embedded store at {gen_dir}: {exc}",
                "another process may hold it; otherwise run `keboola-vectorizer index --rebuild`",
            ) from None
        return self._shard

    def _close_shard(self, record: bool = True) -> None:
        if self._shard is not None:
            with disk_space.no_space_as_error(self._root, "closing the index"):
                self._shard.flush()
                self._shard.close()
            self._shard = None
            if self._dirty and record:
                # What the files should be from now on; the next open checks it (edge_manifest).
                with disk_space.no_space_as_error(self._root, "recording the index's files"):
                    edge_manifest.record(Path(self._shard_path).parent)
                self._dirty = False

    def _writing(self) -> EdgeShard:
        """The open shard, its manifest marked `writing` before this process's first write to it."""
        shard = self._open()
        if not self._dirty:
            edge_manifest.mark_writing(Path(self._shard_path).parent)
            self._dirty = True
        self._wrote = True
        return shard

    def _damage_hint(self) -> str:
        names = [info.name for info in self.list_snapshots()]
        restore = (f"`keboola-vectorizer snapshot restore {names[-1]}` (the newest snapshot)" if names
                   else "`keboola-vectorizer snapshot restore NAME` if you took a snapshot")
        return f"run `keboola-vectorizer index --rebuild` to build it afresh, or {restore}"

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Edge's errors about its own files become StoreDamagedError (exit 13), not exit 1."""
        try:
            yield
        except StoreError:
            raise
        except Exception as exc:
            if edge_manifest.is_read_failure(exc):
                raise edge_manifest.read_failure(Path(self._shard_path).parent, exc, self._damage_hint()) from None
            raise

    def close(self) -> None:
        if self._shard is not None and _keeping_read_shards and not self._wrote:
            _kept_shards[self._shard_path] = self._shard
            self._shard = None
            return
        self._close_shard()

    def drop(self) -> None:
        self._close_shard()
        gen_dir = self._generation_dir()
        if self._pinned_generation:
            if gen_dir is not None:
                shutil.rmtree(gen_dir, ignore_errors=True)
        else:
            shutil.rmtree(self._dir, ignore_errors=True)

    def start_rebuild(self, meta: CollectionMeta) -> EdgeStore:
        staging = EdgeStore(self._root, self._collection, generation=self._new_generation_name())
        staging.ensure(meta)
        return staging

    def promote(self, staging: EdgeStore) -> None:
        new_generation = staging.generation
        if not new_generation or staging.count() == 0:
            raise StoreError(
                "the rebuilt index is empty, so it was not switched in",
                "check that the snapshot or projects hold data, then rerun with --rebuild",
            )
        staging.close()
        old_generation = EdgeStore(self._root, self._collection).generation
        self._close_shard()
        self._switch_current(new_generation)
        self._pinned_generation = None
        if old_generation and old_generation != new_generation:
            shutil.rmtree(self._dir / old_generation, ignore_errors=True)
        # Half-built generations of earlier rebuilds that were killed (kill -9, OOM) are older than
        # this one and referenced by nothing: drop them too, or each killed rebuild leaks a shard.
        for leftover in self._dir.glob("gen-*"):
            if leftover.is_dir() and leftover.name < new_generation:
                shutil.rmtree(leftover, ignore_errors=True)

    def flush(self) -> None:
        if self._shard is not None:
            self._shard.flush()

    def should_optimize(self) -> bool:
        """Whether what earlier runs and this one left unsealed is enough to be worth a seal.

        Unsealed points sit in the appendable segment: dense queries scan them (no HNSW graph) and
        every open rebuilds their in-RAM structures."""
        info = self._open().info()
        # Every segment indexes each point's sparse vector; only sealed ones index its dense vector.
        unsealed = max(self._unsealed, 2 * info.points_count - info.indexed_vectors_count)
        return unsealed >= MIN_SEAL_POINTS

    def optimize(self) -> None:
        """Seal the appendable segment now: an HNSW graph, mapped storage, a fresh appendable segment."""
        self._seal()

    def _seal(self) -> None:
        started = time.perf_counter()
        if disk_space.free_bytes(self._root) < disk_space.create_bytes(self._root) + disk_space.KEEP_FREE_BYTES:
            # Sealing opens a fresh appendable segment; without room for it the points stay unsealed
            # (searched by a scan: slower, still correct) until a later run has room.
            log.warning("not sealing %d points: too little free disk space at %s", self._unsealed, self._root)
            return
        shard = self._writing()
        try:
            shard.optimize()
        except Exception as exc:
            if not disk_space.is_no_space(exc):  # Edge checks the room an optimisation needs itself
                raise
            log.warning("not sealing %d points: %s", self._unsealed, " ".join(str(exc).split())[:200])
            return
        # The live shard keeps what the optimisation built on the heap (~2 KB a point); a reopened
        # one maps it, so memory stays flat however many seals a run makes.
        self._close_shard(record=False)
        self._open()
        log.info("sealed %d points into an indexed segment in %.1f s", self._unsealed,
                 time.perf_counter() - started)
        self._unsealed = 0

    # -- writes -----------------------------------------------------------------------------

    def upsert(self, points: Sequence[PointRecord]) -> None:
        if not points:
            return
        self._open()
        edge_points = [
            Point(
                point_id(record.document_id),
                {
                    DENSE_VECTOR: [float(x) for x in record.dense],
                    SPARSE_VECTOR: EdgeSparse(list(record.sparse.indices), list(record.sparse.values)),
                },
                {**record.payload, "document_id": record.document_id},
            )
            for record in points
        ]
        # A mapped write onto a full disk is a SIGBUS, not an error: check the room first.
        disk_space.require_room(self._root, disk_space.batch_bytes(points), f"writing {len(points)} points")
        with disk_space.no_space_as_error(self._root, f"writing {len(points)} points"):
            self._writing().update(UpdateOperation.upsert_points(edge_points))
        self._unsealed += len(edge_points)
        if self._unsealed >= SEAL_POINTS:
            self._seal()

    def delete(self, document_ids: Sequence[str]) -> None:
        if not document_ids:
            return
        disk_space.require_room(self._root, disk_space.BATCH_PAGES_BYTES, f"deleting {len(document_ids)} points")
        with disk_space.no_space_as_error(self._root, f"deleting {len(document_ids)} points"):
            self._writing().update(UpdateOperation.delete_points([point_id(d) for d in document_ids]))

    def set_payload(self, payloads: Mapping[str, dict[str, Any]]) -> None:
        self._update_payloads(payloads, UpdateOperation.set_payload)

    def overwrite_payload(self, payloads: Mapping[str, dict[str, Any]]) -> None:
        self._update_payloads(payloads, UpdateOperation.overwrite_payload)

    def _update_payloads(self, payloads: Mapping[str, dict[str, Any]], operation: Any) -> None:
        if not payloads:
            return
        self._open()
        # Only stored points: a payload operation on a missing id must not create a vectorless point.
        stored = {hit.document_id for hit in self.retrieve(list(payloads), fields=[])}
        if not stored:
            return
        needed = sum(len(json.dumps(payloads[d], default=str)) for d in stored) * disk_space.BYTES_FACTOR
        disk_space.require_room(self._root, needed + disk_space.BATCH_PAGES_BYTES,
                                f"updating {len(stored)} payloads")
        shard = self._writing()
        with disk_space.no_space_as_error(self._root, f"updating {len(stored)} payloads"):
            for document_id in stored:
                shard.update(operation([point_id(document_id)], {**payloads[document_id],
                                                                 "document_id": document_id}))

    # -- reads ------------------------------------------------------------------------------

    def content_hashes(self, project_id: int | None = None) -> dict[str, str]:
        return {doc_id: hashes.content_hash for doc_id, hashes in self.stored_hashes(project_id).items()}

    def stored_hashes(self, project_id: int | None = None) -> dict[str, StoredHashes]:
        if self.meta() is None:
            return {}
        filters = every_branch(project_ids=[project_id]) if project_id is not None else None
        return {hit.document_id: stored_hashes_of(hit) for hit in self._scroll(filters, HASH_FIELDS, batch=2000)}

    def _scroll(self, filters: SearchFilters | None, payload: bool | list[str],
                batch: int) -> Iterator[Hit]:
        shard = self._open()
        offset = None
        edge_filter = _edge_filter(filters)
        while True:
            with self._reading():
                records, offset = shard.scroll(
                    ScrollRequest(offset=offset, limit=batch, filter=edge_filter, with_payload=payload)
                )
            for record in records:
                data = dict(record.payload or {})
                yield Hit(str(data.get("document_id", record.id)), 0.0, data)
            if offset is None:
                return

    def scroll(self, filters: SearchFilters | None = None, batch: int = 1000) -> Iterator[Hit]:
        return self._scroll(filters, True, batch)

    def retrieve(self, document_ids: Sequence[str], with_vectors: bool = False,
                 fields: Sequence[str] | None = None) -> list[Hit]:
        if not document_ids:
            return []
        with self._reading():
            records = self._open().retrieve(
                [point_id(d) for d in document_ids], with_payload=payload_selection(fields), with_vector=with_vectors
            )
        hits = []
        for record in records:
            payload = dict(record.payload or {})
            if with_vectors:
                payload["_vectors"] = _plain_vectors(record.vector)
            hits.append(Hit(str(payload.get("document_id")), 0.0, payload))
        order = {d: i for i, d in enumerate(document_ids)}
        return sorted(hits, key=lambda hit: order.get(hit.document_id, len(order)))

    def query(self, vectors: QueryVectors, mode: SearchMode, filters: SearchFilters,
              limit: int, params: RankParams | None = None, fields: Sequence[str] | None = None) -> list[Hit]:
        params = params or RankParams()
        with_payload = payload_selection(fields)
        shard = self._open()
        edge_filter = _edge_filter(filters)
        dense = [float(x) for x in vectors.dense] if vectors.dense is not None else None
        sparse = (EdgeSparse(list(vectors.sparse.indices), list(vectors.sparse.values))
                  if vectors.sparse is not None and vectors.sparse.indices else None)
        depth = params.prefetch or max(MIN_PREFETCH, limit * PREFETCH_FACTOR)
        stage: Prefetch | None = None
        if mode == "dense" or (mode == "hybrid" and sparse is None):
            if dense is None:
                raise StoreError("a dense query needs a dense vector", "embed the query first")
            query: Any = Query.Nearest(dense, using=DENSE_VECTOR)
        elif mode == "sparse":
            if sparse is None:
                return []
            query = Query.Nearest(sparse, using=SPARSE_VECTOR)
        else:
            query = Fusion.Rrf(k=params.rrf_k, weights=[params.dense_weight, params.sparse_weight])
            stage = Prefetch(limit=max(depth, limit), query=query, filter=edge_filter, prefetches=[
                Prefetch(limit=depth, query=Query.Nearest(dense, using=DENSE_VECTOR), filter=edge_filter),
                Prefetch(limit=depth, query=Query.Nearest(sparse, using=SPARSE_VECTOR), filter=edge_filter),
            ])
        if params.boost is not None:
            # The boost rescores the candidates of the plain (or fused) query with a formula.
            candidates = stage or Prefetch(limit=max(depth, limit), query=query, filter=edge_filter)
            request = QueryRequest(limit=limit, prefetches=[candidates], query=self._boost_formula(params.boost),
                                   filter=edge_filter, with_payload=with_payload)
        elif stage is not None:
            request = QueryRequest(limit=limit, prefetches=stage.prefetches, query=query, filter=edge_filter,
                                   with_payload=with_payload)
        else:
            request = QueryRequest(limit=limit, query=query, filter=edge_filter, with_payload=with_payload)
        with self._reading():
            return [self._hit(point) for point in shard.query(request)]

    def newest_change(self) -> str | None:
        """The newest `last_changed_at` in the collection (the boost's default "now")."""
        points = self._open().query(QueryRequest(limit=1, query=OrderBy("last_changed_at", Direction.Desc),
                                                 with_payload=["last_changed_at"]))
        return str(points[0].payload.get("last_changed_at")) if points and points[0].payload else None

    def _boost_formula(self, boost: Boost) -> Formula:
        reference = normalise_datetime(boost.reference or self.newest_change())
        recency = Expression.Decay(DecayKind.Exp, Expression.DatetimeKey("last_changed_at"),
                                   Expression.Datetime(reference), midpoint=0.5,
                                   scale=boost.half_life_days * 86400.0)
        consumers = Expression.Variable("consumer_count")
        usage = Expression.Div(consumers, Expression.Sum([consumers, Expression.Constant(2.0)]),
                               by_zero_default=0.0)
        factor = Expression.Sum([
            Expression.Constant(1.0),
            Expression.Mult([Expression.Constant(boost.recency_weight), recency]),
            Expression.Mult([Expression.Constant(boost.usage_weight), usage]),
        ])
        return Formula(Expression.Mult([Expression.Variable("$score"), factor]), defaults=dict(BOOST_DEFAULTS))

    @staticmethod
    def _hit(point: Any) -> Hit:
        payload = dict(point.payload or {})
        return Hit(str(payload.get("document_id", point.id)), float(point.score), payload)

    def recommend(self, document_id: str, filters: SearchFilters, limit: int) -> list[Hit]:
        shard = self._open()
        pid = point_id(document_id)
        with self._reading():
            records = shard.retrieve([pid], with_payload=False, with_vector=[DENSE_VECTOR])
        if not records:
            raise StoreError(f"no document {document_id!r} in the index",
                             "check the id with `keboola-vectorizer search --json`")
        vector = records[0].vector
        dense = vector[DENSE_VECTOR] if isinstance(vector, dict) else vector
        request = QueryRequest(
            limit=limit,
            query=Query.RecommendBestScore(RecommendQuery(positives=[dense], negatives=[]),
                                           using=DENSE_VECTOR),
            filter=_edge_filter(filters, exclude_point=pid),
            with_payload=True,
        )
        with self._reading():
            return [self._hit(point) for point in shard.query(request)]

    def count(self, filters: SearchFilters | None = None) -> int:
        if self.meta() is None:
            return 0
        with self._reading():
            return int(self._open().count(CountRequest(exact=True, filter=_edge_filter(filters))))

    def counts_by(self, key: str) -> dict[Any, int]:
        if self.meta() is None:
            return {}
        with self._reading():
            response = self._open().facet(FacetRequest(key=key, limit=100_000, exact=True))
        return {_plain(hit.value): int(hit.count) for hit in response.hits}

    # -- state ------------------------------------------------------------------------------

    def read_state(self) -> dict[str, Any]:
        path = self._dir / "state.json"
        if not path.is_file():
            return {}
        try:
            return dict(json.loads(path.read_text()))
        except ValueError:
            return {}

    def write_state(self, state: dict[str, Any]) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        with disk_space.no_space_as_error(self._root, "writing the run state"):
            _atomic_write_json(self._dir / "state.json", state)

    # -- snapshots: a copy of the closed shard directory ------------------------------------------

    def _snapshots_dir(self) -> Path:
        return self._root / f"{self._collection}.snapshots"

    def create_snapshot(self) -> SnapshotInfo:
        """Copy the current generation (shard closed, so the copy is consistent) with a manifest
        of what it holds, for verification on restore."""
        gen_dir = self._generation_dir()
        if gen_dir is None or self.meta() is None:
            raise StoreError(f"no index at {self._dir} to snapshot", "run `keboola-vectorizer index` first")
        hashes = self.content_hashes()
        self._close_shard()
        taken_at = datetime.now(timezone.utc)
        name = f"{self._collection}-{taken_at.strftime('%Y%m%dT%H%M%S%fZ')}"
        target = self._snapshots_dir() / name
        partial = target.with_name(f".{name}.partial")
        disk_space.require_room(self._root, disk_space.tree_bytes(gen_dir), f"snapshot {name}")
        shutil.copytree(gen_dir, partial)
        info = SnapshotInfo(name=name, collection=self.generation or "", points=len(hashes),
                            hashes_digest=hashes_digest(hashes), taken_at=taken_at.isoformat(timespec="seconds"))
        _atomic_write_json(partial / "manifest.json", info.to_dict())
        os.replace(partial, target)
        return info

    def list_snapshots(self) -> list[SnapshotInfo]:
        folder = self._snapshots_dir()
        if not folder.is_dir():
            return []
        infos = []
        for manifest in sorted(folder.glob("*/manifest.json")):
            try:
                infos.append(SnapshotInfo.from_dict(json.loads(manifest.read_text())))
            except (ValueError, KeyError, TypeError):
                continue
        return infos

    def restore_snapshot(self, name_or_location: str, *, verify: bool = True) -> SnapshotInfo:
        """Copy a snapshot into a new generation, check its point count and content hashes against
        the manifest, then switch to it; the current generation is kept until the check passes."""
        source = Path(name_or_location).expanduser()
        if not source.is_dir():
            source = self._snapshots_dir() / name_or_location
        manifest_path = source / "manifest.json"
        if not manifest_path.is_file() or not (source / "shard").is_dir():
            raise StoreError(f"no Edge snapshot {name_or_location!r} (looked in {source})",
                             "list them with `keboola-vectorizer snapshot list`")
        info = SnapshotInfo.from_dict(json.loads(manifest_path.read_text()))
        generation = self._new_generation_name()
        target = self._dir / generation
        disk_space.require_room(self._root, disk_space.tree_bytes(source), f"restoring {info.name}")
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("manifest.json"))
        restored = EdgeStore(self._root, self._collection, generation=generation)
        try:
            if verify:
                hashes = restored.content_hashes()
                if len(hashes) != info.points or hashes_digest(hashes) != info.hashes_digest:
                    raise StoreError(
                        f"restored snapshot {info.name} holds {len(hashes)} points with other content "
                        f"than it recorded ({info.points} points)",
                        "the snapshot is damaged; restore an older one or run `index --rebuild`",
                    )
        except StoreError:
            restored.close()
            shutil.rmtree(target, ignore_errors=True)
            raise
        restored.close()
        old_generation = self.generation
        self._close_shard()
        self._switch_current(generation)
        self._pinned_generation = None
        if old_generation and old_generation != generation:
            shutil.rmtree(self._dir / old_generation, ignore_errors=True)
        return info

    def doctor_checks(self) -> list[DoctorCheck]:
        """Checks for `keboola-vectorizer doctor`: the store path is writable, the collection opens."""
        checks: list[DoctorCheck] = []
        try:
            self._root.mkdir(parents=True, exist_ok=True)
            probe = self._root / f".doctor-{os.getpid()}"
            probe.write_text("ok")
            probe.unlink()
            checks.append(DoctorCheck("qdrant reachable", True, f"embedded Qdrant Edge at {self._root} (writable)"))
        except OSError as exc:
            checks.append(DoctorCheck("qdrant reachable", False,
                                      f"QDRANT_PATH {self._root} is not writable ({exc.strerror}) — "
                                      "set QDRANT_PATH to a writable directory"))
            return checks
        try:
            meta = self.meta()
            detail = (f"'{self._collection}' does not exist yet (the first index run creates it)" if meta is None
                      else f"'{self._collection}' generation {self.generation}: {meta.describe()}, "
                           f"{self.count()} points")
            checks.append(DoctorCheck("qdrant collection", True, detail))
        except StoreError as exc:
            checks.append(DoctorCheck("qdrant collection", False, exc.one_line()))
        gen_dir = self._generation_dir()
        if gen_dir is not None and (gen_dir / "shard").is_dir() and checks[-1].ok:
            checks.append(DoctorCheck("store files", *edge_manifest.doctor_check(gen_dir, self._damage_hint())))
        return checks
