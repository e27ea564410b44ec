"""What the server backend keeps in a collection's own `metadata` (Qdrant >= 1.16; top-level keys
are merged on update, so each key below is replaced whole):

    keboola_vectorizer                    CollectionMeta (embedder id, dimension, distance, ...)
    keboola_vectorizer_state              the small JSON state of `read_state`/`write_state`
    keboola_vectorizer_snapshot_manifest  point count + digest of the content hashes, written just
                                          before a snapshot so that every snapshot carries its own
    keboola_vectorizer_snapshots          the last snapshots taken (name, peers, count, digest)

Keeping them in the collection means no extra collection or reserved point that would show up in
counts and searches, and the metadata follows the collection through snapshots and alias switches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qdrant_client import models

from keboola_vectorizer.errors import StoreError
from keboola_vectorizer.store.plan import REBUILD_HINT
from keboola_vectorizer.store.types import CollectionMeta

if TYPE_CHECKING:
    from keboola_vectorizer.store.server.store import ServerStore

META_KEY = "keboola_vectorizer"
STATE_KEY = "keboola_vectorizer_state"
MANIFEST_KEY = "keboola_vectorizer_snapshot_manifest"
SNAPSHOTS_KEY = "keboola_vectorizer_snapshots"
KEEP_SNAPSHOT_RECORDS = 20


def collection_info(store: ServerStore, collection: str | None = None) -> models.CollectionInfo | None:
    # Collection-level calls go to the physical name: points APIs resolve aliases everywhere,
    # collection management is not guaranteed to on every server version.
    target = collection or store.physical_name()
    if target is None:
        return None
    return store.caller.call("get collection", store.client.get_collection, target, missing_ok=True)


def read_metadata(store: ServerStore) -> dict[str, Any] | None:
    info = collection_info(store)
    if info is None:
        return None
    return dict(info.config.metadata or {})


def meta_from(store: ServerStore, metadata: dict[str, Any]) -> CollectionMeta:
    raw = metadata.get(META_KEY)
    if not isinstance(raw, dict):
        raise StoreError(f"collection '{store.name}' at {store.location} has no keboola-vectorizer "
                         "build metadata (created by another tool, or a Qdrant server older than "
                         "1.16 which drops collection metadata)", hint=REBUILD_HINT)
    return CollectionMeta.from_dict(raw)


def update_metadata(store: ServerStore, values: dict[str, Any], collection: str | None = None) -> None:
    target = collection or store.physical_name()
    if target is None or collection_info(store, target) is None:
        raise StoreError(f"collection '{collection or store.name}' does not exist at {store.location}",
                         hint="run `keboola-vectorizer index` first")
    # Top-level keys are merged by Qdrant, so each key is replaced whole.
    store.caller.call("update collection metadata", store.client.update_collection,
                      collection_name=target, metadata=values)


def snapshot_records(store: ServerStore) -> list[dict[str, Any]]:
    records = (read_metadata(store) or {}).get(SNAPSHOTS_KEY)
    return list(records) if isinstance(records, list) else []
