"""The server backend: a Qdrant server or cluster through qdrant-client (REST).

Layout on the server
--------------------
* `name` (default `keboola-metadata`) is an alias. The data lives in a physical collection
  `<alias>-<UTC timestamp>`; `--rebuild` fills a new physical collection and switches the alias in
  one `update_collection_aliases` call, so searches see the old or the new collection, never half.
* Build settings, run state and snapshot manifests live in the collection's own `metadata`
  (Qdrant >= 1.16; top-level keys are merged on update, so each key below is replaced whole):
    - `keboola_vectorizer`                  CollectionMeta (embedder id, dimension, distance, ...)
    - `keboola_vectorizer_state`            the small JSON state of `read_state`/`write_state`
    - `keboola_vectorizer_snapshot_manifest` point count + digest of the content hashes, written just
                                            before a snapshot so that every snapshot carries its own
    - `keboola_vectorizer_snapshots`        the last snapshots taken (name, peers, count, digest)
  Keeping them in the collection means no extra collection or reserved point that would show up in
  counts and searches, and the metadata follows the collection through snapshots and alias switches.

qdrant-client's local mode (`QdrantClient(":memory:")` or `path=`) runs the same code, which is what
the contract tests use; there payload indexes are no-ops, upserts run on one thread and snapshots and
cluster information are not available.

Every request goes through `_call`: transient failures (connection errors, timeouts, 429, 5xx) are
retried with jittered exponential backoff up to a deadline; everything else becomes a StoreError with
a hint. The API key is never part of a message.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import re
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from keboola_vectorizer.errors import StoreError
from keboola_vectorizer.metrics import get_metrics
from keboola_vectorizer.store import fail_fast
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
    PeerSnapshot,
    PointRecord,
    QueryVectors,
    RankParams,
    SearchFilters,
    SearchMode,
    SnapshotInfo,
    SparseVector,
    StoredHashes,
    VectorStore,
    batched,
    every_branch,
    hashes_digest,
    normalise_datetime,
    payload_selection,
    point_id,
    stored_hashes_of,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_COLLECTION = "keboola-metadata"
META_KEY = "keboola_vectorizer"
STATE_KEY = "keboola_vectorizer_state"
MANIFEST_KEY = "keboola_vectorizer_snapshot_manifest"
SNAPSHOTS_KEY = "keboola_vectorizer_snapshots"
KEEP_SNAPSHOT_RECORDS = 20

URL_HINT = "check QDRANT_URL / that the cluster is up"
KEY_HINT = "check QDRANT_API_KEY (a read-only key cannot index)"
REBUILD_HINT = ("run `keboola-vectorizer index --rebuild` to build a fresh collection; the current one "
                "stays searchable until the new one is complete")

_DISTANCES = {
    "cosine": models.Distance.COSINE,
    "dot": models.Distance.DOT,
    "euclid": models.Distance.EUCLID,
    "manhattan": models.Distance.MANHATTAN,
}
_FACET_LIMIT = 100_000


@dataclass
class ServerOptions:
    """Tuning for the server backend; the defaults suit the 3-node cluster in deploy/.

    Collection-shape settings (shards, replication, HNSW, on-disk payload) only apply when a
    physical collection is created; Qdrant does not re-shard or re-replicate an existing one.
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
    # Hybrid fusion: Qdrant's RRF; k and per-prefetch weights ([dense, sparse]) are optional
    rrf_k: int | None = None
    rrf_weights: tuple[float, float] | None = None
    prefetch_limit: int | None = None  # None: max(4 * limit, 50)
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


@dataclass
class ShardReplica:
    shard_id: int
    peer_id: int
    state: str


@dataclass
class ClusterHealth:
    """Peers and shard replica states of the collection (`GET /collections/{name}/cluster`)."""

    distributed: bool
    detail: str
    peers: dict[int, str] = field(default_factory=dict)
    replicas: list[ShardReplica] = field(default_factory=list)
    write_consistency_factor: int = 1
    problems: list[str] = field(default_factory=list)  # writes would fail
    warnings: list[str] = field(default_factory=list)  # degraded but working

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


