"""Physical collections behind the alias, and the one atomic alias switch.

`name` (default `keboola-metadata`) is an alias. The data lives in a physical collection
`<alias>-<UTC timestamp>`; `--rebuild` fills a new physical collection and switches the alias in one
`update_collection_aliases` call, so searches see the old or the new collection, never half.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import asdict
from typing import TYPE_CHECKING

from qdrant_client import models

from keboola_vectorizer.errors import StoreError
from keboola_vectorizer.store.plan import generation_stamp
from keboola_vectorizer.store.server.metadata import META_KEY, STATE_KEY, collection_info
from keboola_vectorizer.store.types import (
    DATETIME_FIELDS,
    DENSE_VECTOR,
    INTEGER_FIELDS,
    KEYWORD_FIELDS,
    SPARSE_VECTOR,
    CollectionMeta,
)

if TYPE_CHECKING:
    from keboola_vectorizer.store.server.store import ServerStore

log = logging.getLogger(__name__)

_DISTANCES = {
    "cosine": models.Distance.COSINE,
    "dot": models.Distance.DOT,
    "euclid": models.Distance.EUCLID,
    "manhattan": models.Distance.MANHATTAN,
}


def physical_pattern(alias: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(alias)}-\d{{8}}T\d{{12}}Z$")


def new_physical_name(base: str) -> str:
    return f"{base}-{generation_stamp()}"


def physical_name(store: ServerStore) -> str | None:
    """The physical collection behind `store.name` (the alias target), or None when missing."""
    aliases = store.caller.call("list aliases", store.client.get_aliases).aliases
    for alias in aliases:
        if alias.alias_name == store.name:
            return alias.collection_name
    exists = store.caller.call("check collection", store.client.collection_exists, store.name)
    return store.name if exists else None


def alias_actions(alias: str, target: str, *, replace: bool) -> list[models.AliasOperations]:
    """Delete (when `replace`) and create the alias in one request: Qdrant applies the list atomically."""
    actions: list[models.AliasOperations] = []
    if replace:
        actions.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias)))
    actions.append(models.CreateAliasOperation(
        create_alias=models.CreateAlias(collection_name=target, alias_name=alias)))
    return actions


def switch_alias(store: ServerStore, target: str, *, replace: bool) -> None:
    store.caller.call("switch alias", store.client.update_collection_aliases,
                      change_aliases_operations=alias_actions(store.name, target, replace=replace))


def create_physical(store: ServerStore, physical: str, meta: CollectionMeta) -> None:
    distance = _DISTANCES.get(meta.distance.lower())
    if distance is None:
        raise StoreError(f"unsupported distance '{meta.distance}'", hint=f"use one of {', '.join(_DISTANCES)}")
    opts = store.options
    hnsw = None
    if opts.hnsw_m is not None or opts.hnsw_ef_construct is not None:
        hnsw = models.HnswConfigDiff(m=opts.hnsw_m, ef_construct=opts.hnsw_ef_construct)
    create = functools.partial(
        store.caller.call, "create collection", store.client.create_collection,
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
        if collection_info(store, physical) is None:
            raise
    _create_payload_indexes(store, physical)
    # A server older than 1.16 accepts the request but drops the metadata: refuse early rather
    # than lose the embedder check.
    info = collection_info(store, physical)
    if info is None or not (info.config.metadata or {}).get(META_KEY):
        raise StoreError(f"Qdrant at {store.location} did not keep the collection metadata",
                         hint="upgrade Qdrant to 1.16 or newer")


def _create_payload_indexes(store: ServerStore, physical: str) -> None:
    schemas = ([(name, models.PayloadSchemaType.KEYWORD) for name in KEYWORD_FIELDS]
               + [(name, models.PayloadSchemaType.INTEGER) for name in INTEGER_FIELDS]
               + [(name, models.PayloadSchemaType.DATETIME) for name in DATETIME_FIELDS])
    for name, schema in schemas:
        # Called in local mode too (a no-op there) so the tests see the same requests.
        store.caller.call(f"create payload index {name}", store.client.create_payload_index,
                          collection_name=physical, field_name=name, field_schema=schema, wait=True)


def discard(store: ServerStore, physical: str) -> None:
    """Best-effort removal of a half-created collection (the original error matters more)."""
    try:
        store.caller.call("delete collection", store.client.delete_collection, physical)
    except StoreError as exc:
        log.warning("could not remove the half-created collection %s: %s", physical, exc.message)


def orphan_collections(store: ServerStore) -> list[str]:
    """Physical collections of this alias that it does not point at (left by a killed rebuild)."""
    pattern = physical_pattern(store.name)
    current = store.physical_name()
    names = [c.name for c in store.caller.call("list collections", store.client.get_collections).collections]
    return sorted(n for n in names if pattern.match(n) and n != current)


def drop_orphans(store: ServerStore) -> None:
    # Index runs hold a lock, so a leftover staging collection belongs to a run that died.
    for orphan in orphan_collections(store):
        log.warning("dropping %s, left by an interrupted rebuild", orphan)
        store.caller.call("delete collection", store.client.delete_collection, orphan)


def promote(store: ServerStore, staging_name: str, points: int) -> None:
    """Point the alias at the staging collection, then drop the one it replaced."""
    old = store.physical_name()
    if old == staging_name:
        return
    replace = old is not None
    if old == store.name:
        # A plain collection holds the alias's name (made by hand or another tool): it has to
        # go before the alias can exist, so this one switch is not atomic.
        log.warning("replacing plain collection %s by an alias; searches fail briefly", old)
        store.caller.call("delete collection", store.client.delete_collection, old)
        old, replace = None, False
    switch_alias(store, staging_name, replace=replace)
    log.info("alias %s now points at %s (%d points)", store.name, staging_name, points)
    if old is not None:
        store.caller.call("delete collection", store.client.delete_collection, old)


def drop(store: ServerStore) -> None:
    physical = store.physical_name()
    if physical is None:
        return
    if physical != store.name:
        store.caller.call("delete alias", store.client.update_collection_aliases,
                          change_aliases_operations=[models.DeleteAliasOperation(
                              delete_alias=models.DeleteAlias(alias_name=store.name))])
    store.caller.call("delete collection", store.client.delete_collection, physical)
