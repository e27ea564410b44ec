"""Qdrant Edge: the real Qdrant engine in-process, the default store on a laptop or a single pod.

`EdgeStore` is the Edge translation of the store core (store/core.py): it runs query plans, scrolls,
counts and facets on an `EdgeShard`, writes points and seals segments. The directory layout is in
generations.py, the shard layout in shard_config.py, backups in snapshots.py.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from qdrant_edge import (
    CountRequest,
    Direction,
    EdgeShard,
    FacetRequest,
    OrderBy,
    Point,
    QueryRequest,
    ScrollRequest,
    UpdateOperation,
)

from keboola_vectorizer.errors import StoreError
from keboola_vectorizer.store import disk_space, edge_manifest
from keboola_vectorizer.store.core import StoreCore
from keboola_vectorizer.store.edge import generations, page_cache, shard_config
from keboola_vectorizer.store.edge import health as edge_health
from keboola_vectorizer.store.edge import snapshots as edge_snapshots
from keboola_vectorizer.store.edge.translate import edge_filter, edge_hit, edge_request, edge_sparse, plain_value
from keboola_vectorizer.store.plan import FilterSpec, QueryPlan, refuse_empty_promote
from keboola_vectorizer.store.protocol import Capabilities
from keboola_vectorizer.store.types import (
    DEFAULT_COLLECTION,
    DENSE_VECTOR,
    SPARSE_VECTOR,
    CollectionMeta,
    DoctorCheck,
    Hit,
    PointRecord,
    SnapshotInfo,
    point_id,
)

log = logging.getLogger(__name__)

EDGE_CAPABILITIES = Capabilities(backend="edge", snapshots=True, seals_segments=True)


class EdgeStore(StoreCore):
    """VectorStore over a Qdrant Edge shard directory."""

    capabilities = EDGE_CAPABILITIES

    def __init__(self, root: Path | str, collection: str = DEFAULT_COLLECTION,
                 generation: str | None = None) -> None:
        self.root = Path(root).expanduser()
        self._collection = collection
        self.collection_dir = self.root / collection
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
        return str(self.collection_dir)

    @property
    def generation(self) -> str | None:
        return self._pinned_generation or generations.current_generation(self.collection_dir)

    def generation_dir(self) -> Path | None:
        generation = self.generation
        return self.collection_dir / generation if generation else None

    def pinned_to(self, generation: str) -> EdgeStore:
        """A store over one generation of this collection, whatever CURRENT says."""
        return EdgeStore(self.root, self._collection, generation=generation)

    def unpin(self) -> None:
        self._pinned_generation = None

    # -- lifecycle --------------------------------------------------------------------------

    def meta(self) -> CollectionMeta | None:
        gen_dir = self.generation_dir()
        if gen_dir is None or not (gen_dir / "meta.json").is_file():
            return None
        try:
            return CollectionMeta.from_dict(json.loads((gen_dir / "meta.json").read_text()))
        except (ValueError, TypeError) as exc:
            raise StoreError(
                f"the embedded store at {gen_dir} has an unreadable meta.json ({exc})",
                "run `keboola-vectorizer index --rebuild` to build it afresh",
            ) from None

    def _exists(self) -> bool:
        return self.meta() is not None

    def _create(self, meta: CollectionMeta) -> None:
        generation = self._pinned_generation or generations.new_generation_name()
        gen_dir = self.collection_dir / generation
        disk_space.require_room(self.root, disk_space.create_bytes(self.root), "creating the index")
        gen_dir.mkdir(parents=True, exist_ok=True)
        edge_manifest.mark_writing(gen_dir)
        try:
            with disk_space.no_space_as_error(self.root, "creating the index"):
                shard = EdgeShard.create(str(gen_dir / "shard"), shard_config.edge_config(meta.dimension))
        except StoreError:
            raise
        except Exception as exc:  # the binding raises plain exceptions for IO problems
            raise StoreError(
                f"cannot create the embedded store at {gen_dir}: {exc}",
                "check that QDRANT_PATH is writable",
            ) from None
        self._wrote = True
        shard_config.create_payload_indexes(shard)
        shard.flush()
        # meta.json is written last: a generation without it is an unfinished create.
        generations.atomic_write_json(gen_dir / "meta.json", asdict(meta))
        self.close_shard()
        self._shard, self._shard_path, self._dirty = shard, str(gen_dir / "shard"), True
        if not self._pinned_generation:
            generations.write_current(self.collection_dir, generation)

    def _open(self) -> EdgeShard:
        if self._shard is not None:
            return self._shard
        gen_dir = self.generation_dir()
        if gen_dir is None or not (gen_dir / "shard").is_dir():
            raise StoreError(
                f"no index at {self.collection_dir}",
                "run `keboola-vectorizer index` first (or set QDRANT_PATH to where it was built)",
            )
        self._shard_path = str(gen_dir / "shard")
        kept = page_cache.take(self._shard_path)
        if kept is not None:
            self._shard = kept
            return kept
        edge_manifest.check_sizes(gen_dir, self.damage_hint)
        disk_space.require_room(self.root, disk_space.open_bytes(Path(self._shard_path)), "opening the index")
        try:
            self._shard = EdgeShard.load(self._shard_path)
        except Exception as exc:
            if edge_manifest.is_read_failure(exc):
                raise edge_manifest.read_failure(gen_dir, exc, self.damage_hint()) from None
            raise StoreError(
                f"cannot open the embedded store at {gen_dir}: {exc}",
                "another process may hold it; otherwise run `keboola-vectorizer index --rebuild`",
            ) from None
        return self._shard

    def close_shard(self, record: bool = True) -> None:
        if self._shard is not None:
            with disk_space.no_space_as_error(self.root, "closing the index"):
                if self._wrote:  # a reader has nothing to flush (25 ms of a cold search at 100k)
                    self._shard.flush()
                self._shard.close()
            self._shard = None
            if self._dirty and record:
                # What the files should be from now on; the next open checks it (edge_manifest).
                with disk_space.no_space_as_error(self.root, "recording the index's files"):
                    edge_manifest.record(Path(self._shard_path).parent)
                self._dirty = False

    def _writing(self) -> EdgeShard:
        """The open shard, its manifest marked `writing` before this process's first write to it."""
        shard = self._open()
        if not self._dirty:
            edge_manifest.mark_writing(Path(self._shard_path).parent)
            self._dirty = True
            shard_config.align_payload_indexes(shard)
        self._wrote = True
        return shard

    def damage_hint(self) -> str:
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
                raise edge_manifest.read_failure(Path(self._shard_path).parent, exc, self.damage_hint()) from None
            raise

    def close(self) -> None:
        if self._shard is not None and page_cache.keeping() and not self._wrote:
            page_cache.keep(self._shard_path, self._shard)
            self._shard = None
            return
        self.close_shard()

    def drop(self) -> None:
        self.close_shard()
        gen_dir = self.generation_dir()
        if self._pinned_generation:
            if gen_dir is not None:
                shutil.rmtree(gen_dir, ignore_errors=True)
        else:
            shutil.rmtree(self.collection_dir, ignore_errors=True)

    def start_rebuild(self, meta: CollectionMeta) -> EdgeStore:
        staging = self.pinned_to(generations.new_generation_name())
        staging.ensure(meta)
        return staging

    def promote(self, staging: EdgeStore) -> None:  # type: ignore[override]
        new_generation = staging.generation
        refuse_empty_promote(self._collection, new_generation or "", staging.count() if new_generation else 0)
        assert new_generation is not None
        staging.close()
        self.close_shard()
        generations.switch_and_clean(self.collection_dir, new_generation, drop_leftovers=True)
        self.unpin()

    def flush(self) -> None:
        if self._shard is not None:
            self._shard.flush()

    # -- sealing (SupportsOptimize) -----------------------------------------------------------

    def should_optimize(self) -> bool:
        """Whether what earlier runs and this one left unsealed is enough to be worth a seal.

        Unsealed points sit in the appendable segment: dense queries scan them (no HNSW graph) and
        every open rebuilds their in-RAM structures."""
        info = self._open().info()
        # Every segment indexes each point's sparse vector; only sealed ones index its dense vector.
        unsealed = max(self._unsealed, 2 * info.points_count - info.indexed_vectors_count)
        return unsealed >= shard_config.MIN_SEAL_POINTS

    def optimize(self) -> None:
        """Seal the appendable segment now: an HNSW graph, mapped storage, a fresh appendable segment."""
        started = time.perf_counter()
        if disk_space.free_bytes(self.root) < disk_space.create_bytes(self.root) + disk_space.KEEP_FREE_BYTES:
            # Sealing opens a fresh appendable segment; without room for it the points stay unsealed
            # (searched by a scan: slower, still correct) until a later run has room.
            log.warning("not sealing %d points: too little free disk space at %s", self._unsealed, self.root)
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
        self.close_shard(record=False)
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
                {DENSE_VECTOR: [float(x) for x in record.dense], SPARSE_VECTOR: edge_sparse(record.sparse)},
                {**record.payload, "document_id": record.document_id},
            )
            for record in points
        ]
        # A mapped write onto a full disk is a SIGBUS, not an error: check the room first.
        disk_space.require_room(self.root, disk_space.batch_bytes(points), f"writing {len(points)} points")
        with disk_space.no_space_as_error(self.root, f"writing {len(points)} points"):
            self._writing().update(UpdateOperation.upsert_points(edge_points))
        self._unsealed += len(edge_points)
        if self._unsealed >= shard_config.SEAL_POINTS:
            self.optimize()

    def delete(self, document_ids: Sequence[str]) -> None:
        if not document_ids:
            return
        disk_space.require_room(self.root, disk_space.BATCH_PAGES_BYTES, f"deleting {len(document_ids)} points")
        with disk_space.no_space_as_error(self.root, f"deleting {len(document_ids)} points"):
            self._writing().update(UpdateOperation.delete_points([point_id(d) for d in document_ids]))

    def _write_payloads(self, payloads: dict[str, dict[str, Any]], *, overwrite: bool) -> None:
        operation = UpdateOperation.overwrite_payload if overwrite else UpdateOperation.set_payload
        needed = sum(len(json.dumps(payload, default=str)) for payload in payloads.values()) * disk_space.BYTES_FACTOR
        disk_space.require_room(self.root, needed + disk_space.BATCH_PAGES_BYTES, f"updating {len(payloads)} payloads")
        shard = self._writing()
        with disk_space.no_space_as_error(self.root, f"updating {len(payloads)} payloads"):
            for document_id, payload in payloads.items():
                shard.update(operation([point_id(document_id)], payload))

    # -- reads: the core's primitives ---------------------------------------------------------

    def _execute(self, plan: QueryPlan) -> list[Hit]:
        shard = self._open()
        with self._reading():
            return [edge_hit(point) for point in shard.query(edge_request(plan))]

    def _retrieve_points(self, point_ids: list[str], payload: bool | list[str],
                         vectors: bool | list[str]) -> list[Hit]:
        shard = self._open()
        with self._reading():
            records = shard.retrieve(point_ids, with_payload=payload, with_vector=vectors)
        return [edge_hit(record, with_vectors=bool(vectors)) for record in records]

    def _scroll_page(self, flt: FilterSpec, payload: bool | list[str], batch: int,
                     offset: Any) -> tuple[list[Hit], Any]:
        shard = self._open()
        with self._reading():
            records, offset = shard.scroll(
                ScrollRequest(offset=offset, limit=batch, filter=edge_filter(flt), with_payload=payload))
        return [edge_hit(record) for record in records], offset

    def _count(self, flt: FilterSpec) -> int:
        if self.meta() is None:
            return 0
        shard = self._open()
        with self._reading():
            return int(shard.count(CountRequest(exact=True, filter=edge_filter(flt))))

    def _facet(self, key: str, limit: int) -> dict[Any, int]:
        if self.meta() is None:
            return {}
        try:
            response = self._open().facet(FacetRequest(key=key, limit=limit, exact=True))
        except Exception as exc:  # the binding raises plain exceptions (an unindexed field)
            raise StoreError(f"Edge facet on {key} failed: {exc}") from None
        return {plain_value(hit.value): int(hit.count) for hit in response.hits}

    def newest_change(self) -> str | None:
        points = self._open().query(QueryRequest(limit=1, query=OrderBy("last_changed_at", Direction.Desc),
                                                 with_payload=["last_changed_at"]))
        return str(points[0].payload.get("last_changed_at")) if points and points[0].payload else None

    # -- state ------------------------------------------------------------------------------

    def read_state(self) -> dict[str, Any]:
        path = self.collection_dir / "state.json"
        if not path.is_file():
            return {}
        try:
            return dict(json.loads(path.read_text()))
        except ValueError:
            return {}

    def write_state(self, state: dict[str, Any]) -> None:
        self.collection_dir.mkdir(parents=True, exist_ok=True)
        with disk_space.no_space_as_error(self.root, "writing the run state"):
            generations.atomic_write_json(self.collection_dir / "state.json", state)

    # -- SupportsSnapshots and HasHealthChecks --------------------------------------------------

    def create_snapshot(self) -> SnapshotInfo:
        return edge_snapshots.create_snapshot(self)

    def list_snapshots(self) -> list[SnapshotInfo]:
        return edge_snapshots.list_snapshots(self)

    def restore_snapshot(self, name_or_location: str, *, verify: bool = True) -> SnapshotInfo:
        return edge_snapshots.restore_snapshot(self, name_or_location, verify=verify)

    def doctor_checks(self) -> list[DoctorCheck]:
        return edge_health.doctor_checks(self)
