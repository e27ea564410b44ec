"""The server backend: a Qdrant server or cluster through qdrant-client (REST).

`ServerStore` is the server translation of the store core (store/core.py). The alias layout is in
aliases.py, what the collection metadata holds in metadata.py, request retries and error mapping in
calls.py, cluster health in cluster.py and backups in snapshots.py.

qdrant-client's local mode (`QdrantClient(":memory:")` or `path=`) runs the same code, which is what
the contract and congruence tests use; its capabilities say what it lacks (parallel upserts,
snapshots, cluster information).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from qdrant_client import QdrantClient, models

from keboola_vectorizer.errors import StoreError
from keboola_vectorizer.store import fail_fast
from keboola_vectorizer.store.core import StoreCore
from keboola_vectorizer.store.plan import REBUILD_HINT, FilterSpec, QueryPlan, refuse_empty_promote
from keboola_vectorizer.store.protocol import Capabilities, VectorStore
from keboola_vectorizer.store.server import aliases, cluster
from keboola_vectorizer.store.server import snapshots as server_snapshots
from keboola_vectorizer.store.server.calls import Caller, make_client, redact_url
from keboola_vectorizer.store.server.metadata import (
    STATE_KEY,
    collection_info,
    meta_from,
    read_metadata,
    update_metadata,
)
from keboola_vectorizer.store.server.options import ServerOptions
from keboola_vectorizer.store.server.translate import query_points_args, server_filter, server_hit, server_sparse
from keboola_vectorizer.store.types import (
    DEFAULT_COLLECTION,
    DENSE_VECTOR,
    SPARSE_VECTOR,
    CollectionMeta,
    DoctorCheck,
    Hit,
    PointRecord,
    SnapshotInfo,
    batched,
    point_id,
)

if TYPE_CHECKING:
    from keboola_vectorizer.config import Settings

log = logging.getLogger(__name__)

SERVER_CAPABILITIES = Capabilities(backend="server", parallel_upserts=True, snapshots=True, cluster=True)
LOCAL_MODE_CAPABILITIES = Capabilities(backend="server-local")


class ServerStore(StoreCore):
    """VectorStore over qdrant-client. `name` is the alias searches use (or, for a store returned by
    `start_rebuild`, the physical staging collection)."""

    def __init__(self, client: QdrantClient | None = None, *, url: str | None = None,
                 api_key: str | None = None, timeout: float = 30.0,
                 collection: str = DEFAULT_COLLECTION, options: ServerOptions | None = None,
                 owns_client: bool | None = None, _alias: str | None = None) -> None:
        if client is None and not url:
            raise StoreError("the server backend needs a Qdrant URL", hint="set QDRANT_URL")
        self.options = options or ServerOptions()
        # Kept only to pass to peer clients and to scrub it from any message.
        self.api_key = api_key or (client.init_options.get("api_key") if client is not None else None)
        self.url = url
        if client is None:
            assert url is not None
            client = make_client(url, api_key, timeout)
            owns_client = True if owns_client is None else owns_client
            if self.options.connect_timeout_s:
                fail_fast.limit_connect_timeout(client, self.options.connect_timeout_s)
        self.client = client
        self._owns_client = bool(owns_client)
        self._name = collection
        # For a staging store: the alias it is being built for (promote checks it).
        self._alias_for = _alias
        in_process = type(client._client).__name__ == "QdrantLocal"
        self.capabilities = LOCAL_MODE_CAPABILITIES if in_process else SERVER_CAPABILITIES
        self.caller = Caller(self.options, self.api_key, lambda: self.location, in_process)
        self._write_checked = False

    @classmethod
    def from_settings(cls, settings: Settings, interactive: bool = False) -> ServerStore:
        """A store for QDRANT_URL, QDRANT_API_KEY, QDRANT_COLLECTION and the QDRANT_* tuning;
        `interactive`: for a command a person waits on, which gives up on a dead server fast
        (store/fail_fast.py)."""
        api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        options = ServerOptions.from_settings(settings)
        if interactive:
            options = fail_fast.interactive(options)
        return cls(url=settings.qdrant_url, api_key=api_key, timeout=settings.qdrant_timeout,
                   collection=settings.qdrant_collection, options=options)

    # ----- identity ---------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def location(self) -> str:
        opts = self.client.init_options
        if self.caller.in_process:
            return f"qdrant-client local mode ({opts.get('path') or opts.get('location') or ':memory:'})"
        if self.url:
            return redact_url(self.url)
        return redact_url(str(opts.get("url") or f"http://{opts.get('host') or 'localhost'}:{opts.get('port')}"))

    @property
    def has_api_key(self) -> bool:
        return bool(self.api_key)

    def physical_name(self) -> str | None:
        """The physical collection behind `name` (the alias target), or None when missing."""
        return aliases.physical_name(self)

    # ----- collection -------------------------------------------------------------------------

    def meta(self) -> CollectionMeta | None:
        metadata = read_metadata(self)
        return None if metadata is None else meta_from(self, metadata)

    def _exists(self) -> bool:
        return collection_info(self) is not None

    def _create(self, meta: CollectionMeta) -> None:
        if self._alias_for is not None:
            raise StoreError(f"staging collection '{self._name}' disappeared", hint=REBUILD_HINT)
        physical = aliases.new_physical_name(self._name)
        try:
            aliases.create_physical(self, physical, meta)
            aliases.switch_alias(self, physical, replace=False)
        except Exception:
            aliases.discard(self, physical)
            raise

    def start_rebuild(self, meta: CollectionMeta) -> ServerStore:
        if self._alias_for is not None:
            raise StoreError("a staging collection cannot start another rebuild")
        aliases.drop_orphans(self)
        physical = aliases.new_physical_name(self._name)
        try:
            aliases.create_physical(self, physical, meta)
        except Exception:
            aliases.discard(self, physical)
            raise
        log.info("rebuilding into %s (alias %s still points at %s)", physical, self._name, self.physical_name())
        return ServerStore(self.client, collection=physical, options=self.options, api_key=self.api_key,
                           owns_client=False, _alias=self._name, url=self.url)

    def orphan_collections(self) -> list[str]:
        """Physical collections of this alias that it does not point at (left by a killed rebuild)."""
        return aliases.orphan_collections(self)

    def promote(self, staging: VectorStore) -> None:
        if not isinstance(staging, ServerStore) or staging._alias_for != self._name:
            raise StoreError(f"'{staging.name}' is not a rebuild of '{self._name}'")
        points = staging.count()
        refuse_empty_promote(self._name, staging.name, points)
        aliases.promote(self, staging.name, points)

    def drop(self) -> None:
        aliases.drop(self)

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    # ----- points -----------------------------------------------------------------------------

    def _consistency(self) -> models.ReadConsistency | None:
        value = self.options.read_consistency
        if value is None or isinstance(value, int):
            return value
        try:
            return models.ReadConsistencyType(str(value).lower())
        except ValueError:
            raise StoreError(f"unknown read consistency '{value}'",
                             hint="use an integer, majority, quorum or all") from None

    def _ensure_writable(self) -> None:
        # Checked once per store: a shard with too few active replicas would fail every write with
        # a less helpful error (or hang until the timeout).
        if self._write_checked or not self.capabilities.cluster:
            return
        self.check_writable()
        self._write_checked = True

    def upsert(self, points: Sequence[PointRecord]) -> None:
        if not points:
            return
        self._ensure_writable()
        batches = list(batched(points, max(1, self.options.upsert_batch_size)))
        parallel = self.options.upsert_parallel if self.capabilities.parallel_upserts else 1
        workers = max(1, min(parallel, len(batches)))
        if workers == 1:
            for batch in batches:
                self._upsert_batch(batch)
            return
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="qdrant-upsert") as pool:
            for _ in pool.map(self._upsert_batch, batches):
                pass  # consuming the results re-raises the first failure

    def _upsert_batch(self, batch: list[PointRecord]) -> None:
        structs = []
        for record in batch:
            vector: dict[str, Any] = {DENSE_VECTOR: [float(x) for x in record.dense]}
            if record.sparse.indices:  # an empty sparse vector carries nothing to store
                vector[SPARSE_VECTOR] = server_sparse(record.sparse)
            payload = {**record.payload, "document_id": record.document_id}
            structs.append(models.PointStruct(id=point_id(record.document_id), vector=vector, payload=payload))
        self.caller.call("upsert", self.client.upsert, collection_name=self._name, points=structs, wait=True)

    def delete(self, document_ids: Sequence[str]) -> None:
        if not document_ids:
            return
        self._ensure_writable()
        for batch in batched(document_ids, 1000):
            self.caller.call("delete", self.client.delete, collection_name=self._name,
                             points_selector=models.PointIdsList(points=[point_id(d) for d in batch]), wait=True)

    def _write_payloads(self, payloads: dict[str, dict[str, Any]], *, overwrite: bool) -> None:
        self._ensure_writable()
        operation: Any = models.OverwritePayloadOperation if overwrite else models.SetPayloadOperation
        key = "overwrite_payload" if overwrite else "set_payload"
        for batch in batched(list(payloads), 256):
            operations = [operation(**{key: models.SetPayload(payload=payloads[doc_id], points=[point_id(doc_id)])})
                          for doc_id in batch]
            self.caller.call("set_payload", self.client.batch_update_points, collection_name=self._name,
                             update_operations=operations, wait=True)

    # ----- reads: the core's primitives -------------------------------------------------------

    def _execute(self, plan: QueryPlan) -> list[Hit]:
        result = self.caller.call("query", self.client.query_points, collection_name=self._name,
                                  consistency=self._consistency(), **query_points_args(plan))
        return [server_hit(point) for point in result.points]

    def _retrieve_points(self, point_ids: list[str], payload: bool | list[str],
                         vectors: bool | list[str]) -> list[Hit]:
        hits: list[Hit] = []
        for batch in batched(point_ids, 1000):
            records = self.caller.call("retrieve", self.client.retrieve, collection_name=self._name, ids=batch,
                                       with_payload=payload, with_vectors=vectors, consistency=self._consistency())
            hits.extend(server_hit(record, with_vectors=bool(vectors)) for record in records)
        return hits

    def _scroll_page(self, flt: FilterSpec, payload: bool | list[str], batch: int,
                     offset: Any) -> tuple[list[Hit], Any]:
        records, offset = self.caller.call("scroll", self.client.scroll, collection_name=self._name,
                                           scroll_filter=server_filter(flt), limit=batch, offset=offset,
                                           with_payload=payload, with_vectors=False,
                                           consistency=self._consistency())
        return [server_hit(record) for record in records], offset

    def _count(self, flt: FilterSpec) -> int:
        result = self.caller.call("count", self.client.count, collection_name=self._name,
                                  count_filter=server_filter(flt), exact=True)
        return int(result.count)

    def _facet(self, key: str, limit: int) -> dict[Any, int]:
        response = self.caller.call("facet", self.client.facet, collection_name=self._name, key=key,
                                    limit=limit, exact=True, consistency=self._consistency())
        return {hit.value: int(hit.count) for hit in response.hits}

    def newest_change(self) -> str | None:
        records, _ = self.caller.call(
            "scroll", self.client.scroll, collection_name=self._name, limit=1,
            order_by=models.OrderBy(key="last_changed_at", direction=models.Direction.DESC),
            with_payload=["last_changed_at"])
        return str(records[0].payload.get("last_changed_at")) if records and records[0].payload else None

    # ----- state ------------------------------------------------------------------------------

    def read_state(self) -> dict[str, Any]:
        state = (read_metadata(self) or {}).get(STATE_KEY)
        return dict(state) if isinstance(state, dict) else {}

    def write_state(self, state: dict[str, Any]) -> None:
        update_metadata(self, {STATE_KEY: json.loads(json.dumps(state, default=str))})

    # ----- cluster health, doctor and snapshots -----------------------------------------------

    def cluster_health(self) -> cluster.ClusterHealth:
        return cluster.cluster_health(self)

    def check_writable(self) -> cluster.ClusterHealth:
        return cluster.check_writable(self)

    def doctor_checks(self) -> list[DoctorCheck]:
        return cluster.doctor_checks(self)

    def create_snapshot(self) -> SnapshotInfo:
        return server_snapshots.create_snapshot(self)

    def list_snapshots(self) -> list[SnapshotInfo]:
        return server_snapshots.list_snapshots(self)

    def restore_snapshot(self, name_or_location: str, *, verify: bool = True) -> SnapshotInfo:
        return server_snapshots.restore_snapshot(self, name_or_location, verify=verify)