def redact_url(url: str) -> str:
    """The URL without user info, query or fragment, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def _utc_stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _is_transient(exc: BaseException) -> bool:
    """Worth retrying: the request may succeed as is a moment later (every write is idempotent)."""
    if isinstance(exc, (ResponseHandlingException, httpx.TransportError)):
        return True
    if isinstance(exc, UnexpectedResponse):
        return exc.status_code is not None and (exc.status_code >= 500 or exc.status_code == 429)
    return False


def _is_not_found(exc: BaseException) -> bool:
    if isinstance(exc, UnexpectedResponse):
        return exc.status_code == 404
    # local mode raises ValueError("Collection x not found")
    return isinstance(exc, ValueError) and "not found" in str(exc).lower()


def build_filter(filters: SearchFilters | None,
                 must_not: Sequence[models.Condition] = ()) -> models.Filter | None:
    """MatchAny per field (values OR-ed), all fields AND-ed."""
    must: list[models.Condition] = []
    should: list[models.Condition] = []
    excluded: list[models.Condition] = list(must_not)
    if filters is not None:
        for key, values in filters.by_field().items():
            must.append(models.FieldCondition(key=key, match=models.MatchAny(any=list(values))))
        scope = filters.branch_scope()
        dev = models.FieldCondition(key="branch_kind", match=models.MatchAny(any=["dev"]))
        if scope == []:
            excluded.append(dev)
        elif scope:
            should = [models.Filter(must_not=[dev]),
                      *(models.FieldCondition(key=key, match=models.MatchAny(any=scope)) for key in BRANCH_FIELDS)]
    if not must and not excluded and not should:
        return None
    return models.Filter(must=must or None, should=should or None, must_not=excluded or None)


def _sparse(vector: SparseVector) -> models.SparseVector:
    return models.SparseVector(indices=list(vector.indices), values=list(vector.values))


@contextlib.contextmanager
def _quiet(local: bool) -> Iterator[None]:
    """Local mode warns that payload indexes are no-ops, which is expected here. Only there:
    catch_warnings is not thread-safe, and server upserts run on several threads."""
    if not local:
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


def _make_client(url: str, api_key: str | None, timeout: float) -> QdrantClient:
    https = url.lower().startswith("https://")
    if api_key and not https:
        # qdrant-client warns on every start; inside a cluster network plain HTTP is common, so
        # say it once in the log (and in `doctor`) instead.
        log.info("sending the Qdrant API key over plain HTTP to %s", redact_url(url))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Api key is used with an insecure connection")
        # check_compatibility=False: the version check would make a request (and only warn) in the
        # constructor; `doctor` reports the server version instead.
        return QdrantClient(url=url, api_key=api_key, timeout=max(1, round(timeout)), https=https,
                            check_compatibility=False)


class ServerStore:
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
        self._api_key = api_key or (client.init_options.get("api_key") if client is not None else None)
        self._url = url
        if client is None:
            assert url is not None
            client = _make_client(url, api_key, timeout)
            owns_client = True if owns_client is None else owns_client
            if self.options.connect_timeout_s:
                fail_fast.limit_connect_timeout(client, self.options.connect_timeout_s)
        self._client = client
        self._owns_client = bool(owns_client)
        self._name = collection
        # For a staging store: the alias it is being built for (promote checks it).
        self._alias_for = _alias
        self._local = type(client._client).__name__ == "QdrantLocal"
        self._write_checked = False

    @classmethod
    def from_settings(cls, settings: Any, interactive: bool = False) -> ServerStore:
        """A store for `config.Settings` (QDRANT_URL, QDRANT_API_KEY, QDRANT_COLLECTION, ...).
        Optional settings the Settings class may not have yet are read with defaults. `interactive`:
        for a command a person waits on, which gives up on a dead server fast (store/fail_fast.py)."""
        api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        defaults = ServerOptions()
        consistency: Any = getattr(settings, "qdrant_read_consistency", None)
        if isinstance(consistency, str) and consistency.isdigit():
            consistency = int(consistency)
        peers = getattr(settings, "qdrant_peer_urls", None) or ()
        if isinstance(peers, str):
            peers = tuple(u.strip() for u in peers.split(",") if u.strip())
        options = ServerOptions(
            shard_number=getattr(settings, "qdrant_shard_number", defaults.shard_number),
            replication_factor=getattr(settings, "qdrant_replication_factor", defaults.replication_factor),
            write_consistency_factor=getattr(settings, "qdrant_write_consistency_factor",
                                             defaults.write_consistency_factor),
            read_consistency=consistency,
            upsert_batch_size=getattr(settings, "qdrant_upsert_batch_size", defaults.upsert_batch_size),
            upsert_parallel=getattr(settings, "qdrant_upsert_parallel", defaults.upsert_parallel),
            snapshots_dir=getattr(settings, "qdrant_snapshots_dir", defaults.snapshots_dir),
            peer_urls=tuple(peers),
            retry_deadline_s=getattr(settings, "qdrant_retry_deadline", defaults.retry_deadline_s),
        )
        if interactive:
            options = fail_fast.interactive(options)
        return cls(url=settings.qdrant_url, api_key=api_key,
                   timeout=float(getattr(settings, "qdrant_timeout", 30.0)),
                   collection=settings.qdrant_collection, options=options)

    # ----- identity ---------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def location(self) -> str:
        if self._local:
            opts = self._client.init_options
            return f"qdrant-client local mode ({opts.get('path') or opts.get('location') or ':memory:'})"
        if self._url:
            return redact_url(self._url)
        opts = self._client.init_options
        return redact_url(str(opts.get("url") or f"http://{opts.get('host') or 'localhost'}:"
                                                  f"{opts.get('port')}"))

    @property
    def is_local(self) -> bool:
        return self._local

    @property
    def client(self) -> QdrantClient:
        return self._client

    # ----- request plumbing -------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        if self._api_key:
            text = text.replace(self._api_key, "***")
        return text

    def _log_retry(self, op: str) -> Callable[[RetryCallState], None]:
        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            get_metrics().retry("qdrant")
            wait = state.next_action.sleep if state.next_action else 0.0
            log.log(logging.DEBUG if self.options.quiet_retries else logging.WARNING,
                    "Qdrant %s failed (%s); retry %d in %.1f s", op, self._describe_exc(exc),
                    state.attempt_number, wait)
        return before_sleep

    def _describe_exc(self, exc: BaseException | None) -> str:
        if exc is None:
            return "unknown error"
        if isinstance(exc, ResponseHandlingException):
            exc = exc.source
        if isinstance(exc, UnexpectedResponse):
            return f"HTTP {exc.status_code}"
        return self._redact(f"{type(exc).__name__}: {exc}".strip().rstrip(":"))

    def _call(self, op: str, fn: Callable[..., T], *args: Any, missing_ok: bool = False,
              retry: bool = True, **kwargs: Any) -> T:
        """Run one client call with retries for transient errors; map failures to StoreError.
        With missing_ok, a 'collection not found' answer returns None instead; retry=False for
        long operations that must not run twice at once (snapshot create / recover)."""
        retrying = Retrying(
            stop=stop_after_attempt(self.options.retry_attempts if retry else 1)
            | stop_after_delay(self.options.retry_deadline_s),
            wait=wait_exponential_jitter(multiplier=self.options.retry_initial_s,
                                         max=self.options.retry_max_s),
            retry=retry_if_exception(_is_transient),
            before_sleep=self._log_retry(op),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt, _quiet(self._local):
                    return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - mapped to StoreError or re-raised below
            if missing_ok and _is_not_found(exc):
                return None  # type: ignore[return-value]
            raise self._store_error(op, exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover - Retrying always returns or raises

    def _store_error(self, op: str, exc: Exception) -> Exception:
        if isinstance(exc, NotImplementedError):
            return StoreError(f"{op} is not supported by qdrant-client's local mode",
                              hint="use a Qdrant server (set QDRANT_URL)")
        if isinstance(exc, (ResponseHandlingException, httpx.TransportError)):
            return StoreError(f"Qdrant at {self.location} is unreachable ({self._describe_exc(exc)})",
                              hint=URL_HINT)
        if isinstance(exc, UnexpectedResponse):
            if exc.status_code in (401, 403):
                error = StoreError(f"Qdrant rejected the API key (HTTP {exc.status_code} on {op})",
                                   hint=KEY_HINT)
                error.auth_failed = True  # type: ignore[attr-defined]
                return error
            detail = ""
            try:
                detail = str(exc.structured().get("status", {}).get("error", ""))
            except (ValueError, AttributeError):
                detail = exc.content[:200].decode(errors="replace")
            return StoreError(self._redact(f"Qdrant {op} failed: HTTP {exc.status_code} {detail}".strip()),
                              hint=URL_HINT if exc.status_code and exc.status_code >= 500 else "")
        if isinstance(exc, (ValueError, KeyError)) and self._local:
            return StoreError(self._redact(f"Qdrant {op} failed: {exc}"))
        return exc  # a programming error: let it surface as is

    # ----- collection and alias ---------------------------------------------------------------

    def _info(self, collection: str | None = None) -> models.CollectionInfo | None:
        # Collection-level calls go to the physical name: points APIs resolve aliases everywhere,
        # collection management is not guaranteed to on every server version.
        target = collection or self.physical_name()
        if target is None:
            return None
        return self._call("get collection", self._client.get_collection, target, missing_ok=True)

    def physical_name(self) -> str | None:
        """The physical collection behind `name` (the alias target), or None when missing."""
        aliases = self._call("list aliases", self._client.get_aliases).aliases
        for alias in aliases:
            if alias.alias_name == self._name:
                return alias.collection_name
        exists = self._call("check collection", self._client.collection_exists, self._name)
        return self._name if exists else None

    def _metadata(self) -> dict[str, Any] | None:
        info = self._info()
        if info is None:
            return None
        return dict(info.config.metadata or {})

    def meta(self) -> CollectionMeta | None:
        metadata = self._metadata()
        if metadata is None:
            return None
        raw = metadata.get(META_KEY)
        if not isinstance(raw, dict):
            raise StoreError(f"collection '{self._name}' at {self.location} has no keboola-vectorizer "
                             "build metadata (created by another tool, or a Qdrant server older than "
                             "1.16 which drops collection metadata)", hint=REBUILD_HINT)
        known = {key: raw[key] for key in CollectionMeta.__dataclass_fields__ if key in raw}
        return CollectionMeta(**known)

    def ensure(self, meta: CollectionMeta) -> None:
        current = self.meta()
        if current is None:
            if self._alias_for is not None:
                raise StoreError(f"staging collection '{self._name}' disappeared", hint=REBUILD_HINT)
            physical = self._new_physical_name()
            try:
                self._create_physical(physical, meta)
                self._call("create alias", self._client.update_collection_aliases,
                           change_aliases_operations=[models.CreateAliasOperation(
                               create_alias=models.CreateAlias(collection_name=physical,
                                                               alias_name=self._name))])
            except Exception:
                self._discard(physical)
                raise
            return
        self._check_compatible(current, meta)

    def _check_compatible(self, current: CollectionMeta, wanted: CollectionMeta) -> None:
        same = (current.embedder_id == wanted.embedder_id and current.dimension == wanted.dimension
                and current.distance == wanted.distance and current.sparse == wanted.sparse
                and current.schema_version == wanted.schema_version)
        if not same:
            raise StoreError(
                f"collection '{self._name}' at {self.location} was built with {current.describe()} "
                f"(schema {current.schema_version}); this run uses {wanted.describe()} "
                f"(schema {wanted.schema_version})", hint=REBUILD_HINT)

    def _new_physical_name(self) -> str:
        base = self._alias_for or self._name
        return f"{base}-{_utc_stamp()}"

    def _create_physical(self, physical: str, meta: CollectionMeta) -> None:
        distance = _DISTANCES.get(meta.distance.lower())
        if distance is None:
            raise StoreError(f"unsupported distance '{meta.distance}'",
                             hint=f"use one of {', '.join(_DISTANCES)}")
        opts = self.options
        hnsw = None
        if opts.hnsw_m is not None or opts.hnsw_ef_construct is not None:
            hnsw = models.HnswConfigDiff(m=opts.hnsw_m, ef_construct=opts.hnsw_ef_construct)
        create = functools.partial(
            self._call, "create collection", self._client.create_collection,
            collection_name=physical,
            vectors_config={DENSE_VECTOR: models.VectorParams(size=meta.dimension, distance=distance)},
            # IDF modifier: the BM25 vectors carry term frequencies only; Qdrant applies IDF from
            # the collection's statistics at query time.
            sparse_vectors_config={SPARSE_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            shard_number=opts.shard_number,
            replication_factor=opts.replication_factor,
            write_consistency_factor=opts.write_consistency_factor,
            on_disk_payload=opts.on_disk_payload,
            hnsw_config=hnsw,
            metadata={META_KEY: asdict(meta), STATE_KEY: {}},
        )
        try:
            create()
        except StoreError:
            # A retried create whose first attempt went through answers "already exists".
            if self._info(physical) is None:
                raise
        self._create_payload_indexes(physical)
        # A server older than 1.16 accepts the request but drops the metadata: refuse early rather
        # than lose the embedder check.
        info = self._info(physical)
        if info is None or not (info.config.metadata or {}).get(META_KEY):
            raise StoreError(f"Qdrant at {self.location} did not keep the collection metadata",
                             hint="upgrade Qdrant to 1.16 or newer")

    def _discard(self, physical: str) -> None:
        """Best-effort removal of a half-created collection (the original error matters more)."""
        try:
            self._call("delete collection", self._client.delete_collection, physical)
        except StoreError as exc:
            log.warning("could not remove the half-created collection %s: %s", physical, exc.message)

    def _create_payload_indexes(self, physical: str) -> None:
        schemas = ([(name, models.PayloadSchemaType.KEYWORD) for name in KEYWORD_FIELDS]
                   + [(name, models.PayloadSchemaType.INTEGER) for name in INTEGER_FIELDS]
                   + [(name, models.PayloadSchemaType.DATETIME) for name in DATETIME_FIELDS])
        for name, schema in schemas:
            # Called in local mode too (a no-op there) so the tests see the same requests.
            self._call(f"create payload index {name}", self._client.create_payload_index,
                       collection_name=physical, field_name=name, field_schema=schema, wait=True)

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
        if self._write_checked or self._local:
            return
        self.check_writable()
        self._write_checked = True

    def upsert(self, points: Sequence[PointRecord]) -> None:
        if not points:
            return
        self._ensure_writable()
        batches = list(batched(points, max(1, self.options.upsert_batch_size)))
        # local mode is not thread-safe; a server takes several batches in flight
        workers = 1 if self._local else max(1, min(self.options.upsert_parallel, len(batches)))
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
                vector[SPARSE_VECTOR] = _sparse(record.sparse)
            payload = dict(record.payload)
            payload["document_id"] = record.document_id
            structs.append(models.PointStruct(id=point_id(record.document_id), vector=vector,
                                              payload=payload))
        self._call("upsert", self._client.upsert, collection_name=self._name, points=structs, wait=True)

    def delete(self, document_ids: Sequence[str]) -> None:
        if not document_ids:
            return
        self._ensure_writable()
        for batch in batched(document_ids, 1000):
            self._call("delete", self._client.delete, collection_name=self._name,
                       points_selector=models.PointIdsList(points=[point_id(d) for d in batch]),
                       wait=True)

    def set_payload(self, payloads: Mapping[str, dict[str, Any]]) -> None:
        self._update_payloads(payloads, lambda body: models.SetPayloadOperation(set_payload=body))

    def overwrite_payload(self, payloads: Mapping[str, dict[str, Any]]) -> None:
        self._update_payloads(payloads, lambda body: models.OverwritePayloadOperation(overwrite_payload=body))

    def _update_payloads(self, payloads: Mapping[str, dict[str, Any]],
                         operation: Callable[[models.SetPayload], Any]) -> None:
        if not payloads:
            return
        self._ensure_writable()
        # Only stored points: a payload operation on a missing id fails the whole batch.
        stored = [hit.document_id for hit in self.retrieve(list(payloads), fields=[])]
        for batch in batched(stored, 256):
            operations = [operation(models.SetPayload(payload={**payloads[doc_id], "document_id": doc_id},
                                                      points=[point_id(doc_id)]))
                          for doc_id in batch]
            self._call("set_payload", self._client.batch_update_points, collection_name=self._name,
                       update_operations=operations, wait=True)

    def _hit(self, point: Any, with_vectors: bool = False) -> Hit:
        payload = dict(point.payload or {})
        if with_vectors:
            vectors = point.vector or {}
            out: dict[str, Any] = {}
            if isinstance(vectors, dict):
                if DENSE_VECTOR in vectors:
                    out[DENSE_VECTOR] = list(vectors[DENSE_VECTOR])
                sparse = vectors.get(SPARSE_VECTOR)
                if sparse is not None:
                    out[SPARSE_VECTOR] = {"indices": list(sparse.indices), "values": list(sparse.values)}
            payload["_vectors"] = out
        document_id = str(payload.get("document_id", point.id))
        return Hit(document_id=document_id, score=float(getattr(point, "score", 0.0) or 0.0),
                   payload=payload)

    def retrieve(self, document_ids: Sequence[str], with_vectors: bool = False,
                 fields: Sequence[str] | None = None) -> list[Hit]:
        if not document_ids:
            return []
        found: dict[str, Hit] = {}
        for batch in batched(document_ids, 1000):
            records = self._call("retrieve", self._client.retrieve, collection_name=self._name,
                                 ids=[point_id(d) for d in batch], with_payload=payload_selection(fields),
                                 with_vectors=with_vectors, consistency=self._consistency())
            for record in records:
                hit = self._hit(record, with_vectors)
                hit.score = 0.0
                found[hit.document_id] = hit
        return [found[d] for d in dict.fromkeys(document_ids) if d in found]

    def query(self, vectors: QueryVectors, mode: SearchMode, filters: SearchFilters,
              limit: int, params: RankParams | None = None, fields: Sequence[str] | None = None) -> list[Hit]:
        if params is not None:
            return self._ranked_query(vectors, mode, filters, limit, params, fields)
        flt = build_filter(filters)
        dense = [float(x) for x in vectors.dense] if vectors.dense is not None else None
        sparse = _sparse(vectors.sparse) if vectors.sparse is not None and vectors.sparse.indices else None
        common: dict[str, Any] = {"collection_name": self._name, "query_filter": flt, "limit": limit,
                                  "with_payload": payload_selection(fields), "consistency": self._consistency()}
        if mode == "dense" or (mode == "hybrid" and sparse is None):
            if dense is None:
                raise ValueError("a dense query needs a dense vector")
            result = self._call("query", self._client.query_points, query=dense, using=DENSE_VECTOR,
                                **common)
        elif mode == "sparse" or (mode == "hybrid" and dense is None):
            if sparse is None:
                return []  # no known terms: nothing can match lexically
            result = self._call("query", self._client.query_points, query=sparse, using=SPARSE_VECTOR,
                                **common)
        elif mode == "hybrid":
            depth = self.options.prefetch_limit or max(4 * limit, 50)
            prefetch = [
                models.Prefetch(query=dense, using=DENSE_VECTOR, filter=flt, limit=depth),
                models.Prefetch(query=sparse, using=SPARSE_VECTOR, filter=flt, limit=depth),
            ]
            fusion: models.Query
            if self.options.rrf_k is None and self.options.rrf_weights is None:
                fusion = models.FusionQuery(fusion=models.Fusion.RRF)
            else:
                weights = list(self.options.rrf_weights) if self.options.rrf_weights else None
                fusion = models.RrfQuery(rrf=models.Rrf(k=self.options.rrf_k, weights=weights))
            result = self._call("hybrid query", self._client.query_points, prefetch=prefetch,
                                query=fusion, **common)
        else:
            raise ValueError(f"unknown search mode {mode!r}")
        return [self._hit(point) for point in result.points]

    def _ranked_query(self, vectors: QueryVectors, mode: SearchMode, filters: SearchFilters,
                      limit: int, params: RankParams, fields: Sequence[str] | None = None) -> list[Hit]:
        """The query with explicit RRF k / weights, prefetch depth and optional formula boost."""
        flt = build_filter(filters)
        dense = [float(x) for x in vectors.dense] if vectors.dense is not None else None
        sparse = _sparse(vectors.sparse) if vectors.sparse is not None and vectors.sparse.indices else None
        depth = max(params.prefetch or max(4 * limit, 50), limit)
        prefetch: list[models.Prefetch] | None = None
        query: Any
        using: str | None = None
        if mode == "dense" or (mode == "hybrid" and sparse is None):
            if dense is None:
                raise ValueError("a dense query needs a dense vector")
            query, using = dense, DENSE_VECTOR
        elif mode == "sparse" or (mode == "hybrid" and dense is None):
            if sparse is None:
                return []
            query, using = sparse, SPARSE_VECTOR
        else:
            prefetch = [models.Prefetch(query=dense, using=DENSE_VECTOR, filter=flt, limit=depth),
                        models.Prefetch(query=sparse, using=SPARSE_VECTOR, filter=flt, limit=depth)]
            query = models.RrfQuery(rrf=models.Rrf(k=params.rrf_k,
                                                   weights=[params.dense_weight, params.sparse_weight]))
        if params.boost is not None:
            prefetch = [models.Prefetch(prefetch=prefetch, query=query, using=using, filter=flt, limit=depth)]
            query, using = self._boost_formula(params.boost), None
        result = self._call("query", self._client.query_points, collection_name=self._name, prefetch=prefetch,
                            query=query, using=using, query_filter=flt, limit=limit,
                            with_payload=payload_selection(fields), consistency=self._consistency())
        return [self._hit(point) for point in result.points]

    def newest_change(self) -> str | None:
        """The newest `last_changed_at` in the collection (the boost's default "now")."""
        records, _ = self._call("scroll", self._client.scroll, collection_name=self._name, limit=1,
                                order_by=models.OrderBy(key="last_changed_at", direction=models.Direction.DESC),
                                with_payload=["last_changed_at"])
        return str(records[0].payload.get("last_changed_at")) if records and records[0].payload else None

    def _boost_formula(self, boost: Boost) -> models.FormulaQuery:
        """The same formula as the Edge store's (store/base.py `Boost`)."""
        reference = normalise_datetime(boost.reference or self.newest_change())
        recency = models.ExpDecayExpression(exp_decay=models.DecayParamsExpression(
            x=models.DatetimeKeyExpression(datetime_key="last_changed_at"),
            target=models.DatetimeExpression(datetime=reference),
            scale=boost.half_life_days * 86400.0, midpoint=0.5))
        usage = models.DivExpression(div=models.DivParams(
            left="consumer_count", right=models.SumExpression(sum=["consumer_count", 2.0]), by_zero_default=0.0))
        factor = models.SumExpression(sum=[1.0, models.MultExpression(mult=[boost.recency_weight, recency]),
                                           models.MultExpression(mult=[boost.usage_weight, usage])])
        return models.FormulaQuery(formula=models.MultExpression(mult=["$score", factor]),
                                   defaults=dict(BOOST_DEFAULTS))

    def recommend(self, document_id: str, filters: SearchFilters, limit: int) -> list[Hit]:
        pid = point_id(document_id)
        if not self.retrieve([document_id]):
            raise StoreError(f"no document {document_id!r} in the index",
                             hint="check the id with `keboola-vectorizer search --json`")
        # Qdrant leaves the examples out of a recommendation; the must_not makes it explicit.
        flt = build_filter(filters, must_not=[models.HasIdCondition(has_id=[pid])])
        result = self._call("recommend", self._client.query_points, collection_name=self._name,
                            query=models.RecommendQuery(recommend=models.RecommendInput(positive=[pid])),
                            using=DENSE_VECTOR, query_filter=flt, limit=limit, with_payload=True,
                            consistency=self._consistency())
        return [self._hit(p) for p in result.points if p.id != pid][:limit]

    def count(self, filters: SearchFilters | None = None) -> int:
        result = self._call("count", self._client.count, collection_name=self._name,
                            count_filter=build_filter(filters), exact=True)
        return int(result.count)

    def counts_by(self, key: str) -> dict[Any, int]:
        try:
            response = self._client_facet(key)
        except StoreError as exc:
            # A server facets only indexed fields; count by scrolling instead.
            log.debug("facet on %s failed (%s); counting by scroll", key, exc.message)
            response = None
        if response is not None and len(response.hits) < _FACET_LIMIT:
            return {hit.value: int(hit.count) for hit in response.hits}
        counts: dict[Any, int] = {}
        for hit in self._scroll(None, 1000, [key]):
            values = hit.payload.get(key)
            for value in values if isinstance(values, list) else [values]:
                if value is not None:
                    counts[value] = counts.get(value, 0) + 1
        return counts

    def _client_facet(self, key: str) -> models.FacetResponse:
        return self._call("facet", self._client.facet, collection_name=self._name, key=key,
                          limit=_FACET_LIMIT, exact=True, consistency=self._consistency())

    def _scroll(self, filters: SearchFilters | None, batch: int,
                payload: bool | list[str] = True) -> Iterator[Hit]:
        offset: Any = None
        flt = build_filter(filters)
        while True:
            records, offset = self._call("scroll", self._client.scroll, collection_name=self._name,
                                         scroll_filter=flt, limit=batch, offset=offset,
                                         with_payload=payload, with_vectors=False,
                                         consistency=self._consistency())
            for record in records:
                yield self._hit(record)
            if offset is None:
                return

    def scroll(self, filters: SearchFilters | None = None, batch: int = 1000) -> Iterator[Hit]:
        return self._scroll(filters, batch)

    def content_hashes(self, project_id: int | None = None) -> dict[str, str]:
        return {doc_id: hashes.content_hash for doc_id, hashes in self.stored_hashes(project_id).items()}

    def stored_hashes(self, project_id: int | None = None) -> dict[str, StoredHashes]:
        if self._info() is None:
            return {}
        filters = every_branch(project_ids=[project_id]) if project_id is not None else None
        return {hit.document_id: stored_hashes_of(hit) for hit in self._scroll(filters, 1000, HASH_FIELDS)}

    # ----- state ------------------------------------------------------------------------------

    def read_state(self) -> dict[str, Any]:
        metadata = self._metadata()
        state = (metadata or {}).get(STATE_KEY)
        return dict(state) if isinstance(state, dict) else {}

    def write_state(self, state: dict[str, Any]) -> None:
        self._update_metadata({STATE_KEY: json.loads(json.dumps(state, default=str))})

    def _update_metadata(self, values: dict[str, Any], collection: str | None = None) -> None:
        target = collection or self.physical_name()
        if target is None or self._info(target) is None:
            raise StoreError(f"collection '{collection or self._name}' does not exist at {self.location}",
                             hint="run `keboola-vectorizer index` first")
        # Top-level keys are merged by Qdrant, so each key is replaced whole.
        self._call("update collection metadata", self._client.update_collection,
                   collection_name=target, metadata=values)

    # ----- rebuild ----------------------------------------------------------------------------

    def start_rebuild(self, meta: CollectionMeta) -> ServerStore:
        if self._alias_for is not None:
            raise StoreError("a staging collection cannot start another rebuild")
        self._drop_orphans()
        physical = self._new_physical_name()
        try:
            self._create_physical(physical, meta)
        except Exception:
            self._discard(physical)
            raise
        log.info("rebuilding into %s (alias %s still points at %s)", physical, self._name,
                 self.physical_name())
        return ServerStore(self._client, collection=physical, options=self.options,
                           api_key=self._api_key, owns_client=False, _alias=self._name, url=self._url)

    def orphan_collections(self) -> list[str]:
        """Physical collections of this alias that it does not point at (left by a killed rebuild)."""
        pattern = re.compile(rf"^{re.escape(self._name)}-\d{{8}}T\d{{12}}Z$")
        current = self.physical_name()
        names = [c.name for c in self._call("list collections", self._client.get_collections).collections]
        return sorted(n for n in names if pattern.match(n) and n != current)

    def _drop_orphans(self) -> None:
        # Index runs hold a lock, so a leftover staging collection belongs to a run that died.
        for orphan in self.orphan_collections():
            log.warning("dropping %s, left by an interrupted rebuild", orphan)
            self._call("delete collection", self._client.delete_collection, orphan)

    def promote(self, staging: VectorStore) -> None:
        if not isinstance(staging, ServerStore) or staging._alias_for != self._name:
            raise StoreError(f"'{getattr(staging, 'name', staging)}' is not a rebuild of '{self._name}'")
        points = staging.count()
        if points == 0:
            raise StoreError(f"refusing to switch '{self._name}' to the empty collection '{staging.name}'",
                             hint="the rebuild indexed nothing; check the run's errors and retry")
        old = self.physical_name()
        if old == staging.name:
            return
        actions: list[models.AliasOperations] = []
        if old == self._name:
            # A plain collection holds the alias's name (made by hand or another tool): it has to
            # go before the alias can exist, so this one switch is not atomic.
            log.warning("replacing plain collection %s by an alias; searches fail briefly", old)
            self._call("delete collection", self._client.delete_collection, old)
            old = None
        elif old is not None:
            actions.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=self._name)))
        actions.append(models.CreateAliasOperation(
            create_alias=models.CreateAlias(collection_name=staging.name, alias_name=self._name)))
        # Delete + create in one request: Qdrant applies the list atomically.
        self._call("switch alias", self._client.update_collection_aliases,
                   change_aliases_operations=actions)
        log.info("alias %s now points at %s (%d points)", self._name, staging.name, points)
        if old is not None:
            self._call("delete collection", self._client.delete_collection, old)

    def drop(self) -> None:
        physical = self.physical_name()
        if physical is None:
            return
        if physical != self._name:
            self._call("delete alias", self._client.update_collection_aliases,
                       change_aliases_operations=[models.DeleteAliasOperation(
                           delete_alias=models.DeleteAlias(alias_name=self._name))])
        self._call("delete collection", self._client.delete_collection, physical)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    # ----- cluster health ---------------------------------------------------------------------

    def cluster_health(self) -> ClusterHealth:
        """Peers and replica states of every shard of the collection.

        problems: shards whose Active replicas are fewer than write_consistency_factor (writes fail);
        warnings: Dead / Partial / recovering replicas (still writable, but degraded)."""
        wcf = self.options.write_consistency_factor
        if self._local:
            return ClusterHealth(distributed=False, detail="not distributed (qdrant-client local mode)",
                                 write_consistency_factor=wcf)
        peers: dict[int, str] = {}
        distributed: bool | None = None
        try:
            status = self._call("cluster status", self._client.cluster_status)
            distributed = getattr(status, "status", "") == "enabled"
            if distributed:
                peers = {int(pid): str(info.uri) for pid, info in (status.peers or {}).items()}
        except StoreError as exc:
            # A key scoped to collections (JWT RBAC) may not read GET /cluster; the collection's
            # own cluster info below is what the write check needs.
            if not getattr(exc, "auth_failed", False):
                raise
        info = self._info()
        if info is None:
            return ClusterHealth(distributed=bool(distributed), peers=peers, write_consistency_factor=wcf,
                                 detail=f"collection '{self._name}' does not exist yet")
        wcf = info.config.params.write_consistency_factor or wcf
        physical = self.physical_name() or self._name
        cluster = self._call("collection cluster info", self._client.collection_cluster_info, physical)
        replicas = [ShardReplica(s.shard_id, cluster.peer_id, str(s.state)) for s in cluster.local_shards]
        replicas += [ShardReplica(s.shard_id, s.peer_id, str(s.state)) for s in cluster.remote_shards]
        if distributed is None:  # GET /cluster was not allowed: infer from the shard layout
            distributed = bool(cluster.remote_shards)
        health = ClusterHealth(distributed=distributed, peers=peers, replicas=replicas,
                               write_consistency_factor=wcf,
                               detail=(f"{len(peers)} peers, {cluster.shard_count} shards" if distributed
                                       else "not distributed (cluster mode off)"))
        by_shard: dict[int, list[ShardReplica]] = {}
        for replica in replicas:
            by_shard.setdefault(replica.shard_id, []).append(replica)
        for shard_id, shard_replicas in sorted(by_shard.items()):
            active = sum(1 for r in shard_replicas if r.state == models.ReplicaState.ACTIVE.value)
            # A shard never needs more acknowledgements than it has replicas (a single node, or a
            # collection created with fewer replicas than write_consistency_factor).
            needed = min(wcf, len(shard_replicas))
            if active < needed:
                health.problems.append(f"shard {shard_id} has {active} Active replica(s), writes need "
                                       f"{needed} (write_consistency_factor)")
            for r in shard_replicas:
                if r.state != models.ReplicaState.ACTIVE.value:
                    health.warnings.append(f"shard {shard_id} replica on peer {r.peer_id} is {r.state}")
        return health

    def check_writable(self) -> ClusterHealth:
        """Refuse to write when a shard cannot reach write_consistency_factor; log degraded replicas."""
        health = self.cluster_health()
        for warning in health.warnings:
            log.warning("Qdrant: %s", warning)
        if health.problems:
            raise StoreError(f"Qdrant at {self.location} cannot take writes: {'; '.join(health.problems)}",
                             hint=f"wait for the peers to recover (GET /collections/{self._name}/cluster) "
                                  "or lower write_consistency_factor")
        return health

    def doctor_checks(self) -> list[DoctorCheck]:
        """Checks for `keboola-vectorizer doctor`; none raises, each says what it found."""
        checks: list[DoctorCheck] = []

        def run(name: str, fn: Callable[[], str]) -> bool:
            try:
                checks.append(DoctorCheck(name, True, fn()))
                return True
            except StoreError as exc:
                checks.append(DoctorCheck(name, False, exc.one_line()))
                return False

        def reachable() -> str:
            if self._local:
                return self.location
            version = self._call("server info", self._client.info).version
            plain = " (API key over plain HTTP)" if self._api_key and self.location.startswith("http:") else ""
            return f"{self.location}, Qdrant {version}{plain}"

        def collection() -> str:
            meta = self.meta()
            if meta is None:
                return f"'{self._name}' does not exist yet (the first index run creates it)"
            return f"'{self._name}' -> {self.physical_name()}: {meta.describe()}, {self.count()} points"

        def cluster() -> str:
            health = self.check_writable()
            text = health.detail
            return f"{text}; degraded: {'; '.join(health.warnings)}" if health.warnings else text

        if run("qdrant reachable", reachable):
            run("qdrant collection", collection)
            run("qdrant cluster", cluster)
        return checks

    # ----- snapshots --------------------------------------------------------------------------

    def _peer_clients(self) -> list[tuple[str, QdrantClient, bool]]:
        """(peer URL, client, owned) for every peer to snapshot; the main client alone by default."""
        # Own clients with a long timeout: creating or recovering a snapshot takes minutes on a
        # big collection, and a timed-out request must not be retried while the first still runs.
        if not self.options.peer_urls:
            client, owned = self._long_client()
            return [("", client, owned)]
        return [(redact_url(url), _make_client(url, self._api_key, self.options.snapshot_timeout_s), True)
                for url in self.options.peer_urls]

    def _long_client(self) -> tuple[QdrantClient, bool]:
        """(client, owned) for the main URL with the snapshot timeout; the given client otherwise."""
        if self._url:
            return _make_client(self._url, self._api_key, self.options.snapshot_timeout_s), True
        return self._client, False

    def _snapshot_records(self) -> list[dict[str, Any]]:
        records = (self._metadata() or {}).get(SNAPSHOTS_KEY)
        return list(records) if isinstance(records, list) else []

    def create_snapshot(self) -> SnapshotInfo:
        """Snapshot the collection on every peer (a collection snapshot holds one node's shards).

        What the snapshot holds (point count, digest of the content hashes) is written into the
        collection metadata first, so each snapshot carries its own manifest, and recorded in the
        list of snapshots afterwards."""
        if self._local:
            raise StoreError("snapshots are not supported by qdrant-client's local mode",
                             hint="use a Qdrant server (QDRANT_URL); back up a local store by copying "
                                  "its directory")
        physical = self.physical_name()
        if physical is None:
            raise StoreError(f"collection '{self._name}' does not exist at {self.location}",
                             hint="run `keboola-vectorizer index` first")
        hashes = self.content_hashes()
        manifest = {"collection": physical, "points": len(hashes), "hashes_digest": hashes_digest(hashes),
                    "taken_at": _now_iso()}
        self._update_metadata({MANIFEST_KEY: manifest})
        info = SnapshotInfo(name="", collection=physical, points=manifest["points"],
                            hashes_digest=manifest["hashes_digest"], taken_at=manifest["taken_at"])
        for peer_url, client, owned in self._peer_clients():
            try:
                desc = self._call(f"create snapshot on {peer_url or self.location}", client.create_snapshot,
                                  collection_name=physical, wait=True, retry=False)
            finally:
                if owned:
                    client.close()
            if desc is None:
                raise StoreError(f"Qdrant at {peer_url or self.location} returned no snapshot description")
            info.peers.append(PeerSnapshot(peer=peer_url, name=desc.name, size=desc.size,
                                           checksum=desc.checksum, created_at=desc.creation_time))
        info.name = info.peers[0].name
        if not self.options.peer_urls:
            info.warnings.extend(self._single_peer_gaps(physical))
        records = [r for r in self._snapshot_records() if r.get("name") != info.name]
        records.append(info.to_dict())
        self._update_metadata({SNAPSHOTS_KEY: records[-KEEP_SNAPSHOT_RECORDS:]})
        return info

    def _single_peer_gaps(self, physical: str) -> list[str]:
        """In a cluster a snapshot through one URL holds only that peer's shards: say which are missing."""
        try:
            cluster = self._client.collection_cluster_info(physical)
        except Exception:  # noqa: BLE001 - informational only
            return []
        local = {s.shard_id for s in cluster.local_shards}
        missing = sorted({s.shard_id for s in cluster.remote_shards} - local)
        if not missing:
            return []
        return [f"this snapshot holds peer {cluster.peer_id}'s shards only; shards {missing} live on other "
                "peers: set the peer URLs to snapshot every peer"]

    def list_snapshots(self) -> list[SnapshotInfo]:
        """Snapshots on the server for the current collection, joined with the recorded manifests."""
        if self._local:
            raise StoreError("snapshots are not supported by qdrant-client's local mode",
                             hint="use a Qdrant server (QDRANT_URL)")
        physical = self.physical_name()
        if physical is None:
            return []
        recorded = {r["name"]: SnapshotInfo.from_dict(r) for r in self._snapshot_records() if "name" in r}
        out: list[SnapshotInfo] = []
        for desc in self._call("list snapshots", self._client.list_snapshots, physical):
            known = recorded.get(desc.name)
            if known is None:
                known = SnapshotInfo(name=desc.name, collection=physical, points=None, hashes_digest=None,
                                     taken_at=desc.creation_time,
                                     peers=[PeerSnapshot("", desc.name, desc.size, desc.checksum,
                                                         desc.creation_time)])
            out.append(known)
        return sorted(out, key=lambda s: s.taken_at or "")

    def _location_for(self, collection: str, name_or_location: str) -> str:
        if re.match(r"^(https?|file)://", name_or_location):
            return name_or_location
        return f"file://{self.options.snapshots_dir.rstrip('/')}/{collection}/{name_or_location}"

    def restore_snapshot(self, name_or_location: str, *, verify: bool = True) -> SnapshotInfo:
        """Recover the collection from a snapshot (with priority=snapshot, so replicas do not sync
        back the current data), point the alias at it and check the point count and content hashes
        against what the snapshot held.

        `name_or_location` is a snapshot name (recovered from `snapshots_dir` on the node, on every
        peer for a recorded multi-peer snapshot) or a URL / file:// location."""
        if self._local:
            raise StoreError("snapshots are not supported by qdrant-client's local mode",
                             hint="use a Qdrant server (QDRANT_URL)")
        current = self.physical_name()
        records = self._snapshot_records() if current is not None else []
        recorded = next((SnapshotInfo.from_dict(r) for r in records
                         if r.get("name") == name_or_location
                         or any(p.get("name") == name_or_location for p in r.get("peers", []))), None)
        target = recorded.collection if recorded else current
        if target is None:
            base_name = name_or_location.split("/")[-1]
            match = re.match(rf"^({re.escape(self._name)}-\d{{8}}T\d{{12}}Z)-", base_name)
            target = match.group(1) if match else f"{self._name}-{_utc_stamp()}"
        plan: list[tuple[str, QdrantClient, bool, str]] = []
        if recorded and self.options.peer_urls and len(recorded.peers) > 1:
            by_peer = {p.peer: p for p in recorded.peers}
            for peer_url, client, owned in self._peer_clients():
                peer = by_peer.get(peer_url)
                if peer is None:
                    if owned:
                        client.close()
                    continue
                plan.append((peer_url, client, owned, self._location_for(target, peer.name)))
        else:
            client, owned = self._long_client()
            plan.append(("", client, owned, self._location_for(target, name_or_location)))
        checksum = None
        if recorded and len(plan) == 1:
            checksum = next((p.checksum for p in recorded.peers if p.name == name_or_location), None)
        for peer_url, client, owned, location in plan:
            try:
                self._call(f"recover snapshot on {peer_url or self.location}", client.recover_snapshot,
                           collection_name=target, location=location,
                           priority=models.SnapshotPriority.SNAPSHOT, checksum=checksum, wait=True,
                           retry=False)
            finally:
                if owned:
                    client.close()
        # Snapshots carry no aliases: point ours at the recovered collection.
        if current != target:
            actions: list[models.AliasOperations] = []
            if current is not None and current != self._name:
                actions.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=self._name)))
            actions.append(models.CreateAliasOperation(
                create_alias=models.CreateAlias(collection_name=target, alias_name=self._name)))
            self._call("switch alias", self._client.update_collection_aliases,
                       change_aliases_operations=actions)
            if current is not None:
                log.warning("alias %s moved from %s to the restored %s; %s was kept, drop it when done",
                            self._name, current, target, current)
        restored_meta = self._metadata() or {}
        embedded = restored_meta.get(MANIFEST_KEY) or {}
        expected = recorded or SnapshotInfo(name=name_or_location, collection=target,
                                            points=embedded.get("points"),
                                            hashes_digest=embedded.get("hashes_digest"),
                                            taken_at=embedded.get("taken_at"))
        # The restored metadata is the snapshot's; keep the records of snapshots taken since.
        if records:
            merged = {r["name"]: r for r in (restored_meta.get(SNAPSHOTS_KEY) or []) + records if "name" in r}
            self._update_metadata({SNAPSHOTS_KEY: list(merged.values())[-KEEP_SNAPSHOT_RECORDS:]})
        if verify:
            self._verify_restored(expected)
        return expected

    def _verify_restored(self, expected: SnapshotInfo) -> None:
        if expected.points is None or expected.hashes_digest is None:
            raise StoreError(f"restored '{self._name}' but cannot verify it: the snapshot has no manifest",
                             hint="it was not taken by keboola-vectorizer; check the point count by hand "
                                  "or restore with verify=False")
        hashes = self.content_hashes()
        if len(hashes) != expected.points:
            raise StoreError(f"restored '{self._name}' holds {len(hashes)} points; the snapshot held "
                             f"{expected.points}",
                             hint="restore the snapshot of every peer, or re-run the index to repair")
        if hashes_digest(hashes) != expected.hashes_digest:
            raise StoreError(f"restored '{self._name}' has other content hashes than the snapshot held",
                             hint="the snapshot or the restore is incomplete; re-run the index to repair")
